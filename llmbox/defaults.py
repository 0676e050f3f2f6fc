"""Every default of ``llmbox bench``, in one dependency-free module.

The command's help text and the core both read these, so they cannot drift apart; "was this
option given?" is answered by ``None`` (not given), never by comparing with a default.
"""

from __future__ import annotations

RUNS = 5
WARMUP = 1
SEED = 42
TEMPERATURE = 0.0
PROMPT_TOKENS = 512
MAX_TOKENS = 128
CONCURRENCY = 1
API = "chat"
BACKEND = "ollama"
FORMAT = "table"
ORDER = "sequential"
COOLDOWN_S = 0.0

#: ``--baseline`` without ``--max-regression`` gates on this regression (percent).
MAX_REGRESSION_PCT = 10.0

#: A sample whose prompt was more than this share served from the server's cache is excluded
#: from prefill statistics (its prefill rate measures the cache, not the model).
CACHED_SHARE_LIMIT = 0.5

#: Significance level of "faster/slower" verdicts and comparisons (Welch's t-test, two-sided).
ALPHA = 0.05

#: Outlier warnings: robust z-score (median/MAD) beyond this, and at least this far from the
#: median in relative terms (a 0.1 % wobble around a tight median is not an outlier).
OUTLIER_Z = 3.5
OUTLIER_MIN_REL = 0.05

#: Embedded engine context per slot when --ctx-size is not given.
EMBEDDED_CTX_SIZE = 4096

#: Open-loop load without --max-concurrency: connections the client keeps ready.
OPEN_LOOP_CONNECTIONS = 64

#: --sweep: requests in flight for the throughput phase (unless --max-concurrency), and how many
#: open-loop rates are tried between the one-at-a-time rate and that throughput.
SWEEP_CONCURRENCY = 16
SWEEP_RATES = 6

# -- time limits of every server command (``--timeout`` replaces them; see client.Timeouts) --------

#: Seconds to wait for a TCP connection.
CONNECT_TIMEOUT_S = 10.0
#: Seconds to wait for a metadata answer (version, tags, ps, show, delete).
REQUEST_TIMEOUT_S = 30.0
#: Generations, loads and pulls have no overall limit (a generation's first byte only comes once
#: the model is loaded, which can take minutes), only this limit on a silence in their answer.
STREAM_IDLE_TIMEOUT_S = 600.0
#: ``llmbox doctor`` fails fast: its connect and metadata limits.
QUICK_TIMEOUT_S = 3.0

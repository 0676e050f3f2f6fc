"""Every default of ``llmbox fleet``, in one dependency-free module (help text and core read it)."""

from __future__ import annotations

#: ``--inventory`` when not given.
INVENTORY = "fleet.yaml"
#: ``fleet status``: hosts asked at once, and seconds a host may take for all its answers.
STATUS_PARALLEL = 64
STATUS_TIMEOUT_S = 10.0
#: ``fleet sync``: hosts synced at once (a rolling update).
SYNC_PARALLEL = 4
#: ``fleet bench``: hosts benchmarked at once (never two runs on one host).
BENCH_PARALLEL = 16
#: Outliers: a host slower than this share of the median of its peers with the same chip
#: (decode tokens/s; end-to-end time the other way round), with at least this many peers.
OUTLIER_RATIO = 0.75
OUTLIER_MIN_PEERS = 2

"""``keep_alive`` values, as Ollama reads them."""

from __future__ import annotations

import math
import re

_GO_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")
_GO_UNIT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
#: Go's longest duration is ~292 years; a longer keep_alive overflows on the server.
MAX_KEEP_ALIVE_S = 200 * 365 * 86400
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value: str | float) -> str | float:
    """Check a ``keep_alive``: seconds as a number, or a Go duration such as ``10m`` or ``1h30m``.

    Negative keeps the model loaded forever, ``0`` unloads at once. A bare number in a string is
    turned into seconds, because Ollama rejects a duration string without a unit.

    >>> parse_keep_alive("10m"), parse_keep_alive("-1"), parse_keep_alive(300)
    ('10m', -1.0, 300)
    """
    too_long = f"invalid keep_alive {value!r}: use -1 to keep a model loaded forever"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value > MAX_KEEP_ALIVE_S:
            raise ValueError(too_long)
        return value
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number) or number > MAX_KEEP_ALIVE_S:
            raise ValueError(too_long)
        return number
    if not _GO_DURATION.match(text):
        raise ValueError(
            f"invalid keep_alive {value!r}: use seconds (300, -1 = forever) or a duration "
            "such as 30s, 10m, 1h30m"
        )
    if keep_alive_seconds(text) > MAX_KEEP_ALIVE_S:
        raise ValueError(too_long)
    return text


def keep_alive_seconds(value: str | float) -> float:
    """Seconds of a value ``parse_keep_alive`` accepted (negative: forever).

    >>> keep_alive_seconds("1h30m"), keep_alive_seconds("0s"), keep_alive_seconds("-5m")
    (5400.0, 0.0, -300.0)
    """
    if isinstance(value, (int, float)):
        return float(value)
    sign = -1.0 if value.strip().startswith("-") else 1.0
    return sign * sum(float(n) * _UNIT_S[u] for n, u in _GO_UNIT.findall(value))

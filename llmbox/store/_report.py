"""What users hand the store: report files validated at the edge, and the filters of ``history``
and ``report`` (``--since``/``--until``, ``--tag``, ``--backend``) checked and parsed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from llmbox.errors import UsageError

if TYPE_CHECKING:
    from llmbox.results import BenchReport

REPORT_HINT = "give a file written by llmbox bench -f json (or --output json:PATH)"


def validate(data: Any, source: str) -> BenchReport:
    """Check ``data`` against the report model; UsageError naming the first bad field."""
    from llmbox.results import BenchReport

    return BenchReport.parse(data, source)


def canonical_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, *, now: datetime | None = None) -> str:
    """A ``--since``/``--until`` value as a stored timestamp: an ISO date or date-time, or an age
    such as ``90m``, ``12h``, ``7d``, ``2w``; also ``today`` and ``yesterday`` (UTC).

    >>> t = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    >>> parse_when("7d", now=t), parse_when("2026-11-01", now=t)
    ('2026-11-23T12:00:00.000000Z', '2026-11-01T00:00:00.000000Z')
    """
    from llmbox.store._store import parse_time, stamp  # not at import: parse_tags stays light

    now = now or datetime.now(timezone.utc)
    value = text.strip().lower()
    midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if value == "today":
        return stamp(midnight)
    if value == "yesterday":
        return stamp(midnight - timedelta(days=1))
    try:
        if value[:-1].isdigit() and value[-1:] in _UNITS:
            return stamp(now - timedelta(seconds=int(value[:-1]) * _UNITS[value[-1]]))
        return stamp(parse_time(text))
    except (ValueError, OverflowError):  # an age reaching back before year 1, a bad date
        raise UsageError(
            f"not a date or age: {text!r}",
            hint="use a date like 2026-11-01, a date-time like 2026-11-01T09:30, or an age "
            "like 12h, 7d, 2w",
        ) from None


def parse_window(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """``--since``/``--until`` parsed; a window that ends before it starts is a usage error (it
    would match nothing, silently).

    >>> parse_window("2026-11-01", None)
    ('2026-11-01T00:00:00.000000Z', None)
    """
    start = parse_when(since) if since else None
    end = parse_when(until) if until else None
    if start is not None and end is not None and end <= start:
        raise UsageError(
            f"--until {until} is not after --since {since}: no run can match",
            hint="--since is the start, --until the end, e.g. --since 14d --until 7d",
        )
    return start, end


def parse_tags(specs: Sequence[str]) -> dict[str, str]:
    """``["git=abc123", "ci=nightly"]`` -> a dict; a later KEY replaces an earlier one.

    >>> parse_tags(["git=abc", "note=after driver update"])
    {'git': 'abc', 'note': 'after driver update'}
    """
    tags: dict[str, str] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--tag {spec!r}: expected KEY=VALUE", hint="e.g. --tag git=$(git rev-parse HEAD)"
            )
        tags[key.strip()] = value.strip()
    return tags


def parse_tag_filters(specs: Sequence[str]) -> tuple[tuple[str, str | None], ...]:
    """``KEY=VALUE`` matches that value; a bare ``KEY`` matches any run carrying the tag."""
    out: list[tuple[str, str | None]] = []
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not key.strip():
            raise UsageError(f"--tag {spec!r}: expected KEY or KEY=VALUE", hint="e.g. --tag ci")
        out.append((key.strip(), value.strip() if sep else None))
    return tuple(out)


def check_backends(names: Sequence[str]) -> tuple[str, ...]:
    """``--backend`` filter values, each one llmbox knows (a typo would match no run, silently)."""
    if not names:
        return ()
    from llmbox.backends.factory import BACKENDS

    for name in names:
        if name not in BACKENDS:
            raise UsageError(f"unknown backend {name!r}", hint=f"use {', '.join(BACKENDS)}")
    return tuple(names)

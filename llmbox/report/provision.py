"""Tables for the provisioning commands (``list``, ``ps``, ``show``, ``pull``, ``rm``, ``sync``).

Pure functions: results in, text out. Sizes are human here; JSON keeps raw numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from llmbox.report.terminal import human_bytes, render_table

if TYPE_CHECKING:
    from llmbox.provision import (
        InstalledModel,
        ModelChange,
        ModelFacts,
        PullResult,
        RunningInfo,
        SyncPlan,
        SyncReport,
    )

_FRACTION = re.compile(r"(\.\d{6})\d+")
#: ``expires_at`` beyond this many years means ``keep_alive < 0``: loaded until the server stops.
_FOREVER_YEARS = 100


def parse_time(value: str) -> datetime | None:
    """Ollama's RFC 3339 timestamps (nanoseconds, ``Z`` or an offset), on any Python ≥ 3.10.

    >>> parse_time("2025-05-04T17:37:44.706015396-07:00").isoformat()
    '2025-05-04T17:37:44.706015-07:00'
    >>> parse_time("0001-01-01T00:00:00Z") is None
    True
    """
    if not value or value.startswith("0001-01-01"):
        return None
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _span(seconds: float) -> str:
    """``ollama``-style durations: ``42 seconds``, ``5 minutes``, ``3 days``.

    >>> _span(1), _span(125), _span(3 * 86400)
    ('1 second', '2 minutes', '3 days')
    """
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
                       ("day", 86400), ("hour", 3600), ("minute", 60)):  # fmt: skip
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    n = max(1, int(seconds))
    return f"{n} second{'s' if n != 1 else ''}"


def ago(value: str, now: datetime) -> str:
    """``3 days ago`` for a past timestamp (``modified_at``)."""
    when = parse_time(value)
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    return "just now" if seconds < 1 else f"{_span(seconds)} ago"


def until(value: str, now: datetime) -> str:
    """``ollama ps``'s UNTIL: ``4 minutes from now``, ``Forever``, ``Stopping...``."""
    when = parse_time(value)
    if when is None:
        return "-"
    seconds = (when - now).total_seconds()
    if seconds > _FOREVER_YEARS * 365 * 86400:
        return "Forever"
    if seconds <= 0:
        return "Stopping..."
    return f"{_span(seconds)} from now"


def format_count(n: int | None) -> str:
    """Parameter counts the way Ollama writes ``parameter_size``.

    >>> format_count(3212749888), format_count(8030261248), format_count(134515008)
    ('3.2B', '8.0B', '135M')
    """
    if n is None:
        return "-"
    if n >= 1_000_000_000:
        return f"{n / 1e9:.1f}B"
    if n >= 1_000_000:
        return f"{n / 1e6:.0f}M"
    if n >= 1_000:
        return f"{n / 1e3:.0f}K"
    return str(n)


def _opt(value: object) -> str:
    if value is None or value in ("", []):
        return "-"
    if isinstance(value, list):
        low, high = min(value), max(value)
        return str(low) if low == high else f"{low}–{high} (per layer)"
    return str(value)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def render_models(models: Sequence[InstalledModel], now: datetime | None = None) -> str:
    now = now or _now()
    rows = [
        (m.name, m.id, human_bytes(m.size), m.parameter_size or "-", m.quantization or "-",
         ago(m.modified_at, now))
        for m in models
    ]  # fmt: skip
    columns = ("NAME", "ID", "SIZE", "PARAMETERS", "QUANTIZATION", "MODIFIED")
    return render_table(columns, rows, right_align=("SIZE", "PARAMETERS"))


def render_running(models: Sequence[RunningInfo], now: datetime | None = None) -> str:
    now = now or _now()
    rows = [
        (m.name, m.digest[:12], human_bytes(m.size), m.processor, _opt(m.context_length),
         until(m.expires_at, now))
        for m in models
    ]  # fmt: skip
    columns = ("NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL")
    return render_table(columns, rows, right_align=("SIZE", "CONTEXT"))


def render_facts(facts: ModelFacts) -> str:
    params = facts.parameter_size or format_count(facts.parameter_count)
    if facts.parameter_count is not None and facts.parameter_size:
        params = f"{facts.parameter_size} ({facts.parameter_count:,})"
    rows = [
        ("model", facts.name),
        ("architecture", facts.architecture or "-"),
        ("parameters", params),
        ("context length", _opt(facts.context_length)),
        ("embedding length", _opt(facts.embedding_length)),
        ("layers", _opt(facts.block_count)),
        ("attention heads", _opt(facts.head_count)),
        ("KV heads", _opt(facts.head_count_kv)),
        ("quantization", facts.quantization or "-"),
        ("format", facts.format or "-"),
        ("capabilities", ", ".join(facts.capabilities) or "-"),
    ]
    width = max(len(k) for k, _ in rows) + 2
    return "".join(f"{k.ljust(width)}{v}\n" for k, v in rows)


def render_pull_results(results: Sequence[PullResult]) -> str:
    rows = [
        (r.model, r.status, human_bytes(r.size) if r.ok else "-", f"{r.seconds:.1f}s",
         r.digest[:12] if r.ok else str(r.error or ""))
        for r in results
    ]  # fmt: skip
    columns = ("MODEL", "STATUS", "SIZE", "TIME", "ID / ERROR")
    return render_table(columns, rows, right_align=("SIZE", "TIME"))


def render_changes(changes: Sequence[ModelChange], now: datetime | None = None) -> str:
    """One line per model: ``deleted llama3.2`` / ``loaded llama3.2  100% GPU  ...``."""
    now = now or _now()
    lines = []
    for c in changes:
        if not c.ok:
            lines.append(f"failed    {c.model}: {c.error}")
            continue
        line = f"{c.action:<9} {c.model}"
        if c.action == "deleted" and c.unloaded:
            line += "  (unloaded first)"
        if c.action == "loaded" and c.running is None:
            line += "  (not in memory any more: its keep-alive ran out)"
        if c.action == "loaded" and c.running is not None:
            r = c.running
            ctx = f"  ctx {r.context_length}" if r.context_length else ""
            line += f"  {human_bytes(r.size)}  {r.processor}{ctx}  until {until(r.expires_at, now)}"
        if c.action == "unloaded" and c.running is not None:
            line += "  (the server is still evicting it)"
        elif c.action == "unloaded" and not c.unloaded:
            line += "  (it was not loaded)"
        lines.append(line)
    return "\n".join(lines) + "\n"


def render_plan(plan: SyncPlan) -> str:
    rows = [(model, action) for model, action in plan.rows()]
    return render_table(("MODEL", "ACTION"), rows)


def render_sync(report: SyncReport) -> str:
    return render_table(("MODEL", "ACTION", "RESULT"), report.rows())

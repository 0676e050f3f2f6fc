"""Views of a fleet: status, sync and benchmark tables, and the fleet section of an HTML report.

Pure functions: fleet results in, text out. Sizes are human here; JSON keeps raw numbers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from llmbox.report.terminal import human_bytes, render_table

if TYPE_CHECKING:
    from llmbox.fleet import FleetBench, FleetStatus, HostBench, Inventory
    from llmbox.fleet._sync import FleetSync


def _state(ok: bool, reachable: bool) -> str:
    return "ok" if ok else ("needs attention" if reachable else "unreachable")


def render_status(status: FleetStatus) -> str:
    """One row per host, then what to fix on each host that needs it."""
    rows = []
    for s in status.hosts:
        loaded = ", ".join(f"{m.name} ({m.processor})" for m in s.loaded) or "-"
        free = human_bytes(s.vram_free) if s.vram_free is not None else "-"
        rows.append(
            (
                s.host.name,
                ",".join(s.host.groups) or "-",
                s.version or "-",
                str(len(s.installed)) if s.answered else "-",
                loaded if s.answered else "-",
                free if s.answered else "-",
                _state(s.healthy, s.answered),
            )
        )
    table = render_table(
        ("HOST", "GROUPS", "VERSION", "MODELS", "LOADED (CPU/GPU)", "VRAM FREE", "STATE"),
        rows,
        right_align=("MODELS", "VRAM FREE"),
    )
    fixes = []
    for s in status.hosts:
        for note in s.deviations:
            fixes.append(f"{s.host.name}: differs: {note}")
        for p in s.problems:
            fixes.append(f"{s.host.name}: {p.what}\n  fix: {p.advice}")
    n = status.summary()
    tail = (
        f"{n['hosts']} host(s): {n['healthy']} healthy, {n['unreachable']} unreachable, "
        f"{n['deviating']} differ from their group ({status.elapsed_s:.2f} s)"
    )
    return table + ("\n" + "\n".join(fixes) + "\n" if fixes else "") + "\n" + tail + "\n"


def render_fleet_sync(fleet: FleetSync) -> str:
    """One row per host: what it pulls and removes (the plan) or what happened."""
    rows = []
    for h in fleet.hosts:
        plan = h.plan
        pull = ", ".join(plan.to_pull) if plan and plan.to_pull else "-"
        remove = ", ".join(plan.to_remove) if plan and plan.to_remove else "-"
        note = h.reason if (h.failed or h.skipped) else ""
        if h.report is not None and h.report.kept:
            note = f"kept {', '.join(h.report.kept)}: a listed model is missing"
        rows.append((h.host.name, h.state, pull, remove, note or "-"))
    table = render_table(("HOST", "STATE", "PULL", "REMOVE", "NOTE"), rows)
    counts = ", ".join(f"{v} {k}" for k, v in fleet.summary().items() if k != "hosts")
    head = "plan (dry run): " if fleet.dry_run else ""
    return table + f"\n{head}{len(fleet.hosts)} host(s): {counts}\n"


def _cell(h: HostBench, model: str, case: str, outlying: set[tuple[str, str, str]]) -> str:
    result = h.result(model, case)
    if result is None:
        return "-"
    parts = []
    if (s := result.summary.get("decode_tps")) is not None:
        parts.append(f"{s.mean:.1f} t/s")
    if (s := result.summary.get("e2e_s")) is not None:
        parts.append(f"{s.mean:.2f} s")
    text = " ".join(parts) or "no data"
    if (h.host.name, model, case) in outlying:
        text += " !"
    if any(g.model == result.model and g.case == case for g in h.failed_gates):
        text += " ✗"
    return text


def render_fleet_bench(fleet: FleetBench) -> str:
    from llmbox.fleet._run import error_text

    """Hosts × models (decode tokens/s and end-to-end mean), ``!`` an outlier, ``✗`` a failed
    gate; then the outliers with their likely cause, and the hosts that failed."""
    cells = fleet.cells
    outlying = {(o.host, o.model, o.case) for o in fleet.outliers}
    several = len({c for _, c in cells}) > 1
    columns = ["HOST", "CHIP", *(f"{m} {c}" if several else m for m, c in cells), "STATE"]
    rows = [
        [h.host.name, h.host.chip or "-", *(_cell(h, m, c, outlying) for m, c in cells), h.state]
        for h in fleet.hosts
    ]
    out = [render_table(columns, rows)]
    if fleet.outliers:
        out.append("Outliers (slower than their peers with the same chip):")
        for o in fleet.outliers:
            unit = "t/s" if o.metric == "decode_tps" else "s"
            out.append(
                f"  {o.host}  {o.model} {o.case}: {o.metric} {o.value:.3g} {unit} vs "
                f"{o.peer_median:.3g} {unit} on {len(o.peers)} {o.chip} peer(s), "
                f"{o.ratio:.1f}x slower; likely: {'; '.join(o.causes)}"
            )
    if fleet.gate_failures:
        out.append("Gates failed on: " + ", ".join(h.host.name for h in fleet.gate_failures))
        for h in fleet.gate_failures:
            for g in h.failed_gates:
                out.append(f"  {h.host.name}  {g.model} {g.case}: {g.message}")
    if fleet.failed:
        out.append("Failed: " + ", ".join(h.host.name for h in fleet.failed))
        for h in fleet.failed:
            out.append(f"  {h.host.name}: {error_text(h.error) if h.error else h.state}")
    return "\n".join(out) + "\n"


def render_hosts(inventory: Inventory, hosts: Sequence[object]) -> str:
    """The inventory's hosts as the selection sees them (no server is asked)."""
    rows = []
    for h in inventory.hosts:
        if h not in hosts:
            continue
        labels = ",".join(f"{k}={v}" for k, v in h.labels.items()) or "-"
        facts = " ".join(
            x for x in (h.chip, f"{h.memory_gb:g} GB" if h.memory_gb else None, h.power) if x
        )
        models = ", ".join(m.name for m in h.models) or "-"
        rows.append((h.name, h.url, ",".join(h.groups) or "-", labels, facts or "-", models))
    return render_table(("HOST", "URL", "GROUPS", "LABELS", "FACTS", "MODELS"), rows)


def fleet_html(fleet: FleetBench) -> str:
    """The fleet section of an HTML report: hosts × models with outliers and failed gates
    highlighted, then the outliers' likely causes. A fragment (no <html>) that the HTML report
    (``llmbox report``) can place as it places its other sections."""
    cells = fleet.cells
    outlying = {(o.host, o.model, o.case): o for o in fleet.outliers}
    head = "".join(f"<th>{html.escape(f'{m} · {c}')}</th>" for m, c in cells)
    body = []
    for h in fleet.hosts:
        tds = []
        for m, c in cells:
            text = html.escape(_cell(h, m, c, set()))
            cls = []
            if (h.host.name, m, c) in outlying:
                o = outlying[(h.host.name, m, c)]
                cls.append("outlier")
                text += f"<br><small>{html.escape('; '.join(o.causes))}</small>"
            result = h.result(m, c)
            if result is not None and any(g.model == result.model for g in h.failed_gates):
                cls.append("gate-failed")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            tds.append(f"<td{attr}>{text}</td>")
        body.append(
            f"<tr><th>{html.escape(h.host.name)}</th><td>{html.escape(h.host.chip or '-')}</td>"
            + "".join(tds)
            + f"<td>{html.escape(h.state)}</td></tr>"
        )
    return (
        '<section class="fleet"><h2>Fleet</h2>'
        "<style>.fleet .outlier{background:#fde2c8}.fleet .gate-failed{color:#b00020}</style>"
        f"<table><thead><tr><th>host</th><th>chip</th>{head}<th>state</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></section>"
    )

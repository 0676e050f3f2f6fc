"""``llmbox cost`` as text: the figures, the assumptions with their origins, the verdict."""

from __future__ import annotations

from llmbox.cost.model import CostResult, Given, input_ratio, tokens, usd


def _origin(g: Given) -> str:
    return f"{g.origin}: {g.detail}" if g.detail else g.origin


def _money(x: float | None) -> str:
    return usd(x) if x is not None else "n/a"


def render_cost(res: CostResult, label: str) -> str:
    inp, s = res.inputs, res.inputs.speed
    api = inp.api
    lines = [f"Cost: {label} vs {api.name}", ""]
    head = ("", "local energy", "local energy+hw", api.name)
    rows = [
        (
            "USD per M input tokens",
            usd(res.energy_usd_per_mtok_input),
            _money(res.usd_per_mtok_input),
            usd(res.api_usd_per_mtok_input),
        ),
        (
            "USD per M output tokens",
            usd(res.energy_usd_per_mtok_output),
            _money(res.usd_per_mtok_output),
            usd(res.api_usd_per_mtok_output),
        ),
    ]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(4)]
    for row in (head, *rows):
        lines.append(
            "  "
            + row[0].ljust(widths[0])
            + "".join("  " + cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True))
        )
    lines.append(
        f"  energy: {res.joules_per_output_token:.3g} J per output token, "
        f"{res.joules_per_input_token:.3g} J per input token"
    )
    if (a := res.per_answer) is not None:
        lines += ["", f"Per answer ({a.input_tokens:.0f} tokens in, {a.output_tokens:.0f} out):"]
        lines.append(
            f"  local {_money(a.local_usd)} (energy {usd(a.local_energy_usd)})   "
            f"{api.name} {usd(a.api_usd)}"
        )
        if a.thinking_tokens:
            lines.append(
                f"  thinking: {a.thinking_tokens:.0f} of the {a.output_tokens:.0f} output tokens "
                f"({s.thinking_share:.0%}), priced as output: {usd(a.api_thinking_usd)} of the "
                f"API's answer, {_money(a.local_thinking_usd)} of the local one"
            )
        else:
            lines.append("  thinking: none measured")
    if (m := res.monthly) is not None and inp.usage is not None:
        u = inp.usage
        lines += [
            "",
            f"At {tokens(u.total)} tokens/day ({tokens(u.input_per_day)} in + "
            f"{tokens(u.output_per_day)} out; {u.detail}):",
        ]
        hw = f" + hardware {usd(m.local_hardware_usd)}" if m.local_hardware_usd is not None else ""
        lines.append(
            f"  per month: local {_money(m.local_usd)} (energy {usd(m.local_energy_usd)}{hw}); "
            f"{api.name} {usd(m.api_usd)}"
            + (f" (thinking {usd(m.api_thinking_usd)})" if m.api_thinking_usd else "")
        )
        hours = inp.hours_per_day.value or 0
        lines.append(f"  busy: {m.busy_hours_per_day:.1f} h/day of the {hours:g} h available")
    cap = res.capacity_output_per_day * (1 + input_ratio(inp))
    be = res.breakeven_tokens_per_day
    lines += ["", f"Break-even: {tokens(be) + ' tokens/day' if be is not None else 'none'}"]
    lines[-1] += f" (this machine serves at most {tokens(cap)}/day)"
    if res.payback_months is not None:
        lines.append(f"Payback: {res.payback_months:.1f} months at the stated usage")
    lines += ["", "Assumptions:"]
    conc = f", {s.concurrency} requests at once" if s.concurrency > 1 else ""
    in_tps = f", {s.input_tps:.4g} input tok/s" if s.input_tps else ""
    lines.append(
        f"  speed        {s.output_tps:.4g} output tok/s{in_tps}{conc} — {s.origin}: {s.detail}"
    )
    lines.append(f"  power        {inp.watts.value:.4g} W — {_origin(inp.watts)}")
    lines.append(f"  electricity  ${inp.kwh_price.value:g}/kWh — {_origin(inp.kwh_price)}")
    hp = inp.hardware_price
    price = usd(hp.value) if hp.value is not None else "missing"
    lines.append(
        f"  hardware     {price} — {_origin(hp)}; over {inp.amortize_years.value:g} years "
        f"({inp.amortize_years.origin}) of {inp.hours_per_day.value:g} busy h/day "
        f"({inp.hours_per_day.origin})"
    )
    cached = f" / {usd(api.cached_input)} cached" if api.cached_input is not None else ""
    when = f", {api.date.isoformat()}" if api.date else ""
    src = f", {api.source}" if api.source else ""
    lines.append(
        f"  API price    {api.name}: {usd(api.input)} in{cached} / {usd(api.output)} out per M"
        f" ({api.origin}{when}{src})"
    )
    if inp.cached_share:
        lines.append(f"  API cache    {inp.cached_share:.0%} of input tokens at the cached price")
    for note in res.notes:
        lines.append(f"  note: {note}")
    lines += ["", f"Verdict: {res.verdict}"]
    return "\n".join(lines) + "\n"

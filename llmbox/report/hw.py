"""Text renderings of hardware estimates, the chip catalog and calibrations (strings only)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmbox.hw.calibrate import Calibration, Scaled
    from llmbox.hw.chips import Catalog, Chip
    from llmbox.hw.estimate import Estimate
    from llmbox.hw.target import Target

GIB = float(2**30)
VERDICTS = {
    "fits": "fits on the GPU",
    "partial": "partial offload",
    "cpu": "runs on the CPU (fits in RAM)",
    "does-not-fit": "does not fit",
}


def _s(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _tps(value: float) -> str:
    return f"{value:,.1f}" if math.isfinite(value) else "?"


def verdict_text(est: Estimate) -> str:
    m = est.memory
    text = VERDICTS[m.verdict]
    if m.verdict in ("partial", "does-not-fit") and est.chip.kind != "cpu":
        text += f": {m.processor}"
    return text


def _gib(value: float) -> str:
    return f"{value / GIB:.2f} GiB"


def _band(band: tuple[float, float] | None) -> str:
    return f"  p10-p90 {band[0]:.0f}-{band[1]:.0f}" if band else ""


def render_estimate(est: Estimate) -> str:
    model, w, m = est.model, est.workload, est.memory
    params = f"{model.params / 1e9:.2f}B params"
    if model.active_params:
        params += f", {model.active / 1e9:.1f}B active"
    lines = [
        f"{model.name} ({model.quant}, {params}, {model.bits_per_weight:.2f} bits/weight)",
        f"on {est.chip.name} [{est.chip.id}, {est.family.name}]",
        "",
        f"  prefill  {w.prompt_tokens:>6} tokens  {_tps(est.prefill_tps):>9} tokens/s  "
        f"{_s(est.prefill_s):>8}{_band(est.prefill_band)}",
    ]
    if w.images:
        lines.append(
            f"  images   {w.images:>6}         vision encoder         {_s(est.image_s):>8}"
        )
    lines += [
        f"  decode   {w.gen_tokens:>6} tokens  {_tps(est.decode_tps):>9} tokens/s  "
        f"{_s(est.decode_s):>8}{_band(est.decode_band)}",
        f"  TTFT {_s(est.ttft_s)}   total {_s(est.e2e_s)}   runner {est.runner}",
        "",
        f"  memory   weights {_gib(m.weights_bytes)}"
        + (f" + vision {_gib(m.vision_bytes)}" if m.vision_bytes else "")
        + f" + KV cache {_gib(m.kv_bytes)} ({m.context} tokens"
        + (f" x {m.parallel}" if m.parallel > 1 else "")
        + (f", {m.kv_cache}" if m.kv_cache != "f16" else "")
        + f") + graph/buffers {_gib(m.overhead_bytes)}",
    ]
    if est.chip.kind == "cpu":
        lines.append(
            f"           {_gib(m.total_bytes)} in a {m.memory_gb:g} GB machine"
            f" -> {verdict_text(est)}"
        )
    else:
        lines.append(
            f"           GPU may use {_gib(m.gpu_budget_bytes)} of "
            + (f"{len(m.split)} x " if m.split else "")
            + f"{m.memory_gb:g} GB -> {verdict_text(est)}"
        )
        split = f", split {'/'.join(map(str, m.split))}" if m.split else ""
        lines.append(
            f"  ollama ps  SIZE {m.total_bytes / GIB:.1f} GiB  PROCESSOR {m.processor}  "
            f"(layers {m.layers_on_gpu + int(m.output_on_gpu)}/{m.layers + 1} on the GPU{split})"
        )
    if est.decode_band:
        lines.append(
            f"  band: p10-p90 of {est.band_rows} published measurements of {est.chip.group} "
            f"chips not fitted on (docs/hw-estimate.md, Validation)"
        )
    for note in est.notes:
        lines.append(f"  note: {note}")
    return "".join(_fit(line) + "\n" for line in lines)


def _fit(line: str) -> str:
    """Wrap a long line at spaces to the table width (COLUMNS / the terminal), continuing under
    its own indent."""
    import textwrap

    from llmbox.report.output import table_width

    width = table_width()
    if width is None or len(line) <= width:
        return line
    indent = " " * (len(line) - len(line.lstrip()) + 2)
    return "\n".join(
        textwrap.wrap(line, width=width, subsequent_indent=indent, break_long_words=False)
    )


def render_compare(estimates: Sequence[Estimate]) -> str:
    from llmbox.report.terminal import render_table

    base = estimates[0]
    columns = [
        "chip",
        "memory",
        "prefill t/s",
        "decode t/s (p10-p90)",
        "TTFT",
        "total",
        "speed-up",
        "fit",
    ]
    with_cost = any(e.chip.launch_price_usd for e in estimates)
    if with_cost:
        columns.insert(-1, "price")
    rows = []
    for e in estimates:
        ratio = base.e2e_s / e.e2e_s if e.e2e_s and math.isfinite(e.e2e_s) else float("nan")
        rows.append(
            [
                e.chip.id,
                f"{e.memory.memory_gb:g} GB",
                _tps(e.prefill_tps),
                _tps(e.decode_tps)
                + (f" ({e.decode_band[0]:.0f}-{e.decode_band[1]:.0f})" if e.decode_band else ""),
                _s(e.ttft_s),
                _s(e.e2e_s),
                "1.00x (base)" if e is base else f"{ratio:.2f}x",
                verdict_text(e),
            ]
        )
        if with_cost:
            price = e.chip.launch_price_usd
            rows[-1].insert(-1, f"${price:,.0f}" if price else "?")
    w = base.workload
    title = (
        f"{base.model.name} ({base.model.quant}): {w.prompt_tokens} prompt tokens, "
        f"{w.gen_tokens} generated" + (f", {w.images} image(s)" if w.images else "")
    )
    right = ["prefill t/s", "decode t/s (p10-p90)", "TTFT", "total", "speed-up", "memory", "price"]
    table = render_table(columns, rows, title=title, right_align=right)
    notes = sorted({n for e in estimates for n in e.notes})
    return table + "".join(f"note: {n}\n" for n in notes)


def render_chips(chips: Sequence[Chip], catalog: Catalog) -> str:
    from llmbox.report.terminal import render_table

    columns = ["id", "name", "memory GB", "GB/s", "FP16 TFLOPS", "W", "USD", "family", "confidence"]
    rows = [
        [
            c.id,
            c.name,
            "/".join(f"{m:g}" for m in c.memory_gb),
            f"{c.bw_gbs:g}",
            f"{c.fp16_tflops:g}" if c.fp16_tflops else "?",
            f"{c.board_power_w:g}" if c.board_power_w is not None else "-",
            f"{c.launch_price_usd:,.0f}" if c.launch_price_usd is not None else "-",
            c.family,
            c.confidence,
        ]
        for c in chips
    ]
    return render_table(columns, rows, right_align=["memory GB", "GB/s", "FP16 TFLOPS", "W", "USD"])


def render_calibration(cal: Calibration) -> str:
    from llmbox.report.terminal import render_table

    columns = [
        "model",
        "pp/tg",
        "prefill meas",
        "before",
        "after",
        "decode meas",
        "before",
        "after",
    ]

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:,.1f}"

    rows = []
    for b, a in zip(cal.before_report.rows, cal.after_report.rows, strict=True):
        o = b.obs
        rows.append(
            [
                o.model.name,
                f"{o.pp}/{o.tg}",
                f(o.prefill_tps),
                f(b.prefill_pred),
                f(a.prefill_pred),
                f(o.decode_tps),
                f(b.decode_pred),
                f(a.decode_pred),
            ]
        )
    title = f"calibration on {cal.chip.name} (family {cal.after.name}, runner {cal.runner})"
    table = render_table(columns, rows, title=title, right_align=columns[2:])
    fb, fa = cal.before, cal.after
    lines = [
        table.rstrip("\n"),
        "",
        "factor            before    after",
        f"decode_bw_eff    {fb.decode_bw_eff:7.3f}  {fa.decode_bw_eff:7.3f}",
        f"decode_layer_ms  {fb.decode_layer_ms:7.3f}  {fa.decode_layer_ms:7.3f}",
        f"prefill_eff      {fb.prefill_eff:7.3f}  {fa.prefill_eff:7.3f}",
    ]
    lines += [f"skipped {s}" for s in cal.skipped]
    return "\n".join(lines) + "\n"


def render_scaled(rows: Sequence[Scaled]) -> str:
    """``--from-bench``: each measured case and what the target chip is predicted to do."""
    from llmbox.report.terminal import render_table

    def f(v: float | None) -> str:
        return "-" if v is None else _tps(v)

    columns = ["model", "pp/tg", "prefill meas", "predicted", "decode meas", "predicted"]
    table_rows = [
        [
            r.obs.model.name + (f" +{r.obs.images} img" if r.obs.images else ""),
            f"{r.obs.pp}/{r.obs.tg}",
            f(r.obs.prefill_tps),
            f(r.prefill_tps),
            f(r.obs.decode_tps),
            f(r.decode_tps),
        ]
        for r in rows
    ]
    src, dst = rows[0].obs.chip, rows[0].target
    title = f"measured on {src.name} -> predicted on {dst.name} (tokens/s)"
    table = render_table(columns, table_rows, title=title, right_align=columns[2:])
    notes = sorted({n for r in rows for n in r.notes})
    return table + "".join(f"note: {n}\n" for n in notes)


def render_targets(rows: Sequence[Estimate], targets: Sequence[Target], by: str) -> str:
    """The answer to a reverse question: ``by`` is ``models`` (on one chip) or ``chips`` (for
    one model)."""
    want = " and ".join(str(t) for t in targets)
    if by == "models":
        chip = rows[0].chip.name if rows else ""
        head = f"models that fit {chip} and meet {want} (largest first)"
    else:
        model = rows[0].model if rows else None
        head = (
            f"chips that hold {model.name} ({model.quant}) and meet {want} (cheapest first: "
            "launch price, then chips without a price by bandwidth)"
            if model
            else ""
        )
    if not rows:
        return f"nothing meets {want}\n"
    lines = [head, ""]
    if by == "models":
        lines.append(
            f"  {'model':24} {'quant':7} {'params':>8} {'decode t/s':>10} "
            f"{'prefill t/s':>11} {'TTFT':>8}  memory"
        )
        for e in rows:
            lines.append(
                f"  {e.model.name:24} {e.model.quant:7} {e.model.params / 1e9:7.1f}B "
                f"{_tps(e.decode_tps):>10} {_tps(e.prefill_tps):>11} {_s(e.ttft_s):>8}  "
                f"{e.memory.total_bytes / GIB:.1f} GiB of {e.memory.memory_gb:g} GB"
            )
    else:
        lines.append(
            f"  {'chip':30} {'price':>8} {'GB/s':>6} {'decode t/s':>10} "
            f"{'prefill t/s':>11} {'TTFT':>8}  memory"
        )
        for e in rows:
            price = e.chip.launch_price_usd
            lines.append(
                f"  {e.chip.name[:30]:30} {f'${price:,.0f}' if price else '-':>8} "
                f"{e.chip.bw_gbs:6.0f} {_tps(e.decode_tps):>10} {_tps(e.prefill_tps):>11} "
                f"{_s(e.ttft_s):>8}  {e.memory.memory_gb:g} GB"
            )
        unpriced = sum(1 for e in rows if e.chip.launch_price_usd is None)
        if unpriced:
            lines += [
                "",
                f"  {unpriced} chips have no launch price in the catalog: listed "
                "after the priced ones, by bandwidth",
            ]
    return "\n".join(lines) + "\n"

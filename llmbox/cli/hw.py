"""``llmbox hw-estimate`` and ``llmbox chips``: predicted speed and memory fit from chip specs.

Only typer and the shared options are imported up front; the estimator needs no HTTP stack
unless ``--from-server`` asks a running Ollama to describe the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llmbox.cli._common import DataFormat, FormatOpt, HostOpt, QuietOpt, TimeoutOpt, run

if TYPE_CHECKING:
    from llmbox.hw.chips import Catalog, Chip
    from llmbox.hw.estimate import Workload
    from llmbox.hw.models import ModelCatalog, ModelSpec
    from llmbox.report.output import Output

# Literal copies of llmbox.hw.estimate's defaults, so --help imports nothing (a test checks).
_PROMPT_TOKENS = 512
_GEN_TOKENS = 128
_RUNNER = "ollama"

ChipOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--chip",
        "-c",
        help="Chip: id, name or alias (m4pro, 'M4 Pro', 4090, h100); `this` or `auto` = this "
        "machine. Repeat to compare side by side.",
        show_default=False,
    ),
]


def _model_spec(
    models: ModelCatalog,
    model: str | None,
    gguf: Path | None,
    params: str | None,
    quant: str | None,
    from_server: bool,
    host: str | None,
    timeout: float | None,
) -> ModelSpec:
    from llmbox.errors import UsageError
    from llmbox.hw.models import from_gguf, from_params, with_quant

    if gguf is not None:
        return with_quant(from_gguf(gguf), quant) if quant else from_gguf(gguf)
    if from_server:
        if not model:
            raise UsageError(
                "--from-server needs --model", hint="e.g. --model llama3.2 --from-server"
            )
        return _from_server(model, host, timeout)
    if params:
        return from_params(params, quant or "Q4_K_M")
    if not model:
        raise UsageError(
            "which model?", hint="give --model TAG, --gguf FILE or --params 7b --quant q4_k_m"
        )
    return with_quant(models.resolve(model), quant)


def _from_server(model: str, host: str | None, timeout: float | None) -> ModelSpec:
    from llmbox.client import OllamaClient
    from llmbox.config import resolve_settings
    from llmbox.hw.models import from_show

    settings = resolve_settings(host=host, timeout=timeout)

    async def _show() -> ModelSpec:
        async with OllamaClient(host=settings.host, timeout=settings.timeout) as client:
            show = await client.show(model)
            size = next((m.size for m in await client.tags() if m.name == model), None)
            return from_show(model, show, size_bytes=size)

    return run(_show())


def hw_estimate(
    chip: ChipOpt = None,
    compare: Annotated[
        str | None,
        typer.Option(
            "--compare",
            help="Comma-separated chips to compare side by side: m2,m4pro.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model tag from the catalog (or on the server).",
            show_default=False,
        ),
    ] = None,
    from_server: Annotated[
        bool,
        typer.Option("--from-server", help="Describe --model from a running Ollama's /api/show."),
    ] = False,
    gguf: Annotated[
        Path | None,
        typer.Option(
            "--gguf", help="Describe the model from a local GGUF file.", show_default=False
        ),
    ] = None,
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            help="Parameter count instead of a model: 7b, 1.5B, 135m, 7e9; a bare number is "
            "billions (7 = 7B).",
            show_default=False,
        ),
    ] = None,
    quant: Annotated[
        str | None,
        typer.Option(
            "--quant",
            help="Quantization (q4_k_m, q8_0, f16, iq2_xs, tq1_0…). Default: the model's.",
            show_default=False,
        ),
    ] = None,
    prompt_tokens: Annotated[
        int, typer.Option("--prompt-tokens", help="Prompt length in tokens.")
    ] = _PROMPT_TOKENS,
    gen_tokens: Annotated[
        int, typer.Option("--gen-tokens", help="Tokens to generate.")
    ] = _GEN_TOKENS,
    context: Annotated[
        int | None,
        typer.Option(
            "--context",
            help="KV cache size in tokens. Default: 4096 (Ollama's), at least prompt + answer.",
            show_default=False,
        ),
    ] = None,
    images: Annotated[
        int, typer.Option("--images", help="Images in the prompt (vision models).")
    ] = 0,
    memory: Annotated[
        float | None,
        typer.Option(
            "--memory",
            help="Machine memory in GB as sold (= GiB); a discrete GPU's VRAM. Default: the "
            "smallest size offered that fits.",
            show_default=False,
        ),
    ] = None,
    runner_opt: Annotated[
        str | None,
        typer.Option(
            "--runner",
            help=f"What serves the model: ollama, llama.cpp, mlx, vllm. Default: {_RUNNER} "
            "(for a bench file: its backend's).",
            show_default=False,
        ),
    ] = None,
    kv_cache: Annotated[
        str,
        typer.Option("--kv-cache", help="KV cache type (OLLAMA_KV_CACHE_TYPE): f16, q8_0, q4_0."),
    ] = "f16",
    flash_attention: Annotated[
        bool | None,
        typer.Option(
            "--flash-attention/--no-flash-attention",
            help="Flash attention forced on or off (OLLAMA_FLASH_ATTENTION=1/0, llama-bench -fa). "
            "Default: the runner's (Ollama: on, except for models its own engine runs without "
            "it, such as llama3.2-vision; llama-bench: off).",
            show_default=False,
        ),
    ] = None,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel", help="Requests served at once (OLLAMA_NUM_PARALLEL): context x N."
        ),
    ] = 1,
    gpus: Annotated[int, typer.Option("--gpus", help="Discrete GPUs of this kind.")] = 1,
    ram: Annotated[
        float | None,
        typer.Option(
            "--ram",
            help="System RAM in GB beside a discrete GPU, for layers that spill.",
            show_default=False,
        ),
    ] = None,
    calibrate: Annotated[
        Path | None,
        typer.Option(
            "--calibrate",
            help="Fit the chip family's factors to `llmbox bench -f json` results (single-"
            "request cases; --model picks one model); show predicted vs measured.",
            show_default=False,
        ),
    ] = None,
    save: Annotated[
        bool,
        typer.Option(
            "--save",
            help="With --calibrate: store the factors; later estimates on that chip family "
            "and runner use them.",
        ),
    ] = False,
    from_bench: Annotated[
        Path | None,
        typer.Option(
            "--from-bench",
            help="Scale the cases measured in an `llmbox bench -f json` file to --chip.",
            show_default=False,
        ),
    ] = None,
    from_chip: Annotated[
        str | None,
        typer.Option(
            "--from-chip",
            help="With --from-bench: the chip the file was measured on, when it does not say.",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="Reverse question, e.g. decode_tps=20 (also prefill_tps, ttft_s, e2e_s; "
            "repeat for several): with --chip, the catalog models x quantizations that fit "
            "and meet it; with --model, the chips that would, cheapest first.",
            show_default=False,
        ),
    ] = None,
    list_models: Annotated[
        bool, typer.Option("--list-models", help="List the model catalog and exit.")
    ] = False,
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """Predict prefill/decode speed, TTFT and memory fit of a model on a chip; no server needed.

    Example: llmbox hw-estimate --chip m4pro --model llama3.2-vision:11b --images 1

    With -f json, one chip gives one object and several chips an array of them, in the order
    given.
    """
    from llmbox.errors import UsageError
    from llmbox.hw.chips import load_catalog
    from llmbox.hw.models import load_models
    from llmbox.report.output import Output

    out = Output(quiet=quiet)
    runner = runner_opt or _RUNNER
    catalog, models = load_catalog(), load_models()
    if list_models:
        rows: list[dict[str, Any]] = [
            {
                "model": m.name,
                "params": m.params,
                "active_params": m.active,
                "quant": m.quant,
                "layers": m.layers,
                "context_length": m.context_length,
            }
            for m in models.models.values()
        ]
        if format is DataFormat.json:
            out.json(rows)
        else:
            out.data(
                "".join(f"{r['model']:24} {r['params'] / 1e9:7.2f}B  {r['quant']}\n" for r in rows)
            )
        return
    names = [*(chip or []), *[c.strip() for c in (compare or "").split(",") if c.strip()]]
    if save and calibrate is None:
        raise UsageError("--save goes with --calibrate", hint="--calibrate bench.json --save")
    if calibrate is not None:
        _calibrate(calibrate, names[0] if names else None, model, runner_opt, save, format, out)
        return
    if from_bench is not None:
        if len(names) != 1:
            raise UsageError(
                "--from-bench needs one target chip", hint="e.g. --from-bench m2.json --chip m4pro"
            )
        _from_bench(from_bench, names[0], from_chip, model, runner_opt, memory, format, out)
        return
    if not names and not target:
        raise UsageError(
            "which chip?", hint="give --chip m4pro (or --chip this); `llmbox chips` lists them"
        )
    from llmbox.hw.calibrate import apply_saved
    from llmbox.hw.estimate import Workload, estimate

    workload = Workload(
        prompt_tokens,
        gen_tokens,
        context,
        images,
        memory,
        runner=runner,
        kv_cache=kv_cache.lower(),
        flash_attention=flash_attention,
        parallel=parallel,
        gpus=gpus,
        ram_gb=ram,
    )
    workload.validate()
    catalog = apply_saved(catalog, runner)
    if target:
        asked = [catalog.resolve(n) for n in names]
        spec = None
        if model or gguf or params:
            spec = _model_spec(models, model, gguf, params, quant, from_server, host, timeout)
        _targets(target, asked, spec, catalog, models, workload, format, out)
        return
    chips = [catalog.resolve(n) for n in names]
    spec = _model_spec(models, model, gguf, params, quant, from_server, host, timeout)
    results = [estimate(c, catalog, spec, workload) for c in chips]
    if format is DataFormat.json:
        out.json(results[0].to_dict() if len(results) == 1 else [r.to_dict() for r in results])
        return
    from llmbox.report.hw import render_compare, render_estimate

    out.data(render_estimate(results[0]) if len(results) == 1 else render_compare(results))


def _targets(
    texts: list[str],
    chips: list[Chip],
    spec: ModelSpec | None,
    catalog: Catalog,
    models: ModelCatalog,
    workload: Workload,
    format: DataFormat,
    out: Output,
) -> None:
    from llmbox.errors import UsageError
    from llmbox.hw import target as tgt

    targets = [tgt.parse_target(t) for t in texts]
    if (spec is None) == (not chips) or len(chips) > 1:
        raise UsageError(
            "--target asks one question: give one --chip (which models?) or a --model (which "
            "chips?), not both",
            hint="e.g. --chip m4pro --target decode_tps=20, or --model llama3.1:8b --target "
            "decode_tps=20",
        )
    if spec is None:
        rows = tgt.models_meeting(chips[0], catalog, models, workload, targets)
        by = "models"
    else:
        rows = tgt.chips_meeting(spec, catalog, workload, targets)
        by = "chips"
    if format is DataFormat.json:
        out.json([r.to_dict() for r in rows])
        return
    from llmbox.report.hw import render_targets

    out.data(render_targets(rows, targets, by))


def _calibrate(
    path: Path,
    chip: str | None,
    model: str | None,
    runner: str | None,
    save: bool,
    format: DataFormat,
    out: Output,
) -> None:
    from llmbox.hw import calibrate as cal_mod
    from llmbox.hw.chips import load_catalog
    from llmbox.hw.models import load_models
    from llmbox.results import BenchReport

    cal = cal_mod.calibrate(
        BenchReport.load(path), load_catalog(), load_models(), chip, model=model, runner=runner
    )
    if save:
        where = cal_mod.save(cal)
        out.info(
            f"saved: {cal.after.name} with {cal.runner} now uses these factors ({where}); "
            "estimates say so"
        )
    if format is DataFormat.json:
        out.json(cal.to_dict())
        return
    from llmbox.report.hw import render_calibration

    out.data(render_calibration(cal))


def _from_bench(
    path: Path,
    target: str,
    source: str | None,
    model: str | None,
    runner: str | None,
    memory: float | None,
    format: DataFormat,
    out: Output,
) -> None:
    from llmbox.hw.calibrate import from_bench
    from llmbox.hw.chips import load_catalog
    from llmbox.hw.models import load_models
    from llmbox.results import BenchReport

    catalog = load_catalog()
    rows, skipped = from_bench(
        BenchReport.load(path),
        catalog,
        load_models(),
        catalog.resolve(target),
        source_chip=source,
        model=model,
        runner=runner,
        memory_gb=memory,
    )
    for line in skipped:
        out.info(f"skipped {line}")
    if format is DataFormat.json:
        out.json([r.to_dict() for r in rows])
        return
    from llmbox.report.hw import render_scaled

    out.data(render_scaled(rows))


def chips(
    vendor: Annotated[
        str | None,
        typer.Option(
            "--vendor",
            help="Only this vendor: apple, nvidia, amd, intel, generic.",
            show_default=False,
        ),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="Only this kind: soc, dgpu, cpu.", show_default=False),
    ] = None,
    format: FormatOpt = DataFormat.table,
    quiet: QuietOpt = False,
) -> None:
    """List the chip catalog: bandwidth, TFLOPS, memory sizes, power, price, family, sources.

    Board power is in watts, launch price in USD ("-" where no source gives one)."""
    from llmbox.errors import UsageError
    from llmbox.hw.chips import as_dict, load_catalog
    from llmbox.report.output import Output

    catalog = load_catalog()
    selected = catalog.select(vendor, kind)
    if not selected:
        chips = catalog.chips.values()
        vendors = ", ".join(sorted({c.vendor for c in chips}))
        kinds = ", ".join(sorted({c.kind for c in chips}))
        asked = " ".join(f"--{k} {v}" for k, v in (("vendor", vendor), ("kind", kind)) if v)
        raise UsageError(
            f"no chips match {asked}",
            hint=f"vendors: {vendors}; kinds: {kinds} (dgpu: a graphics card, soc: unified memory)",
        )
    out = Output(quiet=quiet)
    if format is DataFormat.json:
        out.json([as_dict(c, catalog) for c in selected])
        return
    from llmbox.report.hw import render_chips

    out.data(render_chips(selected, catalog))

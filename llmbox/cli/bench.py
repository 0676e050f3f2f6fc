from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from llmbox.cli._common import HostOpt, QuietOpt, TimeoutOpt


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    md = "md"


class ApiChoice(str, Enum):
    chat = "chat"
    generate = "generate"


class BackendChoice(str, Enum):
    ollama = "ollama"
    openai = "openai"
    embedded = "embedded"


_GRID = "Grid (comma lists expand into a grid)"
_GATES = "CI gates"
_OUT = "Output"
_BACKEND = "Backend"


def bench(
    models: Annotated[
        list[str],
        typer.Argument(
            help="Models to benchmark, or `compare A.json B.json` to compare two saved results.",
            show_default=False,
        ),
    ],
    runs: Annotated[int, typer.Option(min=1, help="Measured runs per case.")] = 5,
    warmup: Annotated[
        int, typer.Option(min=0, help="Warm-up runs per case (not in the statistics).")
    ] = 1,
    prompt: Annotated[
        str | None, typer.Option(help="Literal prompt text.", rich_help_panel=_GRID)
    ] = None,
    prompt_file: Annotated[
        Path | None, typer.Option(help="Read the prompt from a file.", rich_help_panel=_GRID)
    ] = None,
    prompt_tokens: Annotated[
        str | None,
        typer.Option(
            help="Synthetic prompt of about N tokens, e.g. 128,512 [default: 512].",
            rich_help_panel=_GRID,
        ),
    ] = None,
    max_tokens: Annotated[
        str | None,
        typer.Option(
            help="Tokens to generate (num_predict), e.g. 32,128 [default: 128].",
            rich_help_panel=_GRID,
        ),
    ] = None,
    concurrency: Annotated[
        str | None,
        typer.Option(help="Concurrent requests per level, e.g. 1,2,4,8.", rich_help_panel=_GRID),
    ] = None,
    num_ctx: Annotated[
        str | None,
        typer.Option(help="Context size(s) (num_ctx), e.g. 4096,8k.", rich_help_panel=_GRID),
    ] = None,
    think: Annotated[
        bool | None,
        typer.Option(
            "--think/--no-think",
            help="Turn thinking on/off [default: the server's].",
            show_default=False,
        ),
    ] = None,
    image: Annotated[
        list[Path] | None,
        typer.Option("--image", help="Image file for vision models (repeatable)."),
    ] = None,
    api: Annotated[ApiChoice, typer.Option(help="Ollama endpoint to use.")] = ApiChoice.chat,
    cold: Annotated[
        bool,
        typer.Option(
            "--cold", help="Unload the model before each run (measures load and cold TTFT)."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Sampling seed (-1: random).")] = 42,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature.")] = 0.0,
    suite: Annotated[
        str | None,
        typer.Option(
            help="A suite name (see configs/suites) or a YAML file.", rich_help_panel=_GRID
        ),
    ] = None,
    backend: Annotated[
        BackendChoice, typer.Option(help="What serves the model.", rich_help_panel=_BACKEND)
    ] = BackendChoice.ollama,
    ignore_eos: Annotated[
        bool,
        typer.Option(
            "--ignore-eos",
            help="Always generate --max-tokens (llama.cpp, vLLM, embedded; not Ollama).",
            rich_help_panel=_BACKEND,
        ),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Embedded engine: CPU threads [default: all cores].",
            rich_help_panel=_BACKEND,
        ),
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Embedded engine: parallel slots [default: the highest --concurrency].",
            rich_help_panel=_BACKEND,
        ),
    ] = None,
    ctx_size: Annotated[
        int | None,
        typer.Option(
            min=256,
            help="Embedded engine: context tokens per slot [default: 4096].",
            rich_help_panel=_BACKEND,
        ),
    ] = None,
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Bearer token for --backend openai [default: $OPENAI_API_KEY]; never shown.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="Format on stdout.", rich_help_panel=_OUT)
    ] = ReportFormat.table,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            "-o",
            help="Also write FORMAT:PATH, rewritten after each case (repeatable).",
            rich_help_panel=_OUT,
        ),
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            help="Fail (exit 5) if METRIC's mean < VALUE, e.g. decode_tps=20.",
            rich_help_panel=_GATES,
        ),
    ] = None,
    fail_over: Annotated[
        list[str] | None,
        typer.Option(
            help="Fail (exit 5) if METRIC's mean > VALUE, e.g. ttft_s=1.5.", rich_help_panel=_GATES
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="An earlier JSON result to compare with.", rich_help_panel=_GATES),
    ] = None,
    max_regression: Annotated[
        str | None,
        typer.Option(
            help="Fail (exit 5) if a metric regressed more than this vs --baseline, e.g. 10%.",
            rich_help_panel=_GATES,
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Benchmark models: prefill/decode tokens/s, TTFT, end-to-end and load time, as mean ± sd.

    Exit codes: 0 ok, 1 some runs failed, 3 server unreachable, 4 model not found, 5 a gate failed,
    130 interrupted (results so far are written).
    """
    from llmbox.cli._bench_cmd import BenchArgs, run_bench, run_compare

    if models and models[0] == "compare":
        run_compare(models[1:], format=format.value, quiet=quiet, max_regression=max_regression)
        return
    run_bench(
        BenchArgs(
            models=models,
            runs=runs,
            warmup=warmup,
            prompt=prompt,
            prompt_file=prompt_file,
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            concurrency=concurrency,
            num_ctx=num_ctx,
            think=think,
            images=[str(p) for p in image or []],
            api=api.value,
            cold=cold,
            seed=seed,
            temperature=temperature,
            suite=suite,
            backend=backend.value,
            ignore_eos=ignore_eos,
            threads=threads,
            parallel=parallel,
            ctx_size=ctx_size,
            host=host,
            api_key=api_key,
            timeout=timeout,
            format=format.value,
            outputs=output or [],
            fail_under=fail_under or [],
            fail_over=fail_over or [],
            baseline=baseline,
            max_regression=max_regression,
            quiet=quiet,
        )
    )

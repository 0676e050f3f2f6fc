"""``llmbox bench`` (run a benchmark) and ``llmbox bench compare`` (two saved results).

The options map straight into ``llmbox.bench.session.BenchOptions``; ``None`` means "not given",
so a suite or the defaults in ``llmbox.defaults`` apply. All work happens in the core.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from llmbox import defaults as d
from llmbox.cli._common import HostOpt, QuietOpt, TimeoutOpt

if TYPE_CHECKING:
    from llmbox.bench.session import History


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


class ModeChoice(str, Enum):
    continuous = "continuous"
    batch = "batch"


class OrderChoice(str, Enum):
    sequential = "sequential"
    interleave = "interleave"


_GRID = "Grid (comma lists expand into a grid)"
_GATES = "CI gates"
_OUT = "Output"
_BACKEND = "Backend"
_LOAD = "Load (closed and open loop)"
_STORE = "Results store"

FormatOpt = Annotated[
    ReportFormat | None,
    typer.Option(
        "--format", "-f", help=f"Format on stdout (default {d.FORMAT}).", rich_help_panel=_OUT
    ),
]
FailUnderOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="Fail (exit 5) if METRIC's mean < VALUE, e.g. decode_tps=20 or ttft_s:p90=2.",
        rich_help_panel=_GATES,
    ),
]
FailOverOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="Fail (exit 5) if METRIC's mean > VALUE, e.g. ttft_s=1.5.", rich_help_panel=_GATES
    ),
]
MaxRegressionOpt = Annotated[
    str | None,
    typer.Option(
        help="Fail (exit 5) if a metric is significantly worse than the baseline by more than "
        f"this, e.g. 10% (default {d.MAX_REGRESSION_PCT:g}% when a baseline is given).",
        rich_help_panel=_GATES,
    ),
]


class _BenchGroup(TyperGroup):
    """``llmbox bench MODEL…`` runs a benchmark; ``llmbox bench compare A B`` compares."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or args[0] not in ("compare", "run"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_BenchGroup,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Benchmark models: prefill/decode tokens/s, TTFT, end-to-end and load time, as mean ± sd."
    "\n\n`llmbox bench MODEL…` runs a benchmark; `llmbox bench compare A.json B.json` compares two "
    "saved results.",
)


@app.command("run")
def bench(
    models: Annotated[list[str], typer.Argument(help="Models to benchmark.", show_default=False)],
    runs: Annotated[
        int | None, typer.Option(min=1, help=f"Measured runs per case (default {d.RUNS}).")
    ] = None,
    warmup: Annotated[
        int | None,
        typer.Option(
            min=0, help=f"Warm-up runs per case, not in the statistics (default {d.WARMUP})."
        ),
    ] = None,
    prompt: Annotated[
        str | None, typer.Option(help="Literal prompt text.", rich_help_panel=_GRID)
    ] = None,
    prompt_file: Annotated[
        Path | None,
        typer.Option(help="Read the prompt from a UTF-8 file.", rich_help_panel=_GRID),
    ] = None,
    prompt_tokens: Annotated[
        str | None,
        typer.Option(
            help="Synthetic prompt of about N tokens, e.g. 128,512; per request from LO:HI "
            f"(uniform) or MEAN~SD (normal), e.g. 256:2048 (default {d.PROMPT_TOKENS}).",
            rich_help_panel=_GRID,
        ),
    ] = None,
    max_tokens: Annotated[
        str | None,
        typer.Option(
            help="Tokens to generate (num_predict), e.g. 32,128, or LO:HI / MEAN~SD per "
            f"request (default {d.MAX_TOKENS}).",
            rich_help_panel=_GRID,
        ),
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            help='Prompts from a JSONL file, one {"prompt": …} per line (images, history and '
            "checked answers too; see docs/benchmarking.md#datasets).",
            rich_help_panel=_GRID,
        ),
    ] = None,
    turns: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Multi-turn chats of N requests each, run twice: resending the conversation "
            "(the prompt cache helps) and with nothing shared, to show the cache's effect.",
            rich_help_panel=_GRID,
        ),
    ] = None,
    concurrency: Annotated[
        str | None,
        typer.Option(
            help=f"Requests in flight per level (closed loop), e.g. 1,2,4,8 (default "
            f"{d.CONCURRENCY}).",
            rich_help_panel=_GRID,
        ),
    ] = None,
    num_ctx: Annotated[
        str | None,
        typer.Option(
            help="Context size(s) (num_ctx), e.g. 4096,8k (default: the server's).",
            rich_help_panel=_GRID,
        ),
    ] = None,
    think: Annotated[
        bool | None,
        typer.Option(
            "--think/--no-think",
            help="Turn thinking on/off (default: the server's).",
            show_default=False,
        ),
    ] = None,
    image: Annotated[
        list[Path] | None,
        typer.Option("--image", help="Image file for vision models (repeatable)."),
    ] = None,
    api: Annotated[
        ApiChoice | None, typer.Option(help=f"Ollama endpoint to use (default {d.API}).")
    ] = None,
    cold: Annotated[
        bool | None,
        typer.Option(
            "--cold",
            help="Unload the model before each run (measures load and cold TTFT).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help=f"Sampling seed; -1: random (default {d.SEED}).")
    ] = None,
    temperature: Annotated[
        float | None,
        typer.Option(help=f"Sampling temperature (default {d.TEMPERATURE:g})."),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(
            help="A suite name (configs/suites) or a YAML file; flags given override its cases.",
            rich_help_panel=_GRID,
        ),
    ] = None,
    order: Annotated[
        OrderChoice | None,
        typer.Option(
            help="sequential: each model's cases in a row (loads each model once); interleave: "
            "rounds of every model and case, so drift spreads evenly (default sequential).",
        ),
    ] = None,
    cooldown: Annotated[
        float | None,
        typer.Option(help="Seconds to pause between requests with --order interleave."),
    ] = None,
    concurrency_mode: Annotated[
        ModeChoice | None,
        typer.Option(
            help="continuous: keep C requests in flight, a new one as each finishes (default); "
            "batch: send C at once and wait for all.",
            rich_help_panel=_LOAD,
        ),
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(
            help="Open loop: requests per second, sent on schedule whatever the server does, "
            "e.g. 0.5,1,2,4.",
            rich_help_panel=_LOAD,
        ),
    ] = None,
    arrivals: Annotated[
        str | None,
        typer.Option(
            help="Open loop: poisson (default), constant, or gamma:K (K < 1 burstier).",
            rich_help_panel=_LOAD,
        ),
    ] = None,
    requests: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Open loop: requests per rate (default: 30 s worth, at least 10).",
            rich_help_panel=_LOAD,
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(help="Open loop: seconds of load per rate.", rich_help_panel=_LOAD),
    ] = None,
    max_concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Open loop: at most this many requests in flight (the wait counts).",
            rich_help_panel=_LOAD,
        ),
    ] = None,
    sweep: Annotated[
        bool,
        typer.Option(
            "--sweep",
            help="From one request at a time to saturation (--max-concurrency, default "
            f"{d.SWEEP_CONCURRENCY} in flight), then {d.SWEEP_RATES} open-loop rates between; "
            "shows where latency takes off.",
            rich_help_panel=_LOAD,
        ),
    ] = False,
    slo: Annotated[
        str | None,
        typer.Option(
            help="Service levels per request, e.g. ttft_s=2,itl_ms=100,e2e_s=10: share met "
            "and goodput.",
            rich_help_panel=_LOAD,
        ),
    ] = None,
    power: Annotated[
        str | None,
        typer.Option(
            help="Measure energy during each case: auto, nvml (NVIDIA), rapl (Linux CPUs), "
            "powermetrics (macOS, root) or none (default).",
        ),
    ] = None,
    backend: Annotated[
        BackendChoice | None,
        typer.Option(
            help=f"What serves the model (default {d.BACKEND}).", rich_help_panel=_BACKEND
        ),
    ] = None,
    ignore_eos: Annotated[
        bool | None,
        typer.Option(
            "--ignore-eos",
            help="Always generate --max-tokens (llama.cpp, vLLM, embedded; not Ollama).",
            rich_help_panel=_BACKEND,
            show_default=False,
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Embedded engine: CPU threads (default: all cores).",
            rich_help_panel=_BACKEND,
        ),
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Embedded engine: parallel slots (default: the highest --concurrency).",
            rich_help_panel=_BACKEND,
        ),
    ] = None,
    ctx_size: Annotated[
        int | None,
        typer.Option(
            min=256,
            help=f"Embedded engine: context tokens per slot (default {d.EMBEDDED_CTX_SIZE}).",
            rich_help_panel=_BACKEND,
        ),
    ] = None,
    host: HostOpt = None,
    timeout: TimeoutOpt = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Bearer token for --backend openai (default: $OPENAI_API_KEY); never shown.",
            show_default=False,
        ),
    ] = None,
    format: FormatOpt = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            "-o",
            help="Also write FORMAT:PATH, rewritten after each case (repeatable); "
            "FORMAT:- prints that format on stdout.",
            rich_help_panel=_OUT,
        ),
    ] = None,
    fail_under: FailUnderOpt = None,
    fail_over: FailOverOpt = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Compare with an earlier run: a saved JSON file, or from the store last, best, "
            "a run ID or tag:KEY=VALUE; gates on --max-regression.",
            rich_help_panel=_GATES,
        ),
    ] = None,
    max_regression: MaxRegressionOpt = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="The results store every run is saved in: sqlite:///PATH or postgresql://… "
            "(default: $LLMBOX_DB, else history.db in your data directory).",
            rich_help_panel=_STORE,
        ),
    ] = None,
    no_save: Annotated[
        bool,
        typer.Option(
            "--no-save", help="Do not save this run in the store.", rich_help_panel=_STORE
        ),
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            help="Label the saved run KEY=VALUE, e.g. git=abc123 (repeatable).",
            rich_help_panel=_STORE,
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Benchmark models: prefill/decode tokens/s, TTFT, end-to-end and load time, as mean ± sd.

    Exit codes: 0 ok, 1 some runs failed, 2 usage error, 3 server unreachable, 4 model not
    found, 5 a gate failed, 130 interrupted, 143 terminated (SIGTERM); results so far are written.
    """
    from llmbox.bench.plan import BenchOptions, build_plan
    from llmbox.bench.session import GateOptions
    from llmbox.cli._bench_run import run_and_print

    plan = build_plan(
        BenchOptions(
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
            images=image or (),
            api=api.value if api else None,
            cold=cold,
            seed=seed,
            temperature=temperature,
            suite=suite,
            order=order.value if order else None,
            cooldown=cooldown,
            concurrency_mode=concurrency_mode.value if concurrency_mode else None,
            rate=rate,
            arrivals=arrivals,
            requests=requests,
            duration=duration,
            max_concurrency=max_concurrency,
            dataset=dataset,
            turns=turns,
            slo=slo,
            sweep=sweep,
            power=power,
            backend=backend.value if backend else None,
            ignore_eos=ignore_eos,
            threads=threads,
            parallel=parallel,
            ctx_size=ctx_size,
            host=host,
            timeout=timeout,
            api_key=api_key,
        )
    )
    gates = GateOptions(
        fail_under=fail_under or (),
        fail_over=fail_over or (),
        baseline=baseline,
        max_regression=max_regression,
    )
    fmt = format.value if format else None
    history = _history(db, no_save, baseline, tag)
    if no_save and tag:
        from llmbox.report.output import Output

        Output(quiet=quiet).warn("--tag labels a saved run: ignored with --no-save")
    run_and_print(
        plan, gates, history, db_flag=db, tags=tag or (), fmt=fmt, outputs=output or [], quiet=quiet
    )


def _history(
    db: str | None, no_save: bool, baseline: str | None, tags: list[str] | None
) -> History:
    """The run's history: the results store, or (``--no-save`` with nothing to look up or
    check in it) none, so that such a bench loads no store code."""
    if no_save and baseline is None and not tags:
        from llmbox.bench.session import FilesOnly

        return FilesOnly()
    from llmbox.store.bench import StoreHistory

    return StoreHistory(db, save=not no_save, tags=tags or ())


@app.command("compare")
def compare(
    files: Annotated[
        list[Path], typer.Argument(help="Two result files: BASE NEW.", show_default=False)
    ],
    format: FormatOpt = None,
    fail_under: FailUnderOpt = None,
    fail_over: FailOverOpt = None,
    max_regression: MaxRegressionOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare two saved benchmark results metric by metric, with significance (Welch's t-test).

    Gates apply to NEW. Exit codes: 0 ok, 2 usage error, 5 a gate failed or a metric regressed
    significantly beyond --max-regression.
    """
    from llmbox.bench.comparison import compare_files
    from llmbox.report.exporters import render_comparison
    from llmbox.report.output import Output

    result = compare_files(
        files,
        fail_under=fail_under or (),
        fail_over=fail_over or (),
        max_regression=max_regression,
    )
    Output(quiet=quiet).data(render_comparison(format.value if format else d.FORMAT, result))
    if result.error is not None:
        raise result.error

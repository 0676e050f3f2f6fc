"""What ``llmbox bench`` does between parsing options and printing: kept out of the command
module so that ``llmbox --help`` does not import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from llmbox.bench.grid import GridOptions, cases_from_options, expand, load_suite, parse_int_list
from llmbox.bench.runner import CaseFinished, Event, Runner, RunnerConfig, new_report
from llmbox.bench.schema import load_report
from llmbox.bench.types import BenchReport
from llmbox.cli._bench_view import BenchProgress
from llmbox.cli._common import debug_enabled, run
from llmbox.cli._output import Output
from llmbox.errors import ExitCode, GateFailed, Interrupted, LlmboxError, UsageError

FORMATS = ("table", "json", "jsonl", "csv", "md")


@dataclass
class BenchArgs:
    models: list[str]
    runs: int = 5
    warmup: int = 1
    prompt: str | None = None
    prompt_file: Path | None = None
    prompt_tokens: str | None = None
    max_tokens: str | None = None
    concurrency: str | None = None
    num_ctx: str | None = None
    think: bool | None = None
    images: list[str] = field(default_factory=list)
    api: str = "chat"
    cold: bool = False
    seed: int = 42
    temperature: float = 0.0
    suite: str | None = None
    backend: str = "ollama"
    ignore_eos: bool = False
    threads: int | None = None
    parallel: int | None = None
    ctx_size: int | None = None
    host: str | None = None
    timeout: float | None = None
    api_key: str | None = None
    format: str = "table"
    outputs: list[str] = field(default_factory=list)
    fail_under: list[str] = field(default_factory=list)
    fail_over: list[str] = field(default_factory=list)
    baseline: Path | None = None
    max_regression: str | None = None
    quiet: bool = False


def parse_outputs(specs: list[str]) -> list[tuple[str, Path]]:
    """``json:out/bench.json`` -> ("json", Path(...)); the format may be inferred from a suffix."""
    outputs = []
    for spec in specs:
        fmt, sep, path = spec.partition(":")
        if not sep or fmt not in FORMATS:
            suffix = Path(spec).suffix.lstrip(".")
            if suffix in FORMATS and not sep:
                fmt, path = suffix, spec
            else:
                raise UsageError(
                    f"--output {spec!r}: expected FORMAT:PATH",
                    hint=f"FORMAT is one of {', '.join(FORMATS)}, e.g. --output json:bench.json",
                )
        outputs.append((fmt, Path(path)))
    return outputs


def _build_grid(args: BenchArgs) -> tuple[list[Any], RunnerConfig]:
    runs, warmup = args.runs, args.warmup
    if args.prompt is not None and args.prompt_file is not None:
        raise UsageError("give --prompt or --prompt-file, not both")
    prompt = args.prompt
    if args.prompt_file is not None:
        try:
            prompt = args.prompt_file.read_text(encoding="utf-8")
        except OSError as err:
            raise UsageError(
                f"cannot read {args.prompt_file}: {err.strerror}", hint="check --prompt-file"
            ) from None
    for img in args.images:
        if not Path(img).is_file():
            raise UsageError(f"image not found: {img}", hint="check --image PATH")
    if args.suite:
        suite, base = load_suite(args.suite)
        cases = suite.to_cases(base)
        runs = suite.runs if suite.runs is not None and args.runs == 5 else runs
        warmup = suite.warmup if suite.warmup is not None and args.warmup == 1 else warmup
    else:
        opts = GridOptions(
            prompt=prompt,
            prompt_tokens=parse_int_list(args.prompt_tokens, "--prompt-tokens"),
            max_tokens=parse_int_list(args.max_tokens, "--max-tokens"),
            concurrency=parse_int_list(args.concurrency, "--concurrency"),
            num_ctx=parse_int_list(args.num_ctx, "--num-ctx"),
            think=args.think,
            images=tuple(args.images),
            api="generate" if args.api == "generate" else "chat",
            cold=args.cold,
        )
        cases = cases_from_options(opts)
    config = RunnerConfig(
        runs=runs,
        warmup=warmup,
        seed=None if args.seed < 0 else args.seed,
        temperature=args.temperature,
        ignore_eos=args.ignore_eos,
    )
    return expand(args.models, cases), config


def run_bench(args: BenchArgs) -> None:
    from llmbox.backends.factory import make_backend
    from llmbox.bench import gates
    from llmbox.report.exporters import render, write_atomic

    out = Output(quiet=args.quiet)
    if not args.models:
        raise UsageError("no model given", hint="e.g. llmbox bench llama3.2:3b")
    grid, config = _build_grid(args)
    outputs = parse_outputs(args.outputs)
    under = [gates.parse_gate(s, "under") for s in args.fail_under]
    over = [gates.parse_gate(s, "over") for s in args.fail_over]
    baseline = load_report(args.baseline) if args.baseline else None
    max_regression = gates.parse_regression(args.max_regression) if args.max_regression else None
    if max_regression is not None and baseline is None:
        raise UsageError("--max-regression needs --baseline FILE")
    max_conc = max(case.concurrency for _, case in grid)
    if args.ignore_eos and args.backend == "ollama":
        raise UsageError("Ollama has no --ignore-eos", hint="use --backend openai or embedded")
    if args.cold and args.backend == "openai":
        raise UsageError(
            "--cold needs a server that can unload models", hint="use --backend ollama"
        )
    backend = make_backend(
        args.backend,
        host=args.host,
        timeout=args.timeout,
        max_connections=max_conc + 4,
        api_key=args.api_key,
        threads=args.threads,
        parallel=args.parallel or max_conc,
        ctx_size=args.ctx_size,
        verbose=debug_enabled(),
    )
    options = {
        "models": args.models,
        "runs": config.runs,
        "warmup": config.warmup,
        "seed": config.seed,
        "temperature": config.temperature,
        "suite": args.suite,
        "api": args.api,
        "think": args.think,
        "cold": args.cold,
        "backend": args.backend,
    }
    progress = BenchProgress(out)
    holder: dict[str, BenchReport] = {}

    def save() -> None:
        if "report" in holder:
            data = holder["report"].to_dict()
            for fmt, path in outputs:
                write_atomic(path, render(fmt, data))

    def on_event(event: Event) -> None:
        progress(event)
        if isinstance(event, CaseFinished):
            save()

    async def _go() -> BenchReport:
        try:
            report = holder["report"] = await new_report(backend, options)
            save()  # an unwritable --output path fails now, not after the first case
            return await Runner(backend, config, on_event).run(grid, report)
        finally:
            await backend.aclose()

    try:
        report = run(_go())
    except (KeyboardInterrupt, LlmboxError) as err:
        progress.close()
        if "report" in holder:
            holder["report"].interrupted = True
            save()
            if holder["report"].results:
                out.data(render(args.format, holder["report"].to_dict()))
        if isinstance(err, KeyboardInterrupt):
            kept = (
                f"; results so far written to {', '.join(str(p) for _, p in outputs)}"
                if outputs
                else ""
            )
            raise Interrupted(f"interrupted{kept}") from None
        raise
    progress.close()
    data = report.to_dict()
    gate_results = gates.evaluate(
        data, fail_under=under, fail_over=over, baseline=baseline, max_regression=max_regression
    )
    report.gates = [g.to_dict() for g in gate_results]
    save()
    out.data(render(args.format, report.to_dict()))
    failed_gates = [g for g in gate_results if not g.passed]
    if failed_gates:
        raise GateFailed(
            f"{len(failed_gates)} gate(s) failed:\n"
            + gates.render_gate_failures(failed_gates).rstrip(),
            hint="see the gates block of the JSON output",
        )
    if missing := sorted({r.model for r in report.results if r.model_missing}):
        from llmbox.cli._output import print_error

        print_error(f"model not found: {', '.join(missing)}", f"llmbox pull {missing[0]}")
        raise typer.Exit(int(ExitCode.MODEL_NOT_FOUND))
    if any(r.failed for r in report.results):
        raise typer.Exit(int(ExitCode.FAILURE))


def run_compare(files: list[str], *, format: str, quiet: bool, max_regression: str | None) -> None:
    from llmbox.bench import compare, gates

    if len(files) != 2:
        raise UsageError(
            "compare takes two result files", hint="llmbox bench compare base.json new.json"
        )
    base, new = (load_report(Path(f)) for f in files)
    threshold = gates.parse_regression(max_regression) if max_regression else None
    rows = compare.compare_reports(base, new, threshold=threshold)
    out = Output(quiet=quiet)
    if format == "json":
        out.json(compare.comparison_to_dict(rows))
    else:
        out.data(compare.render_comparison(rows))
    if threshold is not None and any(row.regression for row in rows):
        raise GateFailed(
            "a metric regressed more than --max-regression", hint="see the table above"
        )

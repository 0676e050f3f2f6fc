"""The ``llmbox`` command line: the command table, and the entry point.

Each command module imports only typer and its option declarations at import time; the core it
calls is imported inside the command, so ``llmbox --help`` costs about what a bare Typer app costs.
The app itself (``llmbox.cli._app``) is imported on first use, so ``llmbox --version`` imports no
Typer at all.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmbox.cli._app import app, load_command

__all__ = ["COMMANDS", "YOUNG_OBJECTS", "app", "load_command", "main", "tune_collector"]

#: Objects the cyclic collector lets pile up before a young pass (CPython's default: 700).
YOUNG_OBJECTS = 100_000

#: Every command: name -> (module, function, the one-line help ``llmbox --help`` lists).
#: Commands are built from their functions only when run, so ``llmbox --help`` pays for none of
#: them (Typer's conversion of all options costs more than the rest of start-up). A test checks
#: each line against the first line of the function's docstring.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "bench": (
        "llmbox.cli.bench",
        "app",
        "Benchmark models: prefill/decode tokens/s, TTFT, end-to-end and load time, as mean ± sd.",
    ),
    "hw-estimate": (
        "llmbox.cli.hw",
        "hw_estimate",
        "Predict prefill/decode speed, TTFT and memory fit of a model on a chip; no server needed.",
    ),
    "chips": (
        "llmbox.cli.hw",
        "chips",
        "List the chip catalog: bandwidth, TFLOPS, memory sizes, power, price, family, sources.",
    ),
    "pull": (
        "llmbox.cli.models",
        "pull",
        "Download models, one after another, with progress on stderr.",
    ),
    "list": (
        "llmbox.cli.models",
        "list_models",
        "List installed models: name, ID, size, parameters, quantization, modified.",
    ),
    "ps": (
        "llmbox.cli.models",
        "ps",
        "List loaded models: size in memory, CPU/GPU split, context length, until when.",
    ),
    "show": (
        "llmbox.cli.models",
        "show",
        "Show a model's architecture: parameters, context, layers, KV heads, quantization, tools.",
    ),
    "rm": (
        "llmbox.cli.models",
        "rm",
        "Delete models from disk, unloading each first if it is loaded.",
    ),
    "load": (
        "llmbox.cli.models",
        "load",
        "Load a model into memory now, and show where it landed (CPU/GPU).",
    ),
    "unload": (
        "llmbox.cli.models",
        "unload",
        "Unload a model from memory now (keep_alive 0) and wait until the server lets it go.",
    ),
    "sync": (
        "llmbox.cli.models",
        "sync",
        "Make the server hold the models FILE lists: pull the missing, preload, optionally prune.",
    ),
    "cost": (
        "llmbox.cli.cost",
        "cost",
        "Energy and money per token, local vs a hosted API: break-even and payback.",
    ),
    "history": (
        "llmbox.cli.history",
        "history",
        "Browse saved benchmark runs: list with filters, show, rm, import, export, regressions.",
    ),
    "doctor": (
        "llmbox.cli.doctor",
        "doctor",
        "Check the server: reachable, version, models installed and loaded (CPU/GPU), OLLAMA_*.",
    ),
    "report": (
        "llmbox.cli.report",
        "report",
        "Charts of benchmark results: one offline HTML page, PNG/SVG images, or Markdown.",
    ),
    "fleet": (
        "llmbox.cli.fleet",
        "app",
        "Operate and benchmark many Ollama hosts as one: status, sync and bench over an inventory.",
    ),
}


def __getattr__(name: str) -> Any:
    if name in ("app", "load_command"):
        from llmbox.cli import _app

        return getattr(_app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def tune_collector() -> None:
    """Start-up creates ~90k objects that live as long as the process (modules, Typer's and
    pydantic's schemas). At CPython's default threshold the collector scans them over and over
    while they are created: ~110 passes, 30 ms of a bench's start-up on a 2-core VM (see
    docs/performance.md). With room for 100k young objects start-up has no pass at all; later a
    pass comes ~140x less often and scans more (a few ms). ``bench`` keeps passes out of measured
    requests anyway (llmbox.bench.collector)."""
    gc.set_threshold(YOUNG_OBJECTS, *gc.get_threshold()[1:])


def main() -> None:
    """Console-script entry point."""
    tune_collector()
    if sys.argv[1:] in (["--version"], ["-V"]):
        from llmbox import __version__

        sys.stdout.write(f"llmbox {__version__}\n")
        return
    from llmbox.cli._app import app

    try:
        app(prog_name="llmbox")
    finally:
        # At exit CPython collects the whole heap once more (~60 ms for a bench here) although
        # the process is about to hand all of its memory back; frozen objects are skipped.
        gc.freeze()

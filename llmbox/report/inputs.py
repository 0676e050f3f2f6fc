"""Where a report's runs come from: saved ``llmbox bench -f json`` files, or directories of them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llmbox.errors import UsageError
from llmbox.results import BenchReport


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for the ``*.json`` files in it (sorted). A file named
    twice (or also found in a directory given) counts once."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if p.is_file())
            if not found:
                raise UsageError(
                    f"{path} holds no .json files",
                    hint="give files written by llmbox bench -f json (or --output json:PATH)",
                )
            out += found
        else:
            out.append(path)
    seen: set[Path] = set()
    unique = []
    for path in out:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def load_files(paths: Iterable[Path]) -> list[BenchReport]:
    """Each file read and checked against the ``llmbox.bench/1`` schema; the first bad one raises
    a UsageError naming it (and the field)."""
    return [BenchReport.load(p) for p in expand(paths)]

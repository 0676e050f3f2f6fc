"""The store costs nothing to commands that do not use it, and never pulls in the terminal."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

STORE_MODULES = ("llmbox.store", "sqlite3", "_sqlite3", "platformdirs", "psycopg")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("argv", [["--help"], ["bench", "--help"], ["history", "--help"]])
def test_help_imports_no_store(argv: list[str]) -> None:
    loaded = _modules_after(
        "from llmbox.cli import app\n"
        f"try: app({argv!r}, prog_name='llmbox')\n"
        "except SystemExit: pass"
    )
    assert not {m for m in loaded if m.startswith(STORE_MODULES)}


@pytest.mark.parametrize("tags", [[], ["--tag", "ci=nightly"]], ids=["untagged", "tagged"])
def test_a_bench_that_does_not_save_imports_no_store(fake_ollama: Any, tags: list[str]) -> None:
    loaded = _modules_after(
        "from llmbox.cli import app\n"
        f"try: app(['bench', 'llama3.2', '--host', {fake_ollama.url!r}, '--runs', '1', "
        f"'--warmup', '0', '--max-tokens', '4', '-q', '--no-save', *{tags!r}], prog_name='llmbox')\n"
        "except SystemExit as exit: assert not exit.code, exit.code"
    )
    assert "llmbox.bench.session" in loaded  # it did run
    store = {m for m in loaded if m.startswith(STORE_MODULES)}
    if not tags:
        assert not store
    else:  # a --tag is still checked, by the store's small parsing module: no database code
        assert store <= {"llmbox.store", "llmbox.store.bench", "llmbox.store._report"}


def test_the_store_needs_neither_typer_nor_rich_nor_psycopg_for_sqlite() -> None:
    loaded = _modules_after(
        "import tempfile, pathlib\n"
        "from llmbox.store import open_store, find_regressions, resolve_baseline\n"
        "from llmbox.store._transfer import read_file\n"
        "with open_store(str(pathlib.Path(tempfile.mkdtemp()) / 'h.db')) as s: s.runs()"
    )
    assert not {m for m in loaded if m.split(".")[0] in ("typer", "rich", "click", "psycopg")}


def test_saving_loads_only_the_write_path() -> None:
    loaded = _modules_after(
        "import tempfile, pathlib\n"
        "from llmbox.store import open_store\n"
        "open_store(str(pathlib.Path(tempfile.mkdtemp()) / 'h.db')).close()"
    )
    assert "llmbox.store._store" in loaded
    assert not {"llmbox.store._query", "llmbox.store.regress", "pydantic"} & loaded


def test_public_names_resolve() -> None:
    import llmbox.store as store

    for name in store.__all__:
        assert getattr(store, name) is not None
    assert sorted(store.__all__) == sorted(store._WHERE)
    with pytest.raises(AttributeError):
        store.nothing_here  # noqa: B018


def test_store_benchmark_runs_quick() -> None:
    # benchmarks/store.py in its tiny configuration, so the script cannot rot (no timing asserted).
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "store.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names = [f["name"] for f in json.loads(done.stdout)]
    assert any(n.startswith("bench: what saving adds, counted") for n in names)
    assert any(n.startswith("bench: wall time saving adds to a run") for n in names)
    assert any(n.startswith("bench: what saving adds to a run") for n in names)
    assert any(n.startswith("bench: what saving adds, server answering at once") for n in names)
    assert any(n.startswith("saving a run, end to end") for n in names)
    assert any(n.startswith("history (newest 20, table) over") for n in names)

"""Every `llmbox …` command shown in README.md and docs/*.md runs, against the fake Ollama server.

How a doc is read:

- fenced blocks (```bash, sh, shell, console, yaml or untagged); a line is a command when it
  starts with ``llmbox`` (after an optional ``$ ``, ``- run: `` or ``run: ``); ``&&`` chains are
  split; ``# comments`` are dropped;
- a synopsis line with ``[optional parts]`` runs twice: without them, and with each one (the
  first of ``a|b|c`` alternatives);
- the lines of one file run in order, in one scratch directory (``configs/`` is there, so are the
  files a reader is assumed to have: ``photo.jpg``, benchmark results ``before.json``,
  ``after.json``, ``main.json``, ``branch.json``, ``a.json``, ``b.json``, ``run.json`` and
  ``runs/`` from the fake, and ``bench.json`` measured on a
  real M2), against one fake server that holds every model the docs name.

A command passes when it exits with an expected code (0; 0 or 5 when it sets a CI gate) and
prints no traceback and no "please report it". A doc marks a block that cannot run here with an
HTML comment on the line before its fence, which readers don't see:

    <!-- docs-test: skip needs a real Ollama (or: real hardware, a GPU, …) -->
    <!-- docs-test: exit 0,1 -->

or a single line in ``EXPECT`` below (keyed by the command as written). A failure names the file,
the line, the command, its exit code and the end of its output.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fakes.ollama import FakeModel, FakeOllama, RegistryModel

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
MARK = re.compile(r"<!--\s*docs-test:\s*(skip|exit)\s*(.*?)\s*-->")
LANGS = {"", "bash", "sh", "shell", "console", "yaml", "yml"}
GATES = ("--fail-under", "--fail-over", "--max-regression", "--baseline")

#: Command as written in a doc -> the exit codes it may end with, or the reason it cannot run.
EXPECT: dict[str, set[int] | str] = {
    "llmbox fleet status --inventory fleet.yaml": "needs an inventory of real hosts "
    "(docs/fleet.md's commands run against fake stations in tests/fleet/test_docs.py)",
}

#: Models the docs name: installed on the fake, and in its registry for `pull`/`sync`.
DOC_MODELS = ["llama3.2:3b", "llama3.2:1b", "llama3.1:8b", "llama3.2:latest", "qwen2.5:0.5b"]


@dataclass
class DocCommand:
    path: Path
    line: int
    text: str  # as written (the synopsis form, for a synopsis)
    argv: list[str]
    expect: set[int] = field(default_factory=lambda: {0})
    skip: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _variants(command: str) -> list[list[str]]:
    """A synopsis ``chips [--vendor a|b] [-f json]``: without and with its optional parts.

    >>> _variants("chips [--vendor apple|nvidia] [-f json]")
    [['chips'], ['chips', '--vendor', 'apple', '-f', 'json']]
    """
    if "[" not in command:
        return [shlex.split(command)]
    bare = re.sub(r"\s*\[[^\]]*\]", "", command)
    full = re.sub(r"\[([^\]]*)\]", lambda m: re.sub(r"(\S+?)\|\S+", r"\1", m.group(1)), command)
    return [shlex.split(bare), shlex.split(full)]


def _chain(words: list[str]) -> list[str]:
    """``a && b`` -> ``["a", "b"]``, each re-quoted as a shell would read it."""
    parts: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            parts.append([])
        else:
            parts[-1].append(word)
    return [shlex.join(p) for p in parts if p]


def _commands_in(path: Path) -> list[DocCommand]:
    text = path.read_text(encoding="utf-8")
    found: list[DocCommand] = []
    for block in FENCE.finditer(text):
        if block.group(1).lower() not in LANGS:
            continue
        before = text[: block.start()].rstrip().splitlines()[-1:] or [""]
        mark = MARK.search(before[0])
        first_line = text[: block.start()].count("\n") + 2
        for offset, raw in enumerate(block.group(2).splitlines()):
            line = re.sub(r"^\s*(?:\$ |- run: |run: )", "", raw).strip()
            if not line.startswith("llmbox "):
                continue
            try:
                words = shlex.split(line, comments=True)
            except ValueError as err:
                pytest.fail(f"{path.relative_to(ROOT)}:{first_line + offset}: {line!r}: {err}")
            chains = " ".join(words).split(" && ") if "[" in line else _chain(words)
            for part in chains:
                if not part.startswith("llmbox "):
                    continue
                for variant in _variants(part.removeprefix("llmbox ")):
                    cmd = DocCommand(path, first_line + offset, part, variant)
                    if any(g in variant for g in GATES):
                        cmd.expect = {0, 5}
                    if mark and mark.group(1) == "skip":
                        cmd.skip = mark.group(2) or "marked skip"
                    elif mark:
                        cmd.expect = {int(c) for c in mark.group(2).split(",")}
                    rule = EXPECT.get(part)
                    if isinstance(rule, str):
                        cmd.skip = rule
                    elif rule is not None:
                        cmd.expect = rule
                    found.append(cmd)
    return found


ALL = {path: _commands_in(path) for path in DOCS}


def _serve_the_docs(fake: FakeOllama) -> None:
    """Every model the docs name, fast enough that a doc's default 1 + 5 runs take milliseconds,
    all on the GPU."""
    for name in DOC_MODELS:
        if fake.find(name) is None:
            fake.add(FakeModel(name))
        fake.registry.setdefault(name, RegistryModel(FakeModel(name)))
    for model in [*fake.models.values(), *(r.model for r in fake.registry.values())]:
        model.prefill_tps, model.decode_tps, model.load_s = 1e6, 1e5, 0.001
        model.size_vram = None  # a healthy server: all on the GPU, so `doctor` exits 0
    fake.pull_chunk = 1 << 30


def _scratch(tmp: Path, fake: FakeOllama, runner: CliRunner) -> None:
    """The files a reader is assumed to have, in the directory the doc's commands run in."""
    (tmp / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
    shutil.copyfile(ROOT / "configs" / "suites" / "sample.png", tmp / "photo.jpg")
    from llmbox.cli import app

    made = runner.invoke(
        app,
        ["bench", "llama3.2", "--runs", "2", "--warmup", "0", "--prompt-tokens", "8",
         "--max-tokens", "4", "-q", "-o", "json:bench.json"],
        env={"OLLAMA_HOST": fake.url},
    )  # fmt: skip
    assert made.exit_code == 0, f"could not make the sample result: {made.output}"
    for name in ("before.json", "after.json", "a.json", "b.json", "run.json"):
        shutil.copyfile(tmp / "bench.json", tmp / name)
    # the CI examples compare `bench qwen3:4b` (pp512 tg128) with a saved run of the same case
    made = runner.invoke(
        app,
        ["bench", "qwen3:4b", "--runs", "2", "--warmup", "0", "-q", "-o", "json:main.json"],
        env={"OLLAMA_HOST": fake.url},
    )
    assert made.exit_code == 0, f"could not make the sample result: {made.output}"
    shutil.copyfile(tmp / "main.json", tmp / "branch.json")
    (tmp / "runs").mkdir()
    shutil.copyfile(tmp / "bench.json", tmp / "runs" / "nightly.json")
    # hw-estimate calibrates on a real machine's numbers: a run measured on an M2
    shutil.copyfile(ROOT / "tests" / "hw" / "data" / "bench_m2.json", tmp / "bench.json")


def test_the_docs_show_commands() -> None:
    assert len(ALL[ROOT / "README.md"]) >= 8
    assert sum(len(c) for c in ALL.values()) >= 30


def test_every_expectation_names_a_command_in_the_docs() -> None:
    written = {c.text for cmds in ALL.values() for c in cmds}
    stale = sorted(set(EXPECT) - written)
    assert not stale, f"EXPECT names commands no doc shows any more: {stale}"


# The README's open-loop example keeps ~30 s of load per rate on schedule (0.5, 1, 2 req/s):
# ~90 s of real time, beyond the suite's 120 s per-test limit on a busy 2-core machine.
@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", [p for p in DOCS if ALL[p]], ids=lambda p: p.name)
def test_doc_commands_run(
    path: Path,
    fake_ollama: FakeOllama,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llmbox.cli import app

    _serve_the_docs(fake_ollama)
    runner = CliRunner()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    monkeypatch.setenv("LLMBOX_DEBUG", "")  # restored after the test, whatever a command sets
    _scratch(work, fake_ollama, runner)
    failures, skipped = [], []
    for cmd in ALL[path]:
        if cmd.skip:
            skipped.append(f"{cmd.where}: {cmd.text} ({cmd.skip})")
            continue
        result = runner.invoke(app, cmd.argv)
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        output = result.output
        problems = []
        if result.exit_code not in cmd.expect:
            problems.append(f"exit {result.exit_code}, expected {sorted(cmd.expect)}")
        if crashed or "Traceback" in output or "please report it" in output:
            problems.append(f"internal error {type(result.exception).__name__}")
        if problems:
            tail = "\n".join(f"      | {line}" for line in output.rstrip().splitlines()[-12:])
            failures.append(
                f"{cmd.where}: llmbox {shlex.join(cmd.argv)}\n    {'; '.join(problems)}\n{tail}"
            )
    assert not failures, (
        f"{len(failures)} command(s) shown in {path.name} fail against the fake server (fix the "
        "doc or the code; a command that needs a real Ollama or real hardware gets "
        "`<!-- docs-test: skip REASON -->` before its block, or a line in EXPECT in "
        "tests/test_docs_commands.py):\n\n" + "\n\n".join(failures)
    )

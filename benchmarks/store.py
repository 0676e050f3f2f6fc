"""The results store: what saving a run adds to ``bench``, and ``history`` over 10,000 runs.

    python benchmarks/store.py [--quick] [--json]

- *What saving adds to bench* (the budget): pairs of fresh bench processes, with the store and
  with ``--no-save``, interleaved, against a server that answers like a model on a laptop; in
  each, the store's own time on the main thread (importing it, checking ``--db`` before the
  first request, the save after the last) plus how much longer the warm-up took than the
  ``--no-save`` one's (the store is opened on a thread beside it); the median over 41 pairs.
  Beside it, the same against a server that answers at once (nothing to hide the open behind:
  a check), and the difference counted: a whole ``llmbox bench`` (start-up, pre-flight, one
  short request against the local fast server, output, exit) under valgrind with the store and
  with ``--no-save``, the difference in CPU instructions (the same on every run, to a few
  thousand of ~1.4 billion: the figure to track across commits); and timed as pairs of whole
  sessions with and without the store, the median of the paired differences (a check; on this
  shared 2-core VM their spread is tens of ms).
- *Save, end to end*: a fresh process that has already imported what ``llmbox bench`` imports
  (the session, the report model, the exporters) then imports the store, opens the SQLite file
  in the user data directory and saves a realistic report (tests/report/golden/report.json:
  2 models × 2 cases, 22 requests); the wall time of that, median over many processes. Also the
  same save repeated inside one process, and the first save that creates the file.
- *History*: a store with 10,000 such runs (``--quick``: 100), then ``llmbox history`` and its
  variants as a user runs them (fresh processes, wall time including start-up), median of 5.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _common import ROOT, Figure, log, main, median, server

GOLDEN = ROOT / "tests" / "report" / "golden" / "report.json"
_SCRIPT = Path(sys.executable).with_name("llmbox")
LLMBOX = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "llmbox"]
SAVE_BUDGET_MS = 5.0
HISTORY_BUDGET_S = 1.0

_SAVE_CHILD = """
import json, sys, time
import llmbox.bench.session, llmbox.report.exporters  # what a bench run has loaded by now
data = json.loads(sys.stdin.read())
t0 = time.perf_counter()
from llmbox.store import open_store
t1 = time.perf_counter()
store = open_store()
t2 = time.perf_counter()
store.save(data, tags={"git": "abc123"})
t3 = time.perf_counter()
store.close()
t4 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0]))
"""
PARTS = ("import", "open", "save", "close", "total")

# A whole bench session (pre-flight, one short request, save) against the local fast server, as
# ``llmbox bench`` runs it, with the store or with --no-save; the wall time of the session.
_SESSION_CHILD = """
import json, sys, time
from llmbox.cli import tune_collector
tune_collector()  # as the llmbox command does first
import llmbox.bench.session as session, llmbox.report.exporters
from llmbox.bench.plan import BenchOptions, build_plan
plan = build_plan(BenchOptions(models=["bench"], host=sys.argv[1], runs=1, warmup=0,
                               max_tokens="8", prompt_tokens="32"))
t0 = time.perf_counter()
history = None
if sys.argv[2] == "save":
    from llmbox.store.bench import StoreHistory  # what the command imports when saving
    history = StoreHistory(None)
outcome = session.run_bench(plan, history=history)
t1 = time.perf_counter()
assert (outcome.saved is not None) == (sys.argv[2] == "save"), outcome
print(json.dumps(t1 - t0))
"""


# The same session with a warm-up, timing the store's share on the main thread: importing it,
# checking --db (before the first request), the wait for the store opened beside the first
# warm-ups (at their end), and the save (after the last request). The open itself runs on a
# thread while the server answers the warm-up; what it costs the main thread there shows as a
# longer warm-up, so the child also times the warm-up window, and a --no-save child the same
# window without the store: the pair's difference is that cost.
_PARTS_CHILD = """
import contextlib, json, sys, time
from llmbox.cli import tune_collector
tune_collector()  # as the llmbox command does first
import llmbox.bench.session as session, llmbox.report.exporters
from llmbox.bench.plan import BenchOptions, build_plan
url, mode = sys.argv[1], sys.argv[2]
plan = build_plan(BenchOptions(models=["bench"], host=url, runs=1, max_tokens="8",
                               prompt_tokens="32"))  # the default warm-up: one run
clock = time.perf_counter
spent = {}
t0 = clock()
if mode == "save":
    from llmbox.store.bench import StoreHistory
    history = StoreHistory(None)
else:
    history = session.FilesOnly()
spent["import"] = clock() - t0
def timed(name, method):
    def run(*args):
        start = clock()
        try:
            return method(*args)
        finally:
            spent[name] = clock() - start
    return run
history.check = timed("check", history.check)
history.save = timed("save", history.save)
beside = history.warming_up
@contextlib.contextmanager
def window():
    start = clock()
    with beside():
        spent["start"] = clock() - start
        yield
        end = clock()
    spent["wait"] = clock() - end
    spent["window"] = clock() - start
history.warming_up = window
outcome = session.run_bench(plan, history=history)
assert (outcome.saved is not None) == (mode == "save"), outcome
print(json.dumps({k: v * 1000 for k, v in spent.items()}))
"""
SESSION_PARTS = ("import", "check", "start", "wait", "save")
MAIN_PARTS = ("import", "check", "save")
#: A server that answers like a 3-8 B model on a laptop: the warm-up's first answer ~70 ms.
LAPTOP = ("--prefill-tps", "500", "--decode-tps", "50")


def variant(base: dict[str, Any], i: int, when: datetime) -> dict[str, Any]:
    """The golden report as if run at ``when``, its speeds drifting a little with ``i``."""
    data = copy.deepcopy(base)
    data["started_at"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    data["finished_at"] = (when + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    factor = 1 + 0.01 * ((i * 7919) % 11 - 5) / 5
    for result in data["results"]:
        for run in result["runs"]:
            run["eval_duration_ns"] = round(run["eval_duration_ns"] * factor)
        if decode := result["summary"].get("decode_tps"):
            result["summary"]["decode_tps"] = {
                k: v if k == "n" or v is None else v / factor for k, v in decode.items()
            }
    return data


def _env(data_home: Path) -> dict[str, str]:
    # Without byte-code caching every run would compile llmbox from source: users have .pyc.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LLMBOX_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["XDG_DATA_HOME"] = str(data_home)
    return env


def measure_save(base: dict[str, Any], rounds: int) -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory(prefix="llmbox-bench-store-") as tmp:
        env = _env(Path(tmp))
        now = datetime.now(timezone.utc)

        def child(i: int, env: dict[str, str] = env) -> dict[str, float]:
            done = subprocess.run(
                [sys.executable, "-c", _SAVE_CHILD],
                input=json.dumps(variant(base, i, now - timedelta(hours=i))),
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"saving child failed: {done.stderr[-2000:]}")
            return dict(zip(PARTS, (v * 1000 for v in json.loads(done.stdout)), strict=True))

        child(0, _env(Path(tmp) / "warm-up"))  # writes the byte-code caches
        first = child(1)["total"]  # creates the file and its tables
        samples = [child(i) for i in range(2, rounds + 2)]
        med = {part: median([s[part] for s in samples]) for part in PARTS}
        best = min(s["total"] for s in samples)
        figures.append(
            Figure(
                "Store",
                "saving a run, end to end (import + open + save + close, fresh process)",
                med["total"],
                "ms",
                note=f"median of {rounds} processes (fastest {best:.1f} ms); SQLite in the user "
                "data dir; 2 models × 2 cases, 22 requests; "
                + ", ".join(f"{p} {med[p]:.1f}" for p in PARTS[:-1])
                + " ms (close = WAL checkpoint, an fsync)",
            )
        )
        figures.append(
            Figure(
                "Store",
                "bench: first save (creates the file and tables)",
                first,
                "ms",
                note="once per machine",
            )
        )
        os.environ["XDG_DATA_HOME"] = tmp
        from llmbox.store import open_store

        with open_store() as store:
            warm = []
            for i in range(rounds):
                data = variant(base, 10_000 + i, now - timedelta(days=1, hours=i))
                t0 = time.perf_counter()
                store.save(data)
                warm.append((time.perf_counter() - t0) * 1000)
        figures.append(
            Figure(
                "Store",
                "save, store already open (in-process)",
                median(warm),
                "ms",
                note=f"median of {rounds}",
            )
        )
    return figures


def measure_parts(rounds: int, mode: str = "paced") -> list[Figure]:
    """What saving adds to a bench run (see _PARTS_CHILD): for each of ``rounds`` interleaved
    pairs of fresh processes, the store's time on the main thread plus how much longer its
    warm-up window was than the --no-save one's; the median over the pairs. ``paced``: a server
    that answers like a model on a laptop (the budget's); ``fast``: one that answers at once."""
    args = LAPTOP if mode == "paced" else ()
    with (
        tempfile.TemporaryDirectory(prefix="llmbox-bench-parts-") as tmp,
        server(mode, *args) as url,
    ):
        env = _env(Path(tmp))

        def child(saving: str) -> dict[str, float]:
            done = subprocess.run([sys.executable, "-c", _PARTS_CHILD, url, saving],
                                  capture_output=True, text=True, env=env, check=False)  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"bench parts child failed: {done.stderr[-2000:]}")
            parts: dict[str, float] = json.loads(done.stdout)
            return parts

        child("save"), child("no-save")  # byte-code caches, and the store's file and tables
        pairs = []
        for i in range(rounds):  # alternate which goes first: the machine drifts
            if i % 2:
                a = child("save")
                b = child("no-save")
            else:
                b = child("no-save")
                a = child("save")
            pairs.append((a, b))
    own = [sum(a[p] for p in MAIN_PARTS) for a, _ in pairs]  # the window holds start and wait
    longer = [a["window"] - b["window"] for a, b in pairs]
    totals = sorted(o + w for o, w in zip(own, longer, strict=True))
    added = median(totals)
    part = {p: median([a[p] for a, _ in pairs]) for p in SESSION_PARTS}
    parts = ", ".join(f"{p} {part[p]:.2f}" for p in MAIN_PARTS)
    spread = f"p25 {totals[len(totals) // 4]:.1f}, p75 {totals[3 * len(totals) // 4]:.1f} ms"
    window = median([b["window"] for _, b in pairs])
    if mode == "paced":
        return [
            Figure(
                "Store",
                "bench: what saving adds to a run (the store's main-thread time + longer warm-up)",
                added,
                "ms",
                f"≤ {SAVE_BUDGET_MS:g} ms",
                added <= SAVE_BUDGET_MS,
                f"median of {rounds} interleaved pairs of fresh bench processes ({spread}); a "
                f"server answering like a model on a laptop (500 prompt, 50 output tok/s; warm-up "
                f"{window:.0f} ms): the warm-up longer by {median(longer):.2f} ms (of which "
                f"starting the open's thread {part['start']:.2f}, waiting for it "
                f"{part['wait']:.2f}), the rest {median(own):.2f} ms ({parts} ms)",
            )
        ]
    return [
        Figure(
            "Store",
            "bench: what saving adds, server answering at once (a check)",
            added,
            "ms",
            "",
            None,
            f"median of {rounds} pairs ({spread}); warm-up {window:.1f} ms, shorter than the "
            f"open's 10 ms head start: the main thread opens the store itself (in the wait, "
            f"{part['wait']:.2f} ms; {parts} ms), as before the open moved beside the warm-up",
        )
    ]


def measure_session(rounds: int) -> list[Figure]:
    """What saving adds to a whole bench run: sessions with and without the store, interleaved
    in fresh processes, the median of the paired differences."""
    with tempfile.TemporaryDirectory(prefix="llmbox-bench-session-") as tmp, server("fast") as url:
        env = _env(Path(tmp))

        def child(mode: str) -> float:
            done = subprocess.run([sys.executable, "-c", _SESSION_CHILD, url, mode],
                                  capture_output=True, text=True, env=env, check=False)  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"bench session child failed: {done.stderr[-2000:]}")
            return float(json.loads(done.stdout)) * 1000

        child("save"), child("no-save")  # byte-code caches, and the store's file and tables
        pairs = [(child("save"), child("no-save")) for _ in range(rounds)]
    diffs = [a - b for a, b in pairs]
    added = median(diffs)
    spread = sorted(diffs)
    return [
        Figure(
            "Store",
            "bench: wall time saving adds to a run (with the store - --no-save)",
            added,
            "ms",
            "",
            None,
            f"timed, a check: median of {rounds} interleaved pairs of fresh "
            "processes (p25 "
            f"{spread[len(spread) // 4]:.1f}, p75 {spread[3 * len(spread) // 4]:.1f} ms); session "
            f"{median([b for _, b in pairs]):.1f} ms without the store; one open per run, the "
            "WAL checkpoint on close in a thread (not in this figure)",
        )
    ]


def build(url: str, base: dict[str, Any], runs: int) -> float:
    from llmbox.store import open_store

    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    t0 = time.perf_counter()
    with open_store(url) as store:
        for i in range(runs):
            tags = {"ci": "nightly"} if i % 10 == 0 else {}
            store.save(variant(base, i, start + timedelta(hours=i)), tags=tags)
            if i % 2000 == 1999:
                log(f"store: {i + 1}/{runs} runs saved")
    return time.perf_counter() - t0


def measure_history(base: dict[str, Any], runs: int, rounds: int) -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory(prefix="llmbox-bench-history-") as tmp:
        path = Path(tmp) / "history.db"
        seconds = build(str(path), base, runs)
        figures.append(
            Figure("Store", f"filling a store with {runs:,} runs", seconds / runs * 1000,
                   "ms/run", note=f"{path.stat().st_size / runs / 1024:.0f} KiB per run on disk")
        )  # fmt: skip
        commands = {
            "history (newest 20, table)": ["history"],
            "history -n 0 -f json (all runs)": ["history", "-n", "0", "-f", "json"],
            "history --model qwen3:4b --tag ci=nightly -n 0": [
                "history", "--model", "qwen3:4b", "--tag", "ci=nightly", "-n", "0",
            ],
            "history show ID -f json": ["history", "show", str(runs // 2), "-f", "json"],
            "history regressions": ["history", "regressions"],
        }  # fmt: skip
        env = _env(Path(tmp))
        env["LLMBOX_DB"] = str(path)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():  # untimed: byte-code and page caches
            subprocess.run([*LLMBOX, *argv], capture_output=True, env=env, check=True)
        for _ in range(rounds):
            for name, argv in commands.items():
                t0 = time.perf_counter()
                subprocess.run([*LLMBOX, *argv], capture_output=True, env=env, check=True)
                times[name].append(time.perf_counter() - t0)
        for name, ts in times.items():
            med = median(ts)
            budget = name != "history regressions"
            figures.append(
                Figure(
                    "Store",
                    f"{name} over {runs:,} runs",
                    med,
                    "s",
                    f"≤ {HISTORY_BUDGET_S:g} s" if budget else "",
                    med <= HISTORY_BUDGET_S if budget else None,
                    f"median of {rounds}, fresh process"
                    + ("" if budget else "; each run's summary of every series, informational"),
                )
            )
    return figures


def _bench_command(url: str, *extra: str) -> list[str]:
    return [*LLMBOX, "bench", "bench", "--host", url, "--runs", "1", "--warmup", "0",
            "--max-tokens", "8", "--prompt-tokens", "32", *extra]  # fmt: skip


def _instructions(cmd: list[str], env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         f"--log-file={log_file}", *cmd],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip


def _read_refs(log_file: Path) -> int:
    for line in log_file.read_text(encoding="utf-8").splitlines():
        if "I   refs:" in line or "I refs:" in line:
            return int(line.rsplit(":", 1)[1].replace(",", "").strip())
    raise RuntimeError(f"no instruction count in {log_file}")


def measure_counted(rounds: int) -> list[Figure]:
    """What saving adds to a whole ``llmbox bench``, counted rather than timed: the CPU
    instructions of the command with the store and with --no-save under valgrind (the same count
    on every run, to a few thousand), for tracking the cost across commits where wall-clock
    differences of a few ms are lost in this shared VM's noise. Converted at the command's average
    speed it reads low: the store's code is cold (mapping libsqlite3, opening files), so the
    timed row holds the budget."""
    name = "bench: what saving adds, counted (CPU instructions of the whole command)"
    if shutil.which("valgrind") is None:
        why = "valgrind is not installed (apt-get install valgrind): not measured"
        return [Figure("Store", name, None, "M instr", "", None, why)]
    import resource

    with tempfile.TemporaryDirectory(prefix="llmbox-bench-count-") as tmp, server("fast") as url:
        env = {**_env(Path(tmp)), "PYTHONHASHSEED": "0"}
        save, no_save = _bench_command(url), _bench_command(url, "--no-save")
        subprocess.run(save, capture_output=True, env=env, check=True)  # creates the store
        logs = {mode: Path(tmp) / f"{mode}.log" for mode in ("save", "no-save")}
        procs = [_instructions(cmd, env, logs[mode])
                 for mode, cmd in (("save", save), ("no-save", no_save))]  # fmt: skip
        if any(p.wait() != 0 for p in procs):
            raise RuntimeError("a bench under valgrind failed")
        refs = {mode: _read_refs(log) for mode, log in logs.items()}
        cpu = []
        for _ in range(rounds):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(no_save, capture_output=True, env=env, check=True)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    added = refs["save"] - refs["no-save"]
    per_ms = refs["no-save"] / (median(cpu) * 1000)
    return [
        Figure(
            "Store",
            name,
            added / 1e6,
            "M instr",
            "",
            None,
            f"valgrind, the same count on every run (--no-save: {refs['no-save'] / 1e6:.0f} M); "
            f"≈ {added / per_ms:.1f} ms at the average speed of the whole command here "
            f"({per_ms / 1e6:.2f} M per ms: median CPU time of {rounds} runs, "
            f"{median(cpu) * 1000:.0f} ms), but the store's cold code (a C library to map, files "
            "to open) runs slower than that average: the timed row below is the budget's",
        )
    ]


def measure(quick: bool) -> list[Figure]:
    base = json.loads(GOLDEN.read_text(encoding="utf-8"))
    figures = measure_counted(rounds=5 if quick else 25)
    figures += measure_session(rounds=5 if quick else 25)
    figures += measure_parts(rounds=5 if quick else 41)
    figures += measure_parts(rounds=5 if quick else 25, mode="fast")
    figures += measure_save(base, rounds=3 if quick else 15)
    figures += measure_history(base, runs=100 if quick else 10_000, rounds=1 if quick else 5)
    return figures


if __name__ == "__main__":
    raise SystemExit(main(measure, __doc__.splitlines()[0]))

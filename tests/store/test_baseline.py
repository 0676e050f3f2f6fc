"""``bench --baseline last|best|ID|tag:KEY=VALUE``: the stored run a new report is compared with."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from llmbox.errors import UsageError
from llmbox.results import BenchReport
from llmbox.store import find_baseline, open_store, resolve_baseline
from tests.store.reports import T0, report, result

DAY = timedelta(days=1)


def test_last_best_id_and_tag(store_url: str) -> None:
    with open_store(store_url) as store:
        slow = store.save(report(started=T0, decode_tps=40), tags={"driver": "550"}).id
        fast = store.save(report(started=T0 + DAY, decode_tps=60), tags={"driver": "555"}).id
        last = store.save(report(started=T0 + 2 * DAY, decode_tps=50)).id
        store.save(report(started=T0 + 3 * DAY, decode_tps=99, machine="other-box"))
        store.save(report(started=T0 + 3 * DAY, results=[result("qwen3:4b", 99.0)]))
        new = report(started=T0 + 4 * DAY, decode_tps=45)

        assert find_baseline(store, "last", like=new).id == last
        assert find_baseline(store, "best", like=new).id == fast
        assert find_baseline(store, str(slow), like=new).id == slow
        assert find_baseline(store, "tag:driver=550", like=new).id == slow
        assert find_baseline(store, "tag:driver", like=new).id == fast  # the latest carrying it
        baseline = resolve_baseline(store, "last", like=new)
        assert isinstance(baseline, BenchReport)
        assert baseline.results[0].summary["decode_tps"].mean == pytest.approx(50, rel=0.05)


def test_the_new_run_itself_and_later_runs_are_not_its_baseline(store_url: str) -> None:
    with open_store(store_url) as store:
        earlier = store.save(report(started=T0)).id
        new = report(started=T0 + DAY)
        store.save(new)  # bench may save before it compares
        store.save(report(started=T0 + 2 * DAY))
        assert find_baseline(store, "last", like=new).id == earlier


def test_best_prefers_runs_covering_more_of_the_cases(store_url: str) -> None:
    both = [result("llama3.2", 50.0), result("llama3.2", 20.0, label="pp64")]
    with open_store(store_url) as store:
        full = store.save(report(started=T0, results=both)).id
        store.save(report(started=T0 + DAY, results=[result("llama3.2", 90.0)]))
        new = report(started=T0 + 2 * DAY, results=both)
        assert find_baseline(store, "best", like=new).id == full


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("last", "no earlier run in .* on machine gpu-box with backend ollama"),
        ("best", "no earlier run"),
        ("42", "no run 42 in"),
        ("tag:ci=nightly", "no stored run is tagged ci=nightly"),
        ("yesterday", "--baseline 'yesterday': not a baseline"),
    ],
)
def test_no_baseline_is_one_clear_error(store_url: str, spec: str, message: str) -> None:
    with open_store(store_url) as store:
        store.save(report(started=T0, machine="elsewhere"))
        with pytest.raises(UsageError, match=message):
            find_baseline(store, spec, like=report(started=T0 + DAY))


def test_a_run_id_beyond_any_store_is_not_found(store_url: str) -> None:
    with open_store(store_url) as store:
        store.save(report(started=T0))
        with pytest.raises(UsageError, match="no run 99999999999999999999 in"):
            find_baseline(store, "99999999999999999999", like=report(started=T0 + DAY))


@pytest.mark.parametrize("spec", ["ID", "tag:driver=550"])
def test_a_named_run_that_measured_nothing_of_this_one_is_refused(
    store_url: str, spec: str
) -> None:
    with open_store(store_url) as store:
        other = store.save(
            report(started=T0, results=[result("llama3.2", 50.0, label="pp64 tg16")]),
            tags={"driver": "550"},
        ).id
        new = report(started=T0 + DAY)  # llama3.2 pp512 tg128
        with pytest.raises(UsageError, match=f"run {other} .*shares no model and case") as err:
            find_baseline(store, str(other) if spec == "ID" else spec, like=new)
        assert "llama3.2 pp64 tg16" in str(err.value)
        assert find_baseline(store, str(other)).id == other  # without a run to match: any run


def _plan(model: str = "llama3.2", label: str = "pp512 tg128") -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(backend="ollama", grid=[(model, SimpleNamespace(label=label))])


def test_a_baseline_from_another_machine_says_so(tmp_path: Path) -> None:
    from llmbox.machine import describe
    from llmbox.store._store import machine_key
    from llmbox.store.bench import StoreHistory

    db = f"sqlite:///{tmp_path / 'h.db'}"
    with open_store(db) as store:
        there = store.save(report(started=T0, machine="other-box")).id
        here = store.save(report(started=T0, machine=machine_key(describe()), decode_tps=51)).id
    _, source = StoreHistory(db).baseline(str(there), _plan())
    assert source == f"run {there} in {tmp_path / 'h.db'}, measured on other-box, not this machine"
    _, source = StoreHistory(db).baseline(str(here), _plan())
    assert source == f"run {here} in {tmp_path / 'h.db'}"


def test_a_baseline_that_is_a_directory_says_so(tmp_path: Path) -> None:
    from llmbox.store.bench import StoreHistory

    with pytest.raises(UsageError, match=f"--baseline {tmp_path}: a directory"):
        StoreHistory(f"sqlite:///{tmp_path / 'h.db'}").baseline(str(tmp_path), _plan())
    with pytest.raises(UsageError, match="not a baseline") as err:
        StoreHistory(f"sqlite:///{tmp_path / 'h.db'}").baseline("lastt", _plan())
    assert "a saved JSON file" in (err.value.hint or "")

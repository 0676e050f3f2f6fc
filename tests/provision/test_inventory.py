"""list/ps/show/rm/load/unload and applying a sync plan, against a scripted transport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from llmbox.client import OllamaClient
from llmbox.errors import ModelNotFound
from llmbox.provision import (
    MachineSpec,
    ModelEntry,
    apply_sync,
    list_models,
    load_model,
    make_plan,
    remove_models,
    running_models,
    show_model,
    unload_model,
)
from tests.provision._mock import FakeClock, MockOllama, pull_lines

T = TypeVar("T")


def _run(mock: MockOllama, call: Callable[[OllamaClient], Coroutine[Any, Any, T]]) -> T:
    async def go() -> T:
        async with mock.client() as client:
            return await call(client)

    return asyncio.run(go())


def test_list_and_ps() -> None:
    mock = MockOllama()
    mock.add("llama3.2:latest")
    models = _run(mock, list_models)
    assert [(m.name, m.id, m.parameter_size, m.quantization) for m in models] == [
        ("llama3.2:latest", "a80c4f17acd5", "3.2B", "Q4_K_M")
    ]
    assert models[0].to_dict()["size"] == 2_019_393_189
    assert _run(mock, running_models) == []
    _run(mock, lambda c: load_model(c, "llama3.2"))
    (running,) = _run(mock, running_models)
    assert running.processor == "7%/93% CPU/GPU"
    assert running.to_dict()["size_vram"] == 2_790_000_000


def test_show_reads_architecture_facts() -> None:
    mock = MockOllama()
    mock.add("llama3.2:latest")
    facts = _run(mock, lambda c: show_model(c, "llama3.2"))
    assert facts.architecture == "llama"
    assert facts.parameter_count == 3212749888
    assert (facts.context_length, facts.embedding_length, facts.block_count) == (131072, 3072, 28)
    assert (facts.head_count, facts.head_count_kv) == (24, 8)
    assert facts.capabilities == ["completion", "tools"]
    with pytest.raises(ModelNotFound, match="model 'nosuch:latest' not found"):
        _run(mock, lambda c: show_model(c, "nosuch"))


def test_rm_unloads_a_loaded_model_first_and_reports_unknown_ones() -> None:
    mock = MockOllama()
    mock.add("a:latest")
    mock.add("b:latest")
    _run(mock, lambda c: load_model(c, "a"))
    changes = _run(mock, lambda c: remove_models(c, ["a", "b", "nosuch"]))
    assert [(c.model, c.ok, c.unloaded) for c in changes] == [
        ("a", True, True), ("b", True, False), ("nosuch", False, False)
    ]  # fmt: skip
    assert changes[2].exit_code == 4
    calls = [(m, p, b.get("keep_alive")) for m, p, b in mock.requests if p != "/api/ps"]
    assert calls[1:3] == [("POST", "/api/generate", 0), ("DELETE", "/api/delete", None)]
    assert mock.installed == {}
    assert mock.loaded == {}


def test_load_reports_where_the_model_landed_and_unload_waits_for_eviction() -> None:
    mock = MockOllama(evict_after_polls=3)
    mock.add("a:latest")
    change = _run(mock, lambda c: load_model(c, "a", keep_alive=-1))
    assert change.running is not None
    assert change.running.expires_at.startswith("2318")
    assert mock.requests[-2][2] == {"model": "a", "keep_alive": -1, "stream": False}
    clock = FakeClock()
    change = _run(mock, lambda c: unload_model(c, "a", sleep=clock.sleep))
    assert change.running is None
    assert clock.sleeps == [0.2, 0.2, 0.2]


def test_unload_gives_up_waiting_but_says_so() -> None:
    mock = MockOllama(evict_after_polls=1000)
    mock.add("a:latest")
    _run(mock, lambda c: load_model(c, "a"))
    clock = FakeClock()
    change = _run(mock, lambda c: unload_model(c, "a", wait_s=1.0, sleep=clock.sleep))
    assert change.running is not None
    assert len(clock.sleeps) == 5


def test_apply_sync_goes_on_after_a_failed_pull_but_holds_the_prune_back() -> None:
    mock = MockOllama(pull_scripts={"new:latest": [pull_lines()]})
    mock.add("keep:latest")
    mock.add("extra:latest")
    spec = MachineSpec(
        models=[
            ModelEntry(name="keep"),
            ModelEntry(name="new", keep_alive="10m"),
            ModelEntry(name="nosuch", preload=True),
        ]
    )
    clock = FakeClock()
    plan = make_plan(spec, _run(mock, list_models), prune=True)
    report = _run(mock, lambda c: apply_sync(c, plan, sleep=clock.sleep, clock=clock))
    assert [r.model for r in report.pulled if r.ok] == ["new"]
    assert report.removed == []  # nosuch is missing: nothing may be removed
    assert (report.missing, report.kept) == (["nosuch"], ["extra:latest"])
    assert [c.model for c in report.loaded] == ["new"]  # nosuch failed to pull: not loaded
    assert set(mock.installed) == {"keep:latest", "new:latest", "extra:latest"}
    assert "/api/delete" not in [r[1] for r in mock.requests]
    assert set(mock.loaded) == {"new:latest"}
    assert report.exit_code == 4
    assert not report.in_sync
    assert report.to_dict()["pulled"][1]["error"] == "pull model manifest: file does not exist"
    assert report.to_dict()["kept"] == ["extra:latest"]
    assert ("extra:latest", "remove", "skipped: 1 listed model(s) missing") in report.rows()


def test_apply_sync_prunes_once_every_listed_model_is_present() -> None:
    mock = MockOllama(pull_scripts={"new:latest": [pull_lines()]})
    mock.add("keep:latest")
    mock.add("extra:latest")
    spec = MachineSpec(models=[ModelEntry(name="keep"), ModelEntry(name="new")])
    clock = FakeClock()
    plan = make_plan(spec, _run(mock, list_models), prune=True)
    report = _run(mock, lambda c: apply_sync(c, plan, sleep=clock.sleep, clock=clock))
    assert [c.model for c in report.removed] == ["extra:latest"]
    assert (report.missing, report.kept, report.exit_code) == ([], [], 0)
    assert set(mock.installed) == {"keep:latest", "new:latest"}


def test_apply_sync_checks_the_server_not_the_pull_result() -> None:
    """A pull that reports success but leaves the model unlisted still holds the prune back."""
    mock = MockOllama(pull_scripts={"new:latest": [pull_lines()]})
    mock.add("extra:latest")
    plan = make_plan(MachineSpec(models=[ModelEntry(name="new")]), [], prune=True)
    plan.to_remove = ["extra:latest"]
    mock.install_on_pull = False
    report = _run(mock, lambda c: apply_sync(c, plan, sleep=FakeClock().sleep))
    assert [r.ok for r in report.pulled] == [True]
    assert (report.missing, report.kept) == (["new"], ["extra:latest"])
    assert report.exit_code == 1
    assert set(mock.installed) == {"extra:latest"}

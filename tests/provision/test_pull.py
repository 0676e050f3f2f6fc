"""The pull core: events, results, retries with backoff on a dropped connection (fake clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llmbox.errors import ModelNotFound, ServerError, ServerUnreachable, StreamError
from llmbox.provision import (
    LayerProgress,
    PullEvent,
    PullFinished,
    PullResult,
    PullRetry,
    PullStarted,
    PullStatus,
    backoff_delay,
    combined_exit_code,
    pull_model,
    pull_models,
)
from tests.provision._mock import DIGEST_A, NOT_EXIST, Drop, FakeClock, MockOllama, pull_lines


def _pull(
    mock: MockOllama, model: str, clock: FakeClock, **kw: Any
) -> tuple[PullResult, list[PullEvent]]:
    events: list[PullEvent] = []

    async def go() -> PullResult:
        async with mock.client() as client:
            return await pull_model(
                client, model, on_event=events.append, sleep=clock.sleep, clock=clock, **kw
            )

    return asyncio.run(go()), events


def test_success_reports_layers_statuses_and_the_installed_digest() -> None:
    mock = MockOllama(pull_scripts={"llama3.2:latest": [pull_lines()]})
    result, events = _pull(mock, "llama3.2", FakeClock())
    assert result.ok
    assert result.status == "success"
    assert result.attempts == 1
    assert result.digest == mock.installed["llama3.2:latest"]["digest"]
    assert result.size == 2_019_393_189
    assert isinstance(events[0], PullStarted)
    statuses = [e.status for e in events if isinstance(e, PullStatus)]
    assert statuses == [
        "pulling manifest",
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    layers = [e for e in events if isinstance(e, LayerProgress)]
    assert [e.completed for e in layers if e.digest == DIGEST_A] == [
        0,
        500_000,
        1_000_000,
        1_500_000,
        2_000_000,
    ]
    assert layers[0].short_digest == "aaaaaaaaaaaa"
    assert isinstance(events[-1], PullFinished)
    assert events[-1].result is result
    assert result.to_dict()["status"] == "success"
    assert "error" not in result.to_dict()


def test_unknown_model_is_model_not_found_with_the_servers_message_and_no_retry() -> None:
    mock = MockOllama()
    clock = FakeClock()
    result, events = _pull(mock, "nosuch", clock)
    assert not result.ok
    assert isinstance(result.error, ModelNotFound)
    assert result.error.message == NOT_EXIST
    assert result.exit_code == 4
    assert clock.sleeps == []
    assert mock.pull_attempts == {"nosuch:latest": 1}
    assert not any(isinstance(e, PullRetry) for e in events)
    assert result.to_dict() | {"seconds": 0} == {
        "model": "nosuch", "ok": False, "status": "failed", "digest": "", "size": 0, "seconds": 0,
        "attempts": 1, "error": NOT_EXIST, "exit_code": 4,
    }  # fmt: skip


def test_dropped_connection_is_retried_after_backoff_and_resumes() -> None:
    lines = pull_lines()
    dropped = [*lines[:4], Drop()]  # half of the big layer, then the connection breaks
    resumed = [lines[0], *lines[4:]]  # Ollama resumes: progress continues from 1 MB
    mock = MockOllama(pull_scripts={"llama3.2:latest": [dropped, resumed]})
    clock = FakeClock()
    result, events = _pull(mock, "llama3.2", clock)
    assert result.ok
    assert result.attempts == 2
    assert clock.sleeps == [1.0]
    retry = next(e for e in events if isinstance(e, PullRetry))
    assert (retry.attempt, retry.retries, retry.delay_s) == (1, 3, 1.0)
    assert "lost mid-stream" in retry.error
    assert [e.attempt for e in events if isinstance(e, PullStarted)] == [1, 2]
    assert result.seconds == pytest.approx(1.0)  # the fake clock only moved during the backoff


def test_retries_give_up_with_exponential_backoff() -> None:
    mock = MockOllama(pull_scripts={"m:latest": [[{"status": "pulling manifest"}, Drop()]]})
    clock = FakeClock()
    result, _ = _pull(mock, "m", clock, retries=3)
    assert not result.ok
    assert isinstance(result.error, StreamError)
    assert result.attempts == 4
    assert mock.pull_attempts["m:latest"] == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert result.exit_code == 1


def test_no_retries_means_one_attempt() -> None:
    mock = MockOllama(pull_scripts={"m:latest": [[Drop()]]})
    clock = FakeClock()
    result, _ = _pull(mock, "m", clock, retries=0)
    assert not result.ok
    assert clock.sleeps == []
    assert result.attempts == 1


def test_a_stream_that_ends_before_success_is_retried() -> None:
    short = pull_lines()[:3]
    mock = MockOllama(pull_scripts={"m:latest": [short, pull_lines()]})
    clock = FakeClock()
    result, _ = _pull(mock, "m", clock)
    assert result.ok
    assert result.attempts == 2
    assert clock.sleeps == [1.0]


def test_an_error_line_mid_pull_is_retried_but_a_bad_request_is_not() -> None:
    flaky = [{"status": "pulling manifest"}, {"error": "max retries exceeded: EOF"}]
    mock = MockOllama(pull_scripts={"m:latest": [flaky, pull_lines()]})
    result, _ = _pull(mock, "m", FakeClock())
    assert result.ok
    assert result.attempts == 2

    bad = MockOllama(pull_scripts={"Bad Name:latest": [(400, {"error": "invalid model name"})]})
    clock = FakeClock()
    result, _ = _pull(bad, "Bad Name", clock)
    assert isinstance(result.error, ServerError)
    assert result.error.status == 400
    assert result.attempts == 1
    assert clock.sleeps == []


def test_busy_server_is_retried() -> None:
    busy = (503, {"error": "server busy, please try again.  maximum pending requests exceeded"})
    mock = MockOllama(pull_scripts={"m:latest": [busy, pull_lines()]})
    result, _ = _pull(mock, "m", FakeClock())
    assert result.ok
    assert result.attempts == 2


def test_pull_models_goes_on_after_a_failure() -> None:
    mock = MockOllama(pull_scripts={"a:latest": [pull_lines()], "c:latest": [pull_lines()]})
    clock = FakeClock()

    async def go() -> list[PullResult]:
        async with mock.client() as client:
            return await pull_models(client, ["a", "nosuch", "c"], sleep=clock.sleep, clock=clock)

    results = asyncio.run(go())
    assert [r.ok for r in results] == [True, False, True]
    assert combined_exit_code(results) == 4
    assert set(mock.installed) == {"a:latest", "c:latest"}


def test_pull_models_fails_fast_when_nothing_listens() -> None:
    from llmbox.client import OllamaClient

    async def go() -> None:
        async with OllamaClient(host="http://127.0.0.1:9") as client:
            await pull_models(client, ["a"])

    with pytest.raises(ServerUnreachable):
        asyncio.run(go())


def test_backoff_and_exit_code_helpers() -> None:
    assert [backoff_delay(n, 0.5) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    ok = PullResult("a", True, 1.0)
    nf = PullResult("b", False, 1.0, error=ModelNotFound("b"))
    se = PullResult("c", False, 1.0, error=StreamError("x"))
    assert combined_exit_code([ok]) == 0
    assert combined_exit_code([ok, nf]) == 4
    assert combined_exit_code([nf, se]) == 1


def test_cli_retries_default_matches_the_core() -> None:
    from llmbox.cli import models
    from llmbox.provision import DEFAULT_RETRIES

    assert models._RETRIES == DEFAULT_RETRIES

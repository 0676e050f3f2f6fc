"""The client keeps up: uvloop (``llmbox[fast]``) runs the async core when installed."""

from __future__ import annotations

import asyncio
import sys
import types

import pytest

from llmbox import aio


def test_uvloop_is_used_when_installed_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("uvloop")
    fake.run = lambda coro: ("uvloop", asyncio.run(coro))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "uvloop", fake)

    async def answer() -> int:
        return 42

    assert aio.run_main(answer()) == ("uvloop", 42)  # type: ignore[comparison-overlap]
    monkeypatch.setenv("LLMBOX_LOOP", "asyncio")
    assert aio.run_main(answer()) == 42


def test_without_uvloop_the_standard_loop_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails

    async def loop_kind() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert aio.run_main(loop_kind()).startswith("asyncio")

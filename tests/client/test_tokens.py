"""The per-token scanner agrees with a full JSON decode of every part, whatever the text holds."""

from __future__ import annotations

import json
import random

import pytest

from llmbox.client._tokens import TokenScanner
from llmbox.errors import StreamError
from tests.fakes.ollama import go_json

TRICKY = [
    "",
    " tok",
    '"done":false}',
    '"thinking":"',
    '"content":""',
    '\\"content\\":\\"\\"',
    "\\",
    '"',
    "}",
    "\u0085",
    "<&>",
    "\n",
    "日本",
]


def _part(chat: bool, text: str, thought: str, done: bool = False) -> dict[str, object]:
    if chat:
        message: dict[str, object] = {"role": "assistant", "content": text}
        if thought:
            message["thinking"] = thought
        return {
            "model": "m",
            "created_at": "2026-01-01T00:00:00Z",
            "message": message,
            "done": done,
        }
    part: dict[str, object] = {"model": "m", "created_at": "2026-01-01T00:00:00Z", "response": text}
    if thought:
        part["thinking"] = thought
    part["done"] = done
    return part


def _expected(parts: list[dict[str, object]], chat: bool) -> list[bool]:
    events = []
    for p in parts:
        fields = p["message"] if chat else p
        assert isinstance(fields, dict)
        if fields.get("thinking"):
            events.append(False)
        if fields.get("content" if chat else "response"):
            events.append(True)
    return events


@pytest.mark.parametrize("chat", [True, False])
@pytest.mark.parametrize("encode", ["go", "spaced", "raw_unicode"])
def test_scanner_matches_full_decode(chat: bool, encode: str) -> None:
    rng = random.Random(7)
    parts = [
        _part(
            chat,
            "".join(rng.choices(TRICKY, k=rng.randint(0, 3))),
            "".join(rng.choices(TRICKY, k=rng.randint(0, 2))),
        )
        for _ in range(400)
    ]
    final = _part(chat, "", "", done=True)
    final.update({"done_reason": "length", "eval_count": 400})
    dump = {
        "go": go_json,
        "spaced": json.dumps,  # a server or proxy that writes ", " and ": "
        "raw_unicode": lambda o: go_json(o, ensure_ascii=False),
    }[encode]
    stream = b"".join(dump(p).encode() + b"\n" for p in [*parts, final])
    seen: list[bool] = []
    scanner = TokenScanner(lambda t, answer: seen.append(answer), chat=chat)
    for i in range(0, len(stream), 37):  # parts split across network chunks
        scanner.feed(stream[i : i + 37], i)
    scanner.close(0)
    assert seen == _expected(parts, chat)
    assert scanner.final is not None
    assert scanner.final["eval_count"] == 400


def test_error_line_raises_with_servers_message() -> None:
    scanner = TokenScanner(lambda t, a: None, chat=True)
    with pytest.raises(StreamError, match="model runner crashed"):
        scanner.feed(
            go_json(_part(True, "a", "")).encode() + b'\n{"error":"model runner crashed"}\n', 1
        )


def test_last_line_without_newline_is_kept() -> None:
    scanner = TokenScanner(lambda t, a: None, chat=False)
    scanner.feed(go_json(_part(False, "", "", done=True)).encode(), 1)
    assert scanner.final is None
    scanner.close(2)
    assert scanner.final is not None

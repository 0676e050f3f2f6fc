"""The fake Ollama speaks real Ollama's protocol: proven with the official client, and on the wire."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import ollama
import pytest

from tests.fakes.ollama import BUSY, FakeModel, FakeOllama, Fault


@pytest.fixture
def client(fake_ollama: FakeOllama) -> Iterator[ollama.Client]:
    client = ollama.Client(host=fake_ollama.url)
    yield client
    client._client.close()  # the official client never closes its httpx.Client


def test_official_client_chat_generate_list_show_ps_pull_delete(client: ollama.Client) -> None:
    assert {m.model for m in client.list().models} >= {"llama3.2:latest", "qwen3:4b"}
    reply = client.chat(
        model="llama3.2",
        messages=[{"role": "user", "content": "hi there"}],
        options={"num_predict": 4},
    )
    assert reply.message.content == " tok0 tok1 tok2 tok3"
    assert (reply.eval_count, reply.done_reason) == (4, "length")
    parts = list(
        client.generate(
            model="llama3.2", prompt="why is the sky blue", stream=True, options={"num_predict": 3}
        )
    )
    assert [p.response for p in parts[:-1]] == [" tok0", " tok1", " tok2"]
    assert parts[-1].done
    assert parts[-1].prompt_eval_count == 8
    assert client.show("llama3.2").modelinfo["llama.block_count"] == 28
    assert [m.model for m in client.ps().models] == ["llama3.2:latest"]
    progress = list(client.pull("smollm2:135m", stream=True))
    assert progress[0].status == "pulling manifest"
    assert progress[-1].status == "success"
    client.delete("smollm2:135m")
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="nope", messages=[{"role": "user", "content": "x"}])
    assert (info.value.status_code, info.value.error) == (404, "model 'nope' not found")


def _lines(response: httpx.Response) -> list[dict[str, object]]:
    raw = response.content
    assert raw.endswith(b"\n")
    assert b"\n\n" not in raw
    return [json.loads(line) for line in raw.split(b"\n") if line]


def test_ndjson_framing_and_omitted_zero_fields(fake_ollama: FakeOllama) -> None:
    r = httpx.post(
        f"{fake_ollama.url}/api/generate",
        json={"model": "llama3.2", "prompt": "a b", "options": {"num_predict": 2}},
    )
    assert r.headers["content-type"] == "application/x-ndjson"
    parts = _lines(r)
    assert all("eval_count" not in p for p in parts[:-1])  # metrics only on the final chunk
    final = parts[-1]
    assert final["done"] is True
    assert final["done_reason"] == "length"
    assert (
        final["total_duration"]
        >= final["load_duration"] + final["prompt_eval_duration"] + final["eval_duration"]
    )
    assert "thinking" not in final
    assert "prompt_eval_cached_count" not in final


def test_errors_before_and_after_first_chunk(fake_ollama: FakeOllama) -> None:
    url = f"{fake_ollama.url}/api/chat"
    body = {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "x"}],
        "options": {"num_predict": 5},
    }
    fake_ollama.inject(Fault("/api/chat", "error", status=503, message="model is overloaded"))
    r = httpx.post(url, json=body)
    assert (r.status_code, r.json()) == (503, {"error": "model is overloaded"})
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    fake_ollama.inject(Fault("/api/chat", "error_after", after=2, message="boom"))
    parts = _lines(httpx.post(url, json=body))
    assert len(parts) == 3
    assert parts[-1] == {"error": "boom"}
    assert httpx.post(url, json={"messages": []}).json() == {"error": "model is required"}
    assert httpx.post(f"{fake_ollama.url}/api/generate", json={"model": ""}).json() == {
        "error": "model '' not found"
    }
    assert httpx.post(url, content=b"").json() == {"error": "missing request body"}
    assert httpx.get(f"{fake_ollama.url}/api/nope").text == "404 page not found"
    assert httpx.get(url).status_code == 405


def test_prompt_cache_counts_all_tokens_but_times_only_new_ones(fake_ollama: FakeOllama) -> None:
    url = f"{fake_ollama.url}/api/generate"
    prompt = " ".join(f"w{i}" for i in range(200))
    first = _lines(
        httpx.post(url, json={"model": "llama3.2", "prompt": prompt, "options": {"num_predict": 1}})
    )[-1]
    again = _lines(
        httpx.post(
            url,
            json={"model": "llama3.2", "prompt": prompt + " more", "options": {"num_predict": 1}},
        )
    )[-1]
    assert again["prompt_eval_count"] == first["prompt_eval_count"] + 1
    assert again["prompt_eval_duration"] < first["prompt_eval_duration"] / 10
    assert fake_ollama.truths[-1]["cached_tokens"] > 190


def test_thinking_tokens_come_first_and_count_in_eval(fake_ollama: FakeOllama) -> None:
    parts = _lines(httpx.post(f"{fake_ollama.url}/api/chat", json={
        "model": "qwen3:4b", "messages": [{"role": "user", "content": "x"}], "options": {"num_predict": 25}}))  # fmt: skip
    thinking = [p for p in parts if p.get("message", {}).get("thinking")]  # type: ignore[union-attr]
    assert len(thinking) == 20
    assert parts[-1]["eval_count"] == 25
    off = httpx.post(f"{fake_ollama.url}/api/chat", json={
        "model": "qwen3:4b", "think": False, "messages": [{"role": "user", "content": "x"}], "options": {"num_predict": 3}})  # fmt: skip
    assert not any(p.get("message", {}).get("thinking") for p in _lines(off))  # type: ignore[union-attr]
    bad = httpx.post(
        f"{fake_ollama.url}/api/chat",
        json={"model": "llama3.2", "think": True, "messages": [{"role": "user", "content": "x"}]},
    )
    assert bad.json() == {"error": '"llama3.2" does not support thinking'}


def test_load_unload_and_ps(fake_ollama: FakeOllama) -> None:
    url = fake_ollama.url
    assert (
        httpx.post(f"{url}/api/generate", json={"model": "llama3.2-vision:11b"}).json()[
            "done_reason"
        ]
        == "load"
    )
    (entry,) = httpx.get(f"{url}/api/ps").json()["models"]
    assert entry["size_vram"] < entry["size"]  # the vision model spills 7% to the CPU
    assert (
        httpx.post(
            f"{url}/api/generate", json={"model": "llama3.2-vision:11b", "keep_alive": 0}
        ).json()["done_reason"]
        == "unload"
    )
    assert httpx.get(f"{url}/api/ps").json() == {"models": []}
    bad = httpx.post(f"{url}/api/generate", json={"model": "llama3.2", "keep_alive": "300"})
    assert bad.json() == {"error": 'time: missing unit in duration "300"'}


def test_pull_progress_and_resume_after_drop(fake_ollama: FakeOllama) -> None:
    fake_ollama.pull_chunk = 1_000_000
    fake_ollama.inject(Fault("/api/pull", "drop", after=3))
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{fake_ollama.url}/api/pull", json={"model": "smollm2:135m"}).read()
    parts = _lines(httpx.post(f"{fake_ollama.url}/api/pull", json={"model": "smollm2:135m"}))
    first_layer = parts[1]
    assert first_layer["status"].startswith("pulling ")
    assert first_layer["completed"] > 0
    assert [p["status"] for p in parts[-3:]] == [
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    unknown = _lines(httpx.post(f"{fake_ollama.url}/api/pull", json={"model": "nope"}))
    assert unknown == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]


def test_queue_full_gives_503_with_ollamas_message(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("slow:1b", decode_tps=50.0))
    fake_ollama.max_queue = 0
    body = {"model": "slow:1b", "prompt": "x", "options": {"num_predict": 10}}
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                httpx.post(f"{fake_ollama.url}/api/generate", json=body).status_code
            )
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 503, 503]
    assert BUSY.count("  ") == 1


def test_go_escaping_and_raw_nel_like_real_ollama(fake_ollama: FakeOllama) -> None:
    fake_ollama.add(FakeModel("nel:1b", reply_text=(" <a&b>", " x\u0085y")))
    r = httpx.post(
        f"{fake_ollama.url}/api/generate",
        json={"model": "nel:1b", "prompt": "x", "options": {"num_predict": 2}},
    )
    assert b"\\u003ca\\u0026b\\u003e" in r.content  # Go escapes <, >, &
    assert "x\u0085y".encode() in r.content  # ...but leaves NEL raw


def test_llmbox_client_reads_raw_nel_that_splitlines_would_break(fake_ollama: FakeOllama) -> None:
    import asyncio

    from llmbox.client import OllamaClient

    fake_ollama.add(FakeModel("nel:1b", reply_text=(" x\u0085y",)))
    assert len(" x\u0085y\n".splitlines()) == 2  # what iter_lines()-based clients would do

    async def go() -> str:
        async with OllamaClient(host=fake_ollama.url) as client:
            parts = [
                p.data
                async for p in client.generate(
                    {"model": "nel:1b", "prompt": "x", "options": {"num_predict": 3}}
                )
            ]
        return "".join(str(p.get("response", "")) for p in parts)

    assert asyncio.run(go()) == " x\u0085y" * 3


def test_pull_faults_mid_download(fake_ollama: FakeOllama) -> None:
    fake_ollama.inject(Fault("/api/pull", "error_after", after=2, message="disk full"))
    parts = _lines(httpx.post(f"{fake_ollama.url}/api/pull", json={"model": "smollm2:135m"}))
    assert parts[-1] == {"error": "disk full"}
    fake_ollama.inject(Fault("/api/pull", "close_after", after=2))
    parts = _lines(httpx.post(f"{fake_ollama.url}/api/pull", json={"model": "smollm2:135m"}))
    assert parts[-1]["status"] != "success"
    assert "smollm2:135m" not in fake_ollama.models

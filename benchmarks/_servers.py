"""A small Ollama-shaped HTTP/1.1 server for llmbox's own benchmarks (127.0.0.1 only).

    python benchmarks/_servers.py fast                       # stream parts as fast as it can
    python benchmarks/_servers.py paced --decode-tps 100     # 10 ms per token, on a fixed schedule
    python benchmarks/_servers.py paced --prefill-tps 2000 --decode-tps 200 --cache

It prints ``PORT <n>`` once listening and exits when its stdin closes or ``--lifetime`` passes.
``/api/generate`` and ``/api/chat`` stream chunked NDJSON, one part per HTTP chunk (Ollama flushes
per token); ``num_predict`` sets how many tokens. The final part's ``prompt_eval_duration`` and
``eval_duration`` are computed from the configured rates, and a paced server really sleeps those
times: tokens go out at ``t_prefill_end + i / decode_tps``, an absolute schedule, so late wake-ups
do not accumulate. ``GET /_truths`` returns (and clears) the server's record of each stream, taken
on ``time.perf_counter_ns()`` (CLOCK_MONOTONIC on Linux, the same clock in every process).

Prompt tokens: ``TEMPLATE`` tokens, then the prompt's words. With ``--cache`` the server reuses
the longest common token prefix with the previous prompt (always evaluating at least one token),
counts every prompt token in ``prompt_eval_count`` and spends ``prompt_eval_duration`` on the
evaluated ones only, as Ollama does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
from time import perf_counter_ns
from typing import Any

#: Chat template tokens before the user's text (e.g. <|begin_of_text|><|start_header_id|>user...).
TEMPLATE = ("<bos>", "<|start_header_id|>", "user", "<|end_header_id|>", "\n\n")
CREATED = "2025-01-01T00:00:00.000000000Z"
DRAIN_EVERY = 64


class Server:
    def __init__(self, args: argparse.Namespace) -> None:
        self.prefill_tps: float = args.prefill_tps
        self.decode_tps: float = args.decode_tps
        self.cache: bool = args.cache
        self.record: bool = args.mode == "paced"
        self.last_prompt: list[str] = []
        self.truths: list[dict[str, Any]] = []

    # -- HTTP plumbing -----------------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                t_recv = perf_counter_ns()
                if path in ("/api/generate", "/api/chat") and method == "POST":
                    await self.stream(writer, path, json.loads(body), t_recv)
                else:
                    self.respond(writer, self.route(method, path))
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    def respond(self, writer: asyncio.StreamWriter, payload: Any) -> None:
        status = "404 Not Found" if payload is None else "200 OK"
        body = _go_json({"error": "not found"} if payload is None else payload).encode()
        writer.write(
            f"HTTP/1.1 {status}\r\ncontent-type: application/json; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )

    def route(self, method: str, path: str) -> Any:
        details = {"family": "bench", "parameter_size": "1B", "quantization_level": "Q4_0"}
        if path == "/api/version":
            return {"version": "0.0.0-bench"}
        if path == "/api/tags":
            return {
                "models": [
                    {"name": "bench:latest", "model": "bench:latest", "size": 1 << 30}
                    | {"digest": "0" * 64, "details": details}
                ]
            }
        if path == "/api/show":
            info = {"general.architecture": "bench", "bench.context_length": 4096}
            return {"details": details, "model_info": info, "capabilities": ["completion"]}
        if path == "/api/ps":
            return {"models": []}
        if path == "/_truths" and method == "GET":
            out, self.truths = self.truths, []
            return out
        return None

    # -- streaming ---------------------------------------------------------------------------

    def prompt_tokens(self, request: dict[str, Any]) -> tuple[int, int]:
        """(all prompt tokens, cached ones)."""
        if "messages" in request:
            text = "".join(str(m.get("content", "")) for m in request["messages"])
        else:
            text = str(request.get("prompt", ""))
        tokens = [*TEMPLATE, *text.split()]
        cached = 0
        if self.cache:
            for a, b in zip(tokens, self.last_prompt, strict=False):
                if a != b:
                    break
                cached += 1
            cached = min(cached, len(tokens) - 1)
            self.last_prompt = tokens
        return len(tokens), cached

    async def stream(
        self, writer: asyncio.StreamWriter, path: str, request: dict[str, Any], t_recv: int
    ) -> None:
        options = request.get("options") or {}
        n_out = int(options.get("num_predict", 128))
        n_prompt, cached = self.prompt_tokens(request)
        prefill_ns = int((n_prompt - cached) / self.prefill_tps * 1e9) if self.prefill_tps else 0
        step_ns = int(1e9 / self.decode_tps) if self.decode_tps else 0
        model = request.get("model", "bench")
        if path == "/api/chat":
            token = {"message": {"role": "assistant", "content": " tok"}}
            last: dict[str, Any] = {"message": {"role": "assistant", "content": ""}}
        else:
            token, last = {"response": " tok"}, {"response": ""}
        part = _go_json({"model": model, "created_at": CREATED, **token, "done": False})
        chunk = _chunk(part.encode() + b"\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        t_first = 0
        t_gen0 = t_recv + prefill_ns
        if prefill_ns:
            await _sleep_until(t_gen0)
        for i in range(1, n_out + 1):
            if step_ns:
                await _sleep_until(t_gen0 + i * step_ns)
            writer.write(chunk)
            if i == 1:
                t_first = perf_counter_ns()
            if step_ns or i % DRAIN_EVERY == 0:
                await writer.drain()
        eval_ns = n_out * step_ns if step_ns else max(perf_counter_ns() - t_gen0, 1)
        final = {
            "model": model,
            "created_at": CREATED,
            **last,
            "done_reason": "length",
            "done": True,
            "total_duration": perf_counter_ns() - t_recv,
            "load_duration": 1_000_000,
            "prompt_eval_count": n_prompt,
            "prompt_eval_duration": prefill_ns or 1,
            "eval_count": n_out,
            "eval_duration": eval_ns,
        }
        writer.write(_chunk(_go_json(final).encode() + b"\n") + b"0\r\n\r\n")
        await writer.drain()
        t_done = perf_counter_ns()
        if self.record:
            self.truths.append(
                {
                    "t_recv_ns": t_recv,
                    "t_first_ns": t_first,
                    "t_done_ns": t_done,
                    "prompt_tokens": n_prompt,
                    "cached_tokens": cached,
                    "eval_count": n_out,
                    "prefill_tps": self.prefill_tps,
                    "decode_tps": self.decode_tps,
                }
            )


def _go_json(obj: Any) -> str:
    """Compact JSON with ``<``, ``>``, ``&`` escaped, as Ollama's Go encoder writes it."""
    text = json.dumps(obj, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _sleep_until(deadline_ns: int) -> None:
    delay = deadline_ns - perf_counter_ns()
    if delay > 0:
        await asyncio.sleep(delay / 1e9)


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()
    os._exit(0)


async def serve(args: argparse.Namespace) -> None:
    app = Server(args)
    srv = await asyncio.start_server(app.handle, "127.0.0.1", 0, backlog=1024)
    port = srv.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    async with srv:
        await asyncio.sleep(args.lifetime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["fast", "paced"])
    parser.add_argument("--prefill-tps", type=float, default=0.0)
    parser.add_argument("--decode-tps", type=float, default=0.0)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--lifetime", type=float, default=600.0)
    args = parser.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()

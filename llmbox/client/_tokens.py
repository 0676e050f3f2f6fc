"""The benchmark's per-token path: turn a generation stream into token events, cheaply.

Every non-final part of an Ollama generation is one token, and all a benchmark needs from it is
its arrival time and whether it carried thinking or answer text. Ollama's Go encoder writes
compact JSON in a fixed field order, where a raw ``"`` can only be structure (inside strings it is
escaped), so a line ending in ``"done":false}`` is a non-final part, and ``"thinking":"`` /
``"content":""`` are unambiguous. Such lines are classified by byte checks; every other line —
the final part, an error line, or any server that writes JSON differently — is fully decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmbox.client._ndjson import decode_line
from llmbox.errors import StreamError

#: on_token(arrival_ns, is_answer): one call per token (thinking tokens: is_answer False).
OnToken = Callable[[int, bool], None]

_TOKEN_PART = b'"done":false}'
_THINKING, _NO_THINKING = b'"thinking":"', b'"thinking":""'


class TokenScanner:
    """Feed network chunks in arrival order; tokens go to ``on_token``, the final part is kept."""

    __slots__ = ("_buffer", "_empty_text", "_field", "_text", "final", "on_token")

    def __init__(self, on_token: OnToken, *, chat: bool) -> None:
        self.on_token = on_token
        self._field = "content" if chat else "response"
        self._text = b'"content":"' if chat else b'"response":"'
        self._empty_text = self._text + b'"'
        self._buffer = b""
        self.final: dict[str, Any] | None = None

    def feed(self, chunk: bytes, t_ns: int) -> None:
        if self._buffer:
            chunk = self._buffer + chunk
        if b"\n" not in chunk:
            self._buffer = chunk
            return
        lines = chunk.split(b"\n")
        self._buffer = lines.pop()
        on_token = self.on_token
        for line in lines:
            if line.endswith(_TOKEN_PART):
                if _THINKING in line and _NO_THINKING not in line:
                    on_token(t_ns, False)
                if self._text in line and self._empty_text not in line:
                    on_token(t_ns, True)
            elif line.strip():
                self._decoded(line, t_ns)

    def close(self, t_ns: int) -> None:
        """The last line, if the stream did not end with a newline."""
        buffer, self._buffer = self._buffer, b""
        if buffer.strip():
            self._decoded(buffer, t_ns)

    def _decoded(self, line: bytes, t_ns: int) -> None:
        data = decode_line(line)
        if "error" in data:
            raise StreamError(str(data["error"]), status=200)
        fields = (data.get("message") or {}) if self._field == "content" else data
        if isinstance(fields, dict):
            if fields.get("thinking"):
                self.on_token(t_ns, False)
            if fields.get(self._field):
                self.on_token(t_ns, True)
        if data.get("done") is True:
            self.final = data

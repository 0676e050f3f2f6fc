"""The one error tree of llmbox, and the exit codes it maps to.

Every error a user can cause or meet carries a one-line message, a hint (the command or flag to
try) and an exit code. The CLI prints them in one place (``llmbox.cli``); the core only raises.

    LlmboxError                 exit 1  runtime failure
    ├── UsageError              exit 2  bad input: an option value, a file, a name
    │   └── ConfigError         exit 2  a config/YAML file is malformed (names file, line, field)
    ├── ServerUnreachable       exit 3  nothing answers at the host
    │   ├── WrongServer         exit 3  something answers, but not the API (an HTML page, …)
    │   └── NoAnswer            exit 3  the server accepted the connection, then stayed silent
    ├── ModelNotFound           exit 4  the server does not have the model
    ├── GateFailed              exit 5  a benchmark gate or regression check failed
    ├── StoreError              exit 6  the results store cannot be opened or written
    ├── ServerError             exit 1  the server answered with an error
    │   └── StreamError         exit 1  the error came mid-stream, or the stream broke off
    ├── RunsFailed              exit 1  a benchmark finished, but some of its runs failed
    └── Interrupted             exit 130  Ctrl-C
        └── Terminated          exit 143  SIGTERM (what CI runners send on timeout)
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    UNREACHABLE = 3
    MODEL_NOT_FOUND = 4
    GATE_FAILED = 5
    STORE = 6
    INTERRUPTED = 130
    TERMINATED = 143


class LlmboxError(Exception):
    """Base of every error llmbox reports to a user."""

    exit_code: int = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(LlmboxError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """A configuration file is invalid; the message names the file, line and field."""


class ServerUnreachable(LlmboxError):
    exit_code = ExitCode.UNREACHABLE

    def __init__(
        self,
        host: str,
        *,
        server: str = "Ollama",
        detail: str | None = None,
        message: str | None = None,
        hint: str | None = None,
    ) -> None:
        what = "is `ollama serve` running? Set OLLAMA_HOST or --host."
        probe = f"{host}/api/version"
        if server != "Ollama":
            what = "is the server running? Check --host."
            probe = f"{host}/v1/models"
        super().__init__(
            message or f"Cannot reach {server} at {host} — {what}",
            hint=hint or f"check with: curl {probe}",
        )
        self.host = host
        self.detail = detail  # the transport's own words, for --debug


class WrongServer(ServerUnreachable):
    """Something answers at the host, but not with the API: a web page, foreign JSON, a 404."""


class NoAnswer(ServerUnreachable):
    """The server accepted the connection but sent no answer within the time limit."""


class ModelNotFound(LlmboxError):
    exit_code = ExitCode.MODEL_NOT_FOUND

    def __init__(
        self,
        model: str,
        *,
        message: str | None = None,
        hint: str | None = None,
        close: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            message or f"model '{model}' not found",
            hint=hint if hint is not None else f"llmbox pull {model}",
        )
        self.model = model
        self.close = close  # installed models whose names look like it (a typo?)


class GateFailed(LlmboxError):
    exit_code = ExitCode.GATE_FAILED


class StoreError(LlmboxError):
    """The results store (``--db`` / ``LLMBOX_DB``) is unreachable, locked, corrupt or too new."""

    exit_code = ExitCode.STORE


class ServerError(LlmboxError):
    """The server answered with an error; ``status`` is the HTTP status (None mid-stream)."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class StreamError(ServerError):
    """An error line arrived after HTTP 200, or the stream ended without ``done: true``."""


class Interrupted(LlmboxError):
    exit_code = ExitCode.INTERRUPTED


class Terminated(Interrupted):
    exit_code = ExitCode.TERMINATED


class RunsFailed(LlmboxError):
    """A benchmark ran to the end but some runs failed; their errors are in the report."""

"""``llmbox doctor``: is the server healthy, and what should the user do about what is not."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from llmbox.client import OllamaClient
from llmbox.errors import LlmboxError, NoAnswer, ServerUnreachable, WrongServer

#: Server variables that change speed or memory (see docs/doctor.md).
PERF_VARS = (
    "OLLAMA_HOST",
    "OLLAMA_NUM_PARALLEL",
    "OLLAMA_MAX_LOADED_MODELS",
    "OLLAMA_MAX_QUEUE",
    "OLLAMA_KEEP_ALIVE",
    "OLLAMA_FLASH_ATTENTION",
    "OLLAMA_KV_CACHE_TYPE",
    "OLLAMA_CONTEXT_LENGTH",
    "OLLAMA_LOAD_TIMEOUT",
    "OLLAMA_SCHED_SPREAD",
    "OLLAMA_GPU_OVERHEAD",
    "OLLAMA_MODELS",
)


@dataclass
class Problem:
    what: str
    advice: str


@dataclass
class LoadedModel:
    name: str
    size: int
    size_vram: int
    processor: str
    context_length: int | None


@dataclass
class DoctorReport:
    host: str
    reachable: bool
    version: str | None = None
    models: list[str] = field(default_factory=list)
    loaded: list[LoadedModel] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: Why Ollama's API could not be reached (nothing answers, another server, silence), if so.
    error: ServerUnreachable | None = field(default=None, repr=False, compare=False)

    @property
    def healthy(self) -> bool:
        return self.reachable and not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, error=None))
        del data["error"]
        return {**data, "healthy": self.healthy}


def _env_problems(env: Mapping[str, str]) -> list[Problem]:
    problems = []
    kv = env.get("OLLAMA_KV_CACHE_TYPE", "").strip().lower()
    fa = env.get("OLLAMA_FLASH_ATTENTION", "").strip().lower()
    if kv in ("q8_0", "q4_0") and fa in ("0", "false", "f"):
        problems.append(
            Problem(
                f"OLLAMA_KV_CACHE_TYPE={kv} needs flash attention, but OLLAMA_FLASH_ATTENTION={fa}",
                "unset OLLAMA_FLASH_ATTENTION (auto) or set it to 1, then restart `ollama serve`",
            )
        )
    if env.get("OLLAMA_KEEP_ALIVE", "").strip() in ("0", "0s", "0m"):
        problems.append(
            Problem(
                "OLLAMA_KEEP_ALIVE=0 unloads the model after every request",
                "every request pays the load time; unset it or use e.g. OLLAMA_KEEP_ALIVE=10m",
            )
        )
    return problems


async def diagnose(client: OllamaClient, env: Mapping[str, str]) -> DoctorReport:
    """Collect the report; never raises for a server that is down, hung or not Ollama
    (``reachable`` is False and ``error`` says why)."""
    visible = {k: env[k] for k in PERF_VARS if env.get(k)}
    report = DoctorReport(host=client.host, reachable=False, env=visible)
    try:
        report.version = await client.version()
    except (WrongServer, NoAnswer) as err:
        report.error = err
        report.problems.append(Problem(err.message, err.hint or ""))
        return report
    except ServerUnreachable as err:
        report.error = err
        what = f"nothing answers at {client.host}"
        if not err.message.startswith("Cannot reach"):  # a cause worth naming (DNS)
            what = err.message
        report.problems.append(
            Problem(
                what,
                "start it with `ollama serve`, or point llmbox at it with --host / OLLAMA_HOST",
            )
        )
        return report
    except LlmboxError as err:  # something answers, but not like Ollama
        said = err.message if client.host in err.message else f"{client.host} said: {err.message}"
        report.error = WrongServer(
            client.host,
            message=f"/api/version did not answer like Ollama: {said}",
            hint="check that --host points at Ollama (not a proxy or another server)",
        )
        report.problems.append(Problem(report.error.message, report.error.hint or ""))
        return report
    report.reachable = True
    try:
        report.models = [m.name for m in await client.tags()]
        report.loaded = [
            LoadedModel(m.name, m.size, m.size_vram, m.processor, m.context_length)
            for m in await client.ps()
        ]
    except LlmboxError as err:
        report.problems.append(
            Problem(f"the server answered with an error: {err}", "check its log")
        )
        return report
    if not report.models:
        report.problems.append(
            Problem("no models are installed", "pull one, e.g. `llmbox pull llama3.2:3b`")
        )
    for m in report.loaded:
        if m.size > 0 and m.size_vram < m.size:
            report.problems.append(
                Problem(
                    f"{m.name} does not fit on the GPU ({m.processor}); CPU layers slow it down",
                    "use a smaller quantization or context (--num-ctx), or more memory",
                )
            )
    report.problems.extend(_env_problems(env))
    return report

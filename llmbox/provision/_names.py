"""Model names and ``keep_alive`` values, as Ollama reads them."""

from __future__ import annotations

import re

_DEFAULT_REGISTRY = "registry.ollama.ai/"
_DEFAULT_NAMESPACE = "library/"
_GO_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")


def normalize_name(name: str) -> str:
    """The name the way ``/api/tags`` lists it: lower case, with a tag, short for the library.

    >>> normalize_name("Llama3.2")
    'llama3.2:latest'
    >>> normalize_name("registry.ollama.ai/library/qwen2.5:0.5b")
    'qwen2.5:0.5b'
    >>> normalize_name("hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M")
    'hf.co/bartowski/smollm2-135m-instruct-gguf:q4_k_m'
    """
    name = name.strip().lower()
    name = name.removeprefix(_DEFAULT_REGISTRY).removeprefix(_DEFAULT_NAMESPACE)
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def same_model(a: str, b: str) -> bool:
    """Whether two names refer to the same model (``llama3.2`` is ``llama3.2:latest``)."""
    return normalize_name(a) == normalize_name(b)


def parse_keep_alive(value: str | float) -> str | float:
    """Check a ``keep_alive``: seconds as a number, or a Go duration such as ``10m`` or ``1h30m``.

    Negative keeps the model loaded forever, ``0`` unloads at once. A bare number in a string is
    turned into seconds, because Ollama rejects a duration string without a unit.

    >>> parse_keep_alive("10m"), parse_keep_alive("-1"), parse_keep_alive(300)
    ('10m', -1.0, 300)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    if not _GO_DURATION.match(text):
        raise ValueError(
            f"invalid keep_alive {value!r}: use seconds (300, -1 = forever) or a duration "
            "such as 30s, 10m, 1h30m"
        )
    return text

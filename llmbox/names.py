"""Model names as Ollama reads them: ``[host/][namespace/]model[:tag]``.

One place for the rules, below every package that compares or checks names (``provision``,
``backends``): the tag defaults to ``latest``, the namespace to ``library``, the host to
``registry.ollama.ai``, and matching is case-insensitive.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llmbox.errors import UsageError

_DEFAULT_REGISTRY = "registry.ollama.ai/"
_DEFAULT_NAMESPACE = "library/"
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*(:[0-9]+)?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_DIGEST = re.compile(r"sha256[:-][0-9a-fA-F]{64}")
NAME_EXAMPLES = "e.g. llama3.2, qwen2.5:0.5b or hf.co/ORG/REPO:Q4_K_M"


def normalize_name(name: str) -> str:
    """The name the way ``/api/tags`` lists it: lower case, with a tag, short for the library.

    >>> normalize_name("Llama3.2")
    'llama3.2:latest'
    >>> normalize_name("registry.ollama.ai/library/qwen2.5:0.5b")
    'qwen2.5:0.5b'
    >>> normalize_name("library/qwen2.5"), normalize_name("registry.ollama.ai/me/m")
    ('qwen2.5:latest', 'me/m:latest')
    >>> normalize_name("hf.co/bartowski/SmolLM2-135M-Instruct-GGUF:Q4_K_M")
    'hf.co/bartowski/smollm2-135m-instruct-gguf:q4_k_m'
    """
    name = name.strip().lower()
    name = name.removeprefix(_DEFAULT_REGISTRY).removeprefix(_DEFAULT_NAMESPACE)
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def same_model(a: str, b: str) -> bool:
    """Whether two names refer to the same model.

    >>> same_model("llama3.2", "llama3.2:latest"), same_model("Qwen3:4B", "qwen3:4b")
    (True, True)
    >>> same_model("registry.ollama.ai/library/llama3.2", "library/llama3.2:latest")
    True
    >>> same_model("llama3.2", "llama3.2:1b")
    False
    """
    return normalize_name(a) == normalize_name(b)


def unique_names(names: Sequence[str]) -> list[str]:
    """``names`` without the repeats (``llama3.2`` after ``llama3.2:latest``), first spelling kept.

    >>> unique_names(["llama3.2", "qwen3:4b", "Llama3.2:latest"])
    ['llama3.2', 'qwen3:4b']
    """
    seen: set[str] = set()
    out = []
    for name in names:
        if (key := normalize_name(name)) not in seen:
            seen.add(key)
            out.append(name)
    return out


def close_names(name: str, installed: Sequence[str], *, most: int = 3) -> list[str]:
    """The installed names ``name`` was probably meant to be, closest first: the same model
    under another tag when no tag was given, then names that differ by a typo.

    >>> close_names("llama3.2:3bb", ["qwen3:4b", "llama3.2-vision:11b", "llama3.2:3b"])
    ['llama3.2:3b']
    >>> close_names("Llama3.2", ["llama3.2:1b", "qwen3:4b", "llama3.2:3b"])
    ['llama3.2:1b', 'llama3.2:3b']
    >>> close_names("gemma3", ["qwen3:4b", "llama3.2:3b"])
    []
    """
    from difflib import SequenceMatcher

    key = normalize_name(name)
    base = key.rpartition(":")[0]
    untagged = ":" not in name.rsplit("/", 1)[-1]
    scored: list[tuple[float, str]] = []
    for candidate in unique_names(installed):
        other = normalize_name(candidate)
        if other == key:
            continue
        if untagged and other.rpartition(":")[0] == base:
            scored.append((2.0, candidate))  # another tag of the model asked for
        elif (ratio := SequenceMatcher(None, key, other).ratio()) >= _CLOSE:
            scored.append((ratio, candidate))
    scored.sort(key=lambda sc: -sc[0])  # stable: equal scores keep the server's order
    return [candidate for _, candidate in scored[:most]]


#: How alike two names must be (difflib's ratio) to suggest one for the other.
_CLOSE = 0.75


def name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a model name, or ``None`` when Ollama could accept it.

    >>> name_problem("qwen2.5:0.5b") is None, name_problem("myhost:5000/ns/m:q4") is None
    (True, True)
    >>> name_problem(""), name_problem("llama3.2:"), name_problem("a//b")
    ('it is empty', "the tag after ':' is empty", 'it has an empty part between slashes')
    """
    if not name.strip():
        return "it is empty"
    if any(c.isspace() for c in name):
        return "it contains a space"
    if any(not c.isprintable() for c in name):
        return "it contains a control character"
    base, at, digest = name.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return "the digest after '@' is not sha256:<64 hex digits>"
    parts = base.split("/")
    if len(parts) > 3:
        return "it has more than three parts (host/namespace/model)"
    if any(not p for p in parts):
        return "it has an empty part between slashes"
    model, colon, tag = parts[-1].partition(":")
    if colon and not tag:
        return "the tag after ':' is empty"
    if colon and not _TAG.fullmatch(tag):
        return f"the tag {tag!r} has characters a tag cannot have"
    if not _PART.fullmatch(model):
        return f"{model!r} is not a model name (letters, digits, '.', '-', '_')"
    if len(parts) == 3 and not _HOST.fullmatch(parts[0]):
        return f"{parts[0]!r} is not a host name"
    if len(parts) > 1 and not _PART.fullmatch(parts[-2]):
        return f"{parts[-2]!r} is not a namespace"
    return None


def check_name(name: str) -> str:
    """``name`` unchanged when it is a valid model name; otherwise a ``UsageError`` (exit 2)."""
    problem = name_problem(name)
    if problem is not None:
        raise UsageError(f"invalid model name {name!r}: {problem}", hint=NAME_EXAMPLES)
    return name

"""Fast YAML reading for the catalogs: the C loader when PyYAML has it, errors as ConfigError.

Parsed catalogs are cached as JSON under the user's cache directory, keyed by a hash of the text,
so an estimate does not pay for importing and running the YAML parser (~40 ms) every time. Any
problem with the cache falls back to parsing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from llmbox.errors import ConfigError


def _cache_file(path: Path, text: str) -> Path:
    import hashlib

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
    return Path(base) / "llmbox" / "catalogs" / f"{path.stem}-{digest}.json"


def read_yaml(path: Path) -> tuple[Any, str]:
    """``(data, text)`` of the YAML file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}", hint="check the path") from None
    cache = _cache_file(path, text)
    try:
        return json.loads(cache.read_text(encoding="utf-8")), text
    except (OSError, ValueError):
        pass
    data = _parse(path, text)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(cache)
    except (OSError, TypeError, ValueError):
        pass
    return data, text


def _parse(path: Path, text: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            f"{where}: invalid YAML: {problem}", hint="check the indentation"
        ) from None

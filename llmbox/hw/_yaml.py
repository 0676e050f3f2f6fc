"""Fast YAML reading for the catalogs: the C loader when PyYAML has it, errors as ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmbox.errors import ConfigError


def read_yaml(path: Path) -> tuple[Any, str]:
    """``(data, text)`` of the YAML file at ``path``."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}", hint="check the path") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader), text
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            f"{where}: invalid YAML: {problem}", hint="check the indentation"
        ) from None

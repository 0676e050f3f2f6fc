"""Read YAML files into pydantic models, with errors that name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from llmbox.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _line_of(node: Any, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (the deepest one that exists)."""
    import yaml

    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is None:
                # An unknown key: point at the key itself.
                key_node = next(
                    (k for k, _ in node.value if getattr(k, "value", None) == key), None
                )
                return key_node.start_mark.line + 1 if key_node is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def load_yaml_text(text: str, source: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            f"{where}: invalid YAML: {problem}", hint="check the indentation"
        ) from None


def load_yaml_model(path: Path, model: type[M], *, text: str | None = None) -> M:
    """Validate ``path`` against ``model``; a bad file raises ConfigError naming file:line field."""
    import yaml

    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(
                f"cannot read {path}: {err.strerror}", hint="check the path"
            ) from None
    data = load_yaml_text(text, str(path))
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first["loc"])
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(yaml.compose(text, Loader=yaml.SafeLoader), loc)
        where = f"{path}:{line}" if line else str(path)
        more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
        raise ConfigError(
            f"{where}: field '{field}': {first['msg']}{more}",
            hint="see docs/ for the file format",
        ) from None

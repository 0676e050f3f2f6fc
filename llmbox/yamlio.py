"""The one YAML reader: files to data or to pydantic models, every failure a ``ConfigError``.

A bad file gives one line naming the file, the line and the key, with a suggestion::

    machine.yaml:1: unknown key 'modelz' (did you mean 'models'?)

The hardware catalogs read with ``cache=True``: the parsed data is kept as JSON under the user's
cache directory, keyed by a hash of the text, so an estimate does not pay for the YAML parser
(~40 ms) every time. Any problem with the cache falls back to parsing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin

from llmbox.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")

#: Where the formats of llmbox's YAML files are documented (the default hint of a bad file).
FORMATS_DOC = "docs/config.md"


def read_text(path: Path) -> str:
    """The text of a UTF-8 file; a missing file, a directory or other bytes are a ConfigError."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{path} is a directory, not a YAML file", hint="give a file path")
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise ConfigError(f"{path} is not a regular file", hint="give a YAML file")
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(
            f"cannot read {path}: {err.strerror or err}", hint="check the path"
        ) from None
    return decode_text(raw, str(path))


def decode_text(raw: bytes, source: str) -> str:
    """UTF-8 bytes (a byte-order mark allowed) as text; anything else is a ConfigError."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ConfigError(f"{source} is UTF-16 text, not UTF-8", hint="save the file as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"{source}:{line}: not UTF-8 text (byte 0x{raw[err.start]:02x})",
            hint="save the file as UTF-8",
        ) from None


def parse_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` (the C loader when PyYAML has it), errors as one-line ConfigErrors."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # a safe loader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(
            _one_line(f"{where}: invalid YAML: {problem}"), hint="check the indentation and quoting"
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None


def _cache_file(path: Path, text: str) -> Path:
    import hashlib

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
    return Path(base) / "llmbox" / "catalogs" / f"{path.stem}-{digest}.json"


def read_yaml(path: Path, *, cache: bool = False) -> tuple[Any, str]:
    """``(data, text)`` of the YAML file at ``path``; ``cache`` keeps the parse for next time."""
    import json

    text = read_text(path)
    if not cache:
        return parse_yaml(text, str(path)), text
    cached = _cache_file(path, text)
    try:
        return json.loads(cached.read_text(encoding="utf-8")), text
    except (OSError, ValueError):
        pass
    data = parse_yaml(text, str(path))
    _write_cache(cached, data)
    return data, text


def line_of(text: str, loc: tuple[int | str, ...], *, at_key: bool = False) -> int | None:
    """1-based line of the deepest YAML node of ``text`` on the path ``loc`` (``at_key``: the line
    of the last key rather than of its value); ``None`` when the text does not parse."""
    import yaml

    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError):
        return None
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for depth, key in enumerate(loc, 1):
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if str(k.value) == str(key)), None)
            if pair is None:
                return line
            if at_key and depth == len(loc):
                return int(pair[0].start_mark.line) + 1  # the key's own line
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def located_error(
    path: Path, text: str, loc: tuple[int | str, ...], message: str, *, hint: str
) -> ConfigError:
    """A one-line ConfigError ``FILE:LINE: field 'a.0.b': message`` for a hand-checked file."""
    line = line_of(text, loc)
    where = f"{path}:{line}" if line else str(path)
    dotted = ".".join(str(p) for p in loc)
    return ConfigError(_one_line(f"{where}: field {dotted!r}: {message}"), hint=hint)


def _as_model(tp: Any) -> type[BaseModel] | None:
    from pydantic import BaseModel

    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    if get_origin(tp) is Union or type(tp).__name__ == "UnionType":
        return next((m for a in get_args(tp) if (m := _as_model(a)) is not None), None)
    return None


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``loc`` inside ``model``."""
    tp: Any = model
    for key in loc:
        cls = _as_model(tp)
        if cls is not None and isinstance(key, str):
            field = cls.model_fields.get(key)
            if field is None:
                return None
            tp = field.annotation
            continue
        args = [a for a in get_args(tp) if a is not type(None)]
        if get_origin(tp) in (list, tuple, set, frozenset) and isinstance(key, int) and args:
            tp = args[0]
        elif get_origin(tp) is dict and len(args) == 2:
            tp = args[1]
        elif isinstance(key, str) and (nested := _as_model(tp)) is not None:
            tp = nested  # a union member's name in the loc
        else:
            return None
    return _as_model(tp)


def keys_of(model: type[BaseModel] | None) -> list[str]:
    """The keys a YAML mapping validated by ``model`` may have."""
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _suggest(key: str, allowed: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (expected one of: {', '.join(allowed)})" if allowed else ""


def _describe(error: Any, model: type[BaseModel]) -> str:
    """One pydantic error in a user's words."""
    loc = tuple(error["loc"])
    parent = ".".join(str(p) for p in loc[:-1])
    where = f" in {parent}" if parent else ""
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return f"unknown key {key!r}{where}{_suggest(key, keys_of(_model_at(model, loc[:-1])))}"
    if kind == "missing":
        return f"missing key {str(loc[-1])!r}{where}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        keys = keys_of(_model_at(model, loc))
        what = f"a mapping with keys {', '.join(keys)}" if keys else "a mapping"
        field = ".".join(str(p) for p in loc)
        return f"{f'field {field!r}: ' if field else ''}expected {what}"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    field = ".".join(str(p) for p in loc) or "(top level)"
    return f"field {field!r}: {message}"


def _one_line(text: str) -> str:
    """``text`` with control characters escaped, so a message stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _first(errors: list[Any]) -> Any:
    """The error a user should fix first: an unknown key (a typo also makes a key missing)."""
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def load_yaml_model(
    path: Path, model: type[M], *, text: str | None = None, doc: str = FORMATS_DOC
) -> M:
    """Validate the YAML file at ``path`` against ``model``; a bad file raises a ConfigError that
    names the file, the line and the key, with ``doc`` (the format's page) as the hint."""
    if text is None:
        text = read_text(path)
    return _validate(path, text, parse_yaml(text, str(path)), model, doc)


def _validate(path: Path, text: str, data: Any, model: type[M], doc: str) -> M:
    from pydantic import ValidationError

    hint = f"the format is described in {doc}"
    if data is None and any(f.is_required() for f in model.model_fields.values()):
        keys = ", ".join(keys_of(model))
        raise ConfigError(f"{path}: the file is empty (expected keys: {keys})", hint=hint)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as err:
        error = _first(err.errors())
        line = line_of(text, tuple(error["loc"]), at_key=error["type"] == "extra_forbidden")
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(_one_line(f"{where}: {_describe(error, model)}"), hint=hint) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply", hint=hint) from None


def read_validated(
    path: Path, schema: Callable[[], type[BaseModel]], *, version: str, doc: str
) -> tuple[dict[str, Any], str]:
    """``(data, text)``: the YAML file at ``path`` validated against the pydantic model that
    ``schema()`` returns (errors as :func:`load_yaml_model` gives them), as plain JSON data with
    every default filled in. The validated data is cached like :func:`read_yaml`'s, keyed by the
    text and ``version``: a known file costs neither the YAML parser nor pydantic's import."""
    import json

    text = read_text(path)
    cached = _cache_file(path, f"{version}\0{text}")
    try:
        data = json.loads(cached.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data, text
    except (OSError, ValueError, RecursionError):
        pass
    model = _validate(path, text, parse_yaml(text, str(path)), schema(), doc)
    data = model.model_dump(mode="json", by_alias=True)
    _write_cache(cached, data)
    return data, text


def _write_cache(cached: Path, data: Any) -> None:
    import json

    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(cached)
    except (OSError, TypeError, ValueError, RecursionError):
        pass

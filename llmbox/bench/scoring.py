"""Strict, automatic scoring of checkable answers (``--suite quality``, datasets with ``expect``).

An item's ``expect`` says what a correct answer is, in exactly one of these forms:

- ``number: 391`` — the answer's **last** number must equal it exactly (``1,234`` and ``-7`` and
  ``3.50`` are numbers; ``391 or 392`` fails, ``about 391`` passes).
- ``one_of: ["Paris"]`` — the whole answer, trimmed, case-folded, with surrounding quotes, ``*``
  and a final ``.`` removed, must equal one of the strings: ``Paris.`` passes, ``It is Paris``
  fails. Used for short facts, codes found in a haystack and OK/NG verdicts.
- ``json_schema: {...}`` — the answer must be one JSON value (a single fenced ```` ```json ````
  block around it is accepted) that validates against the schema. The schema subset checked:
  ``type`` (string, number, integer, boolean, object, array, null, or a list of them), ``enum``,
  ``const``, ``properties``, ``required``, ``additionalProperties: false``, ``items``,
  ``minItems``/``maxItems``, ``minimum``/``maximum``, ``minLength``/``maxLength``, ``pattern``.
  Any other keyword is refused when the dataset is loaded (it would pass silently otherwise).

Thinking text is never scored: only the answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])-?\d+(?:\.\d+)?")
_FENCE = re.compile(r"^```(?:json|JSON)?\s*\n(.*?)\n?```$", re.DOTALL)

SCHEMA_KEYWORDS = frozenset(
    {
        "type", "enum", "const", "properties", "required", "additionalProperties", "items",
        "minItems", "maxItems", "minimum", "maximum", "minLength", "maxLength", "pattern",
        "title", "description", "$schema",
    }
)  # fmt: skip


class Expect(BaseModel):
    """What a correct answer is; exactly one field is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    number: float | None = None
    one_of: tuple[str, ...] | None = None
    json_schema: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Expect:
        given = [k for k in ("number", "one_of", "json_schema") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of number, one_of, json_schema")
        if self.one_of is not None and not self.one_of:
            raise ValueError("one_of needs at least one accepted answer")
        if self.json_schema is not None:
            _check_schema(self.json_schema, "json_schema")
        return self


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise ValueError(f"{where} must be an object")
    unknown = sorted(set(schema) - SCHEMA_KEYWORDS)
    if unknown:
        raise ValueError(f"{where}: keyword {unknown[0]!r} is not checked by llmbox's scorer")
    for name, sub in (schema.get("properties") or {}).items():
        _check_schema(sub, f"{where}.properties.{name}")
    if isinstance(schema.get("items"), dict):
        _check_schema(schema["items"], f"{where}.items")


def normalize(text: str) -> str:
    """Trim, drop wrapping quotes/asterisks/backticks and one final period, case-fold.

    >>> normalize('  **"Paris."**  ')
    'paris'
    """
    out = text.strip()
    for _ in range(3):
        out = out.strip().strip("*`\"'“”‘’ ").strip()
        if out.endswith("."):
            out = out[:-1]
    return " ".join(out.split()).casefold()


def numbers(text: str) -> list[float]:
    """Every number in the text, in order (thousands separators allowed).

    >>> numbers("12 apples and 1,234.5 pears, -3 left")
    [12.0, 1234.5, -3.0]
    """
    return [float(m.group(0).replace(",", "")) for m in _NUMBER.finditer(text)]


def score(expect: Expect, answer: str) -> tuple[bool, str | None]:
    """(passed, why not). Strict: see the module docstring."""
    if expect.number is not None:
        found = numbers(answer)
        if not found:
            return False, f"expected {expect.number:g}, found no number"
        if found[-1] != expect.number:
            return False, f"expected {expect.number:g}, got {found[-1]:g}"
        return True, None
    if expect.one_of is not None:
        got = normalize(answer)
        if got in {normalize(s) for s in expect.one_of}:
            return True, None
        shown = got if len(got) <= 40 else got[:37] + "..."
        return False, f"expected {' or '.join(expect.one_of)}, got {shown!r}"
    assert expect.json_schema is not None
    text = answer.strip()
    if fenced := _FENCE.match(text):
        text = fenced.group(1).strip()
    try:
        value = json.loads(text)
    except ValueError:
        return False, "not valid JSON"
    problem = validate(value, expect.json_schema)
    return (problem is None), problem


_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> str | None:
    """The first way ``value`` breaks ``schema`` (the subset above), or None.

    >>> validate({"a": 1}, {"type": "object", "required": ["a", "b"]})
    '$: missing required property b'
    """
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_TYPES[k](value) for k in kinds):
            return f"{path}: expected {' or '.join(kinds)}"
    if "const" in schema and value != schema["const"]:
        return f"{path}: expected {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: {value!r} is not one of {schema['enum']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path}: {value} < minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path}: {value} > maximum {schema['maximum']}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{path}: shorter than {schema['minLength']}"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{path}: longer than {schema['maxLength']}"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{path}: does not match {schema['pattern']!r}"
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                return f"{path}: missing required property {name}"
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                return f"{path}: unexpected property {extra[0]}"
        for name, sub in props.items():
            if name in value and (problem := validate(value[name], sub, f"{path}.{name}")):
                return problem
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return f"{path}: fewer than {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{path}: more than {schema['maxItems']} items"
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                if problem := validate(item, schema["items"], f"{path}[{i}]"):
                    return problem
    return None

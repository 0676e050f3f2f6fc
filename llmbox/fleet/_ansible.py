"""Ansible inventories (INI or YAML) as fleets: their hosts, groups and variables.

What llmbox reads from the variables (host variables override group variables, a child group's
override its parent's, ``all``'s come first):

- the server: ``ollama_url`` (a URL), else ``ollama_host`` (host[:port]), else
  ``ansible_host`` (or the host's name) with ``ollama_port`` (default 11434);
- machine facts: ``llmbox_chip``, ``llmbox_memory_gb``, ``llmbox_power``;
- a group's model set: ``llmbox_models`` (a YAML list in the sync format, or a comma list in INI);
- every other plain variable that does not start with ``ansible_``, ``ollama_`` or ``llmbox_``
  becomes a label (``--select line=a``).

Host patterns with ranges (``station-[01:20]``, ``node-[a:c]``) expand as Ansible expands them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmbox.errors import ConfigError
from llmbox.fleet._inventory import FORMAT_DOC, Inventory, build_inventory, name_problem
from llmbox.provision import ModelEntry

_HINT = f"llmbox reads Ansible inventories as described in {FORMAT_DOC}"
_RANGE = re.compile(r"\[([0-9]+|[a-z]):([0-9]+|[a-z])(?::([0-9]+))?\]")
_YAML_SUFFIXES = (".yaml", ".yml", ".json")
_GROUP_KEYS = {"hosts", "children", "vars"}
_PREFIXES = ("ansible_", "ollama_", "llmbox_")


def expand_pattern(pattern: str) -> list[str]:
    """Ansible's host ranges.

    >>> expand_pattern("station-[01:03]")
    ['station-01', 'station-02', 'station-03']
    >>> expand_pattern("n[a:b]-[1:2]")
    ['na-1', 'na-2', 'nb-1', 'nb-2']
    """
    m = _RANGE.search(pattern)
    if m is None:
        return [pattern]
    start, end, step = m.group(1), m.group(2), int(m.group(3) or 1)
    if start.isdigit() != end.isdigit() or step < 1:
        raise ValueError(f"bad range {m.group(0)!r}")
    if start.isdigit():
        width = len(start) if start.startswith("0") else 0
        items = [str(i).zfill(width) for i in range(int(start), int(end) + 1, step)]
    else:
        items = [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    if not items:
        raise ValueError(f"empty range {m.group(0)!r}")
    head, tail = pattern[: m.start()], pattern[m.end() :]
    return [head + item + rest for item in items for rest in expand_pattern(tail)]


@dataclass
class _Group:
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Parsed:
    """An Ansible inventory before interpretation, with where each entry is in the file."""

    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, _Group] = field(default_factory=dict)
    where: dict[tuple[str, str], Any] = field(default_factory=dict)  # (kind, name) -> line or loc

    def group(self, name: str, at: Any) -> _Group:
        self.where.setdefault(("group", name), at)
        return self.groups.setdefault(name, _Group())

    def add_host(self, group: str, name: str, host_vars: Mapping[str, Any], at: Any) -> None:
        self.where.setdefault(("host", name), at)
        self.hosts.setdefault(name, {}).update(host_vars)
        members = self.groups[group].hosts
        if name not in members:
            members.append(name)


def looks_like_ini(path: Path, text: str) -> bool:
    """An INI inventory: ``.ini``/``.cfg``, or no YAML suffix and a ``[section`` first line."""
    if path.suffix.lower() in (".ini", ".cfg"):
        return True
    if path.suffix.lower() in _YAML_SUFFIXES:
        return False
    for line in text.splitlines():
        line = line.strip()
        if line and line[0] not in "#;":
            return line.startswith("[")  # an inventory in YAML is never a top-level list
    return False


def looks_like_yaml(data: Any) -> bool:
    """An Ansible YAML inventory: top-level groups (``all:``) holding hosts/children/vars."""
    if not isinstance(data, dict) or not data or "hosts" in data:
        return False
    return "all" in data or all(
        isinstance(v, dict) and set(v) <= _GROUP_KEYS and v for v in data.values()
    )


# -- INI -------------------------------------------------------------------------------------------


def _ini_value(text: str) -> str:
    try:
        words = shlex.split(text)
    except ValueError:
        return text
    return " ".join(words)


def from_ini(path: Path, text: str) -> Inventory:
    parsed = _Parsed()
    parsed.group("ungrouped", 1)

    def fail(line: int, message: str) -> ConfigError:
        return ConfigError(f"{path}:{line}: {message}", hint=_HINT)

    group, kind = "ungrouped", "hosts"
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            m = re.fullmatch(r"\[\s*([^\]:]+?)\s*(?::\s*(\w+)\s*)?\]", line)
            if m is None:
                raise fail(lineno, f"invalid section header {line!r}")
            group, kind = m.group(1), m.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise fail(lineno, f"unknown section kind ':{kind}' (hosts, vars or children)")
            if (problem := name_problem(group)) is not None:
                raise fail(lineno, f"group {problem}")
            parsed.group(group, lineno)
            continue
        entry = parsed.groups[group]
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise fail(lineno, f"expected key=value in [{group}:vars], not {line!r}")
            entry.vars[key.strip()] = _ini_value(value.strip())
        elif kind == "children":
            if (problem := name_problem(line)) is not None:
                raise fail(lineno, f"child group {problem}")
            entry.children.append(line)
            parsed.where.setdefault(("child", line), lineno)
        else:
            _ini_host(parsed, group, line, lineno, fail)
    for (k, child), lineno in list(parsed.where.items()):
        if k == "child" and child not in parsed.groups:
            raise fail(lineno, f"child group {child!r} is not defined")
    return _interpret(path, parsed, lambda kind, name: parsed.where.get((kind, name)))


def _ini_host(
    parsed: _Parsed, group: str, line: str, lineno: int, fail: Callable[[int, str], ConfigError]
) -> None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as err:
        raise fail(lineno, f"cannot read the host line: {err}") from None
    pattern, *assigns = words
    host_vars = {}
    for word in assigns:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise fail(lineno, f"expected key=value after the host name, not {word!r}")
        host_vars[key] = value
    try:
        names = expand_pattern(pattern)
    except ValueError as err:
        raise fail(lineno, f"host pattern {pattern!r}: {err}") from None
    for name in names:
        if (problem := name_problem(name)) is not None:
            raise fail(lineno, f"host {problem}")
        parsed.add_host(group, name, host_vars, lineno)


# -- YAML ------------------------------------------------------------------------------------------


def from_yaml(path: Path, text: str, data: dict[str, Any]) -> Inventory:
    from llmbox.yamlio import line_of

    parsed = _Parsed()

    def fail(loc: tuple[str, ...], message: str) -> ConfigError:
        line = line_of(text, loc)
        return ConfigError(f"{path}:{line or '?'}: {message}", hint=_HINT)

    def walk(name: str, node: Any, loc: tuple[str, ...]) -> None:
        if (problem := name_problem(name)) is not None:
            raise fail(loc, f"group {problem}")
        entry = parsed.group(name, loc)
        if node is None:
            return
        if not isinstance(node, dict):
            raise fail(loc, f"group {name!r}: expected a mapping with hosts, children or vars")
        for key in node:
            if key not in _GROUP_KEYS:
                raise fail(
                    (*loc, key), f"group {name!r}: unknown key {key!r} (hosts, children, vars)"
                )
        entry.vars.update(_mapping(node.get("vars"), (*loc, "vars"), fail))
        for pattern, host_vars in _mapping(node.get("hosts"), (*loc, "hosts"), fail).items():
            at = (*loc, "hosts", pattern)
            try:
                names = expand_pattern(str(pattern))
            except ValueError as err:
                raise fail(at, f"host pattern {pattern!r}: {err}") from None
            for host in names:
                if (problem := name_problem(host)) is not None:
                    raise fail(at, f"host {problem}")
                parsed.add_host(name, host, _mapping(host_vars, at, fail), at)
        for child, child_node in _mapping(node.get("children"), (*loc, "children"), fail).items():
            entry.children.append(str(child))
            walk(str(child), child_node, (*loc, "children", str(child)))

    for name, node in data.items():
        walk(str(name), node, (str(name),))

    def where(kind: str, name: str) -> Any:
        loc = parsed.where.get((kind, name))
        return line_of(text, loc) if loc is not None else None

    return _interpret(path, parsed, where)


def _mapping(
    node: Any, loc: tuple[str, ...], fail: Callable[[tuple[str, ...], str], ConfigError]
) -> dict[str, Any]:
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise fail(loc, f"{loc[-1]!r} must be a mapping")
    return {str(k): v for k, v in node.items()}


# -- what the variables mean -----------------------------------------------------------------------


def _members(parsed: _Parsed, name: str, seen: tuple[str, ...] = ()) -> list[str]:
    if name in seen:
        raise ValueError(f"groups nest in a cycle: {' > '.join((*seen, name))}")
    group = parsed.groups[name]
    out = list(group.hosts)
    for child in group.children:
        out += [h for h in _members(parsed, child, (*seen, name)) if h not in out]
    return out


def _depth(parsed: _Parsed, name: str) -> int:
    parents = [g for g, e in parsed.groups.items() if name in e.children]
    return 1 + max((_depth(parsed, p) for p in parents), default=-1) if name != "all" else -1


def _interpret(path: Path, parsed: _Parsed, line: Callable[[str, str], Any]) -> Inventory:
    def where(kind: str, name: str, key: str = "", message: str = "") -> ConfigError:
        at = line(kind, name)
        return ConfigError(f"{path}:{at or '?'}: {kind} {name!r}: {message}", hint=_HINT)

    try:
        members = {g: _members(parsed, g) for g in parsed.groups}
    except ValueError as err:
        raise ConfigError(f"{path}: {err}", hint=_HINT) from None
    if "all" in parsed.groups:
        members["all"] = list(parsed.hosts)
    if not parsed.hosts:
        raise ConfigError(f"{path}: the inventory lists no hosts", hint=_HINT)
    order = sorted(parsed.groups, key=lambda g: _depth(parsed, g))
    hosts: list[tuple[str, str, Mapping[str, Any], list[str], dict[str, Any]]] = []
    for name, own in parsed.hosts.items():
        values: dict[str, Any] = {}
        for group in order:
            if name in members[group]:
                values.update(parsed.groups[group].vars)
        values.update(own)
        hosts.append((name, _url(name, values), _labels(values), [], _facts(name, values, where)))
    groups = {
        g: (members[g], _models(g, parsed.groups[g].vars.get("llmbox_models"), where))
        for g in parsed.groups
        if g not in ("all", "ungrouped") or (g == "ungrouped" and members[g])
    }
    return build_inventory(str(path), hosts, groups, where=where)


def _url(name: str, values: Mapping[str, Any]) -> str:
    if values.get("ollama_url"):
        return str(values["ollama_url"])
    if values.get("ollama_host"):
        return str(values["ollama_host"])
    address = values.get("ansible_host") or name
    port = values.get("ollama_port") or 11434
    return f"{address}:{port}"


def _labels(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in values.items()
        if not k.startswith(_PREFIXES) and isinstance(v, (str, int, float, bool))
    }


def _facts(
    name: str, values: Mapping[str, Any], where: Callable[..., ConfigError]
) -> dict[str, Any]:
    memory = values.get("llmbox_memory_gb")
    if memory is not None:
        try:
            memory = float(memory)
        except (TypeError, ValueError):
            raise where(
                "host", name, "llmbox_memory_gb", f"llmbox_memory_gb {memory!r} is not a number"
            ) from None
        if memory <= 0:
            raise where("host", name, "llmbox_memory_gb", "llmbox_memory_gb must be above 0")
    chip = values.get("llmbox_chip")
    power = values.get("llmbox_power")
    return {
        "chip": str(chip) if chip else None,
        "memory_gb": memory,
        "power": str(power) if power else None,
    }


def _models(group: str, value: Any, where: Callable[..., ConfigError]) -> list[ModelEntry]:
    from pydantic import ValidationError

    from llmbox.provision import MachineSpec

    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    try:
        return MachineSpec.model_validate({"models": value}).models
    except ValidationError as err:
        first = err.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise where("group", group, "llmbox_models", f"llmbox_models: {message}") from None

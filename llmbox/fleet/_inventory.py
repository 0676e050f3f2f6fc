"""The fleet's inventory: hosts (name, URL, labels, machine facts) and groups with model sets.

llmbox's own format (``fleet.yaml``)::

    hosts:
      station-01:
        url: 10.0.1.11:11434          # anything --host takes
        labels: {line: a, site: plant1}
        chip: m2                      # optional machine facts: a chip of `llmbox chips`,
        memory_gb: 16                 # its memory, and its power mode
        power: ac
    groups:
      stations:
        hosts: [station-01]           # or `groups: [stations]` on a host
        models: [llava:7b]            # the same entries as a `sync` file

Ansible inventories (INI or YAML) are read by ``llmbox.fleet._ansible``. Every problem is a
``ConfigError`` naming the file and the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llmbox.errors import ConfigError, UsageError
from llmbox.provision import MachineSpec, ModelEntry

#: Where ``--inventory`` looks when it is not given.
DEFAULT_INVENTORY = Path("fleet.yaml")
FORMAT_DOC = "docs/fleet.md"
_HINT = f"the inventory format is described in {FORMAT_DOC}"
#: Host and group names: what `--select` can name without quoting (no `=`, `,`, `!`, `&`).
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
Scalar = str | int | float | bool


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a host or a group, or None.

    >>> name_problem("station-01") is None, name_problem("a b")
    (True, "'a b' is not a name: use letters, digits, '-', '_' and '.'")
    """
    if _NAME.fullmatch(name):
        return None
    return f"{name!r} is not a name: use letters, digits, '-', '_' and '.'"


def _check_names(values: Mapping[str, Any] | Sequence[str]) -> None:
    for name in values:
        if (problem := name_problem(str(name))) is not None:
            raise ValueError(problem)


class HostEntry(BaseModel):
    """One host of ``fleet.yaml``."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, description="The Ollama server: anything --host takes.")
    labels: dict[str, Scalar] = Field(default_factory=dict, description="key: value, for --select")
    groups: list[str] = Field(default_factory=list, description="Groups the host belongs to.")
    chip: str | None = Field(None, description="Chip id or name, as `llmbox chips` lists them.")
    memory_gb: float | None = Field(None, gt=0, description="Memory (unified, or the GPU's VRAM).")
    power: str | None = Field(None, description="Power mode, e.g. ac, battery, low-power.")

    @field_validator("groups")
    @classmethod
    def _group_names(cls, value: list[str]) -> list[str]:
        _check_names(value)
        return value


class GroupEntry(BaseModel):
    """One group of ``fleet.yaml``: its hosts and the models each of them must hold."""

    model_config = ConfigDict(extra="forbid")

    hosts: list[str] = Field(default_factory=list, description="Host names.")
    models: list[ModelEntry] = Field(
        default_factory=list, description="The group's model set, as in a sync file."
    )

    @field_validator("hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        _check_names(value)
        return value

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[ModelEntry]) -> list[ModelEntry]:
        if value:
            MachineSpec._unique(value)  # the sync file's rule: each model once
        return value


class InventoryFile(BaseModel):
    """``fleet.yaml``: ``hosts`` (required) and ``groups``."""

    model_config = ConfigDict(extra="forbid")

    hosts: dict[str, HostEntry] = Field(min_length=1)
    groups: dict[str, GroupEntry] = Field(default_factory=dict)

    @field_validator("hosts", "groups")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_names(value)
        return value


@dataclass(frozen=True)
class Host:
    """A host of the fleet, with what the inventory says about it."""

    name: str
    url: str
    labels: Mapping[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    chip: str | None = None  # a catalog id once validated
    memory_gb: float | None = None
    power: str | None = None
    models: tuple[ModelEntry, ...] = ()  # its groups' model sets, merged

    @property
    def spec(self) -> MachineSpec | None:
        """The sync spec of the host's groups (None when no group declares models)."""
        return MachineSpec(models=list(self.models)) if self.models else None

    def facts(self) -> dict[str, Any]:
        """The machine block of this host's benchmark results."""
        out: dict[str, Any] = {"hostname": self.name, "fleet_host": self.name}
        if self.chip is not None:
            out["chip"] = self.chip
        if self.memory_gb is not None:
            out["memory_bytes"] = int(self.memory_gb * 2**30)
        if self.power is not None:
            out["power"] = self.power
        if self.labels:
            out["labels"] = dict(self.labels)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "labels": dict(self.labels),
            "groups": list(self.groups),
            "chip": self.chip,
            "memory_gb": self.memory_gb,
            "power": self.power,
            "models": [m.name for m in self.models],
        }


@dataclass(frozen=True)
class Inventory:
    """Hosts in file order, and each group's member names (nested groups flattened)."""

    source: str
    hosts: tuple[Host, ...]
    groups: Mapping[str, tuple[str, ...]]

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)


def merged_models(sets: Sequence[Sequence[ModelEntry]]) -> tuple[ModelEntry, ...]:
    """The union of model sets, each model once (its first entry wins)."""
    from llmbox.names import normalize_name

    seen: dict[str, ModelEntry] = {}
    for entries in sets:
        for entry in entries:
            seen.setdefault(normalize_name(entry.name), entry)
    return tuple(seen.values())


def build_inventory(
    source: str,
    hosts: Sequence[tuple[str, str, Mapping[str, Any], list[str], dict[str, Any]]],
    groups: Mapping[str, tuple[list[str], list[ModelEntry]]],
    *,
    where: Any,
) -> Inventory:
    """Check and assemble an inventory from parsed entries, in either format.

    ``hosts``: (name, url, labels, groups, facts); ``groups``: name -> (host names, models);
    ``where(kind, name, key)`` makes the ConfigError for an entry (the format knows its lines).
    """
    from llmbox.config import parse_host

    members: dict[str, list[str]] = {g: list(dict.fromkeys(hs)) for g, (hs, _) in groups.items()}
    names = {h[0] for h in hosts}
    for group, hs in members.items():
        for name in hs:
            if name not in names:
                raise where("group", group, "hosts", f"host {name!r} is not in the inventory")
    for name, _, _, host_groups, _ in hosts:
        for group in host_groups:
            if group not in groups:
                raise where("host", name, "groups", f"group {group!r} is not defined")
            if name not in members[group]:
                members[group].append(name)
    catalog = None
    seen_urls: dict[str, str] = {}
    out = []
    for name, raw_url, labels, _, facts in hosts:
        try:
            url = parse_host(raw_url)
        except UsageError as err:
            raise where("host", name, "url", err.message) from None
        if url in seen_urls:
            raise where(
                "host",
                name,
                "url",
                f"{url} is host {seen_urls[url]!r} already (two names would run two "
                "benchmarks on one server at once)",
            )
        seen_urls[url] = name
        chip = facts.get("chip")
        if chip is not None:
            from llmbox.hw.chips import load_catalog

            catalog = catalog or load_catalog()
            try:
                chip = catalog.resolve(str(chip)).id
            except UsageError as err:
                raise where("host", name, "chip", f"{err.message} ({err.hint})") from None
        in_groups = tuple(g for g, hs in members.items() if name in hs)
        out.append(
            Host(
                name=name,
                url=url,
                labels={str(k): _label(v) for k, v in labels.items()},
                groups=in_groups,
                chip=chip,
                memory_gb=facts.get("memory_gb"),
                power=facts.get("power"),
                models=merged_models([groups[g][1] for g in in_groups]),
            )
        )
    return Inventory(source, tuple(out), {g: tuple(hs) for g, hs in members.items()})


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _native(path: Path, text: str) -> Inventory:
    from llmbox.yamlio import line_of, load_yaml_model

    data = load_yaml_model(path, InventoryFile, text=text, doc=FORMAT_DOC)

    def where(kind: str, name: str, key: str, message: str) -> ConfigError:
        loc = (f"{kind}s", name, key)
        line = line_of(text, loc)
        at = f"{path}:{line}" if line else str(path)
        return ConfigError(f"{at}: {kind} {name!r}: {message}", hint=_HINT)

    hosts = [
        (
            name,
            h.url,
            h.labels,
            h.groups,
            {"chip": h.chip, "memory_gb": h.memory_gb, "power": h.power},
        )
        for name, h in data.hosts.items()
    ]
    groups = {name: (g.hosts, g.models) for name, g in data.groups.items()}
    return build_inventory(str(path), hosts, groups, where=where)


def load_inventory(path: Path | None = None) -> Inventory:
    """Read ``path`` (default ``./fleet.yaml``): llmbox's format, or an Ansible inventory in INI
    or YAML. Raises ConfigError (file:line) for a bad file."""
    from llmbox.fleet import _ansible
    from llmbox.yamlio import parse_yaml, read_text

    path = path or DEFAULT_INVENTORY
    if not path.exists() and str(path) != "-":
        raise ConfigError(
            f"no inventory at {path}",
            hint=f"write one (see {FORMAT_DOC}) or give --inventory FILE",
        )
    text = read_text(path)
    if _ansible.looks_like_ini(path, text):
        return _ansible.from_ini(path, text)
    data = parse_yaml(text, str(path))
    if _ansible.looks_like_yaml(data):
        return _ansible.from_yaml(path, text, data)
    return _native(path, text)


# -- --select -------------------------------------------------------------------------------------


def _matches(inv: Inventory, term: str) -> list[Host] | None:
    """Hosts a single term names, or None when it names nothing."""
    from fnmatch import fnmatchcase

    if "=" in term:
        key, _, value = term.partition("=")
        key, value = key.strip(), value.strip()
        found = [h for h in inv.hosts if key in h.labels and fnmatchcase(h.labels[key], value)]
        known = any(key in h.labels for h in inv.hosts)
        return found if found or known else None
    if term in inv.groups:
        return [inv.host(n) for n in inv.groups[term]]
    if term in ("all", "*"):
        return list(inv.hosts)
    found = [h for h in inv.hosts if fnmatchcase(h.name, term)]
    return found or None


def select(inv: Inventory, selectors: Sequence[str]) -> list[Host]:
    """The hosts ``--select`` names, in inventory order; no selector means every host.

    Each selector is a comma list of terms: ``label=value``, a group, a host (globs allowed);
    plain terms add hosts, ``&term`` keeps only hosts it names too, ``!term`` removes them.
    A term that names nothing is a UsageError (a typo must not shrink the fleet silently).
    """
    terms = [t.strip() for s in selectors for t in s.split(",") if t.strip()]
    if not terms:
        return list(inv.hosts)
    chosen: set[str] = set()
    keep: set[str] | None = None
    drop: set[str] = set()
    for term in terms:
        op, bare = (term[0], term[1:].strip()) if term[0] in "&!" else ("", term)
        found = _matches(inv, bare)
        if found is None:
            raise UsageError(
                f"--select {term!r} names no host, group or label", hint=_suggest(inv, bare)
            )
        names = {h.name for h in found}
        if op == "&":
            keep = names if keep is None else keep & names
        elif op == "!":
            drop |= names
        else:
            chosen |= names
    if not chosen and (keep is not None or drop):
        chosen = {h.name for h in inv.hosts}
    if keep is not None:
        chosen &= keep
    chosen -= drop
    if not chosen:
        raise UsageError(f"--select {','.join(terms)} leaves no host", hint="loosen the selection")
    return [h for h in inv.hosts if h.name in chosen]


def _suggest(inv: Inventory, term: str) -> str:
    from difflib import get_close_matches

    known = [*inv.groups, *(h.name for h in inv.hosts)]
    known += sorted({f"{k}={v}" for h in inv.hosts for k, v in h.labels.items()})
    close = get_close_matches(term, known, n=3, cutoff=0.5)
    lead = f"did you mean {', '.join(close)}? " if close else ""
    return lead + "`llmbox fleet status` lists hosts, groups and labels"

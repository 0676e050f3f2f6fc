"""Reading an inventory: llmbox's own ``fleet.yaml``, or an Ansible inventory in INI or YAML."""

from __future__ import annotations

from pathlib import Path

from llmbox.errors import ConfigError
from llmbox.fleet import _ansible
from llmbox.fleet._inventory import DEFAULT_INVENTORY, FORMAT_DOC, Inventory, native_inventory
from llmbox.yamlio import parse_yaml, read_text


def load_inventory(path: Path | None = None) -> Inventory:
    """Read ``path`` (default ``./fleet.yaml``): llmbox's format, or an Ansible inventory in INI
    or YAML. Raises ConfigError (file:line) for a bad file."""
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
    return native_inventory(path, text)

"""Files in and out of the store: ``history import`` and ``history export``.

An export is JSON Lines, one run a line, each an ``llmbox.history/1`` envelope that keeps what
the report itself does not carry (the run's tags, when and how it was saved)::

    {"schema": "llmbox.history/1", "id": 12, "saved_at": "…", "source": "bench",
     "tags": {"git": "abc123"}, "report": {"schema": "llmbox.bench/1", …}}

Import reads those, a JSON array of them, or plain ``llmbox.bench/1`` report files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmbox.errors import UsageError
from llmbox.store._query import RunFilter
from llmbox.store._report import REPORT_HINT, validate
from llmbox.store._store import Store

ENVELOPE = "llmbox.history/1"


@dataclass
class Entry:
    report: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    source: str | None = None


def _entry(obj: Any, where: str) -> Entry:
    if isinstance(obj, dict) and obj.get("schema") == ENVELOPE:
        tags = obj.get("tags") or {}
        if not isinstance(tags, dict) or "report" not in obj:
            raise UsageError(f"{where}: a malformed {ENVELOPE} entry", hint=REPORT_HINT)
        validate(obj["report"], where)
        return Entry(obj["report"], {str(k): str(v) for k, v in tags.items()}, obj.get("source"))
    validate(obj, where)
    return Entry(obj)


def read_file(path: Path) -> list[Entry]:
    """Every report in a file (``-``: stdin), each validated; UsageError on the first bad one."""
    name = "stdin" if str(path) == "-" else str(path)
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(
            f"cannot read {name}: {err.strerror or err}", hint="check the path"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not a text file", hint=REPORT_HINT) from None
    if not text.strip():
        raise UsageError(f"{name} is empty", hint=REPORT_HINT)
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg != "Extra data":
            raise UsageError(
                f"{name} is not JSON (line {err.lineno}: {err.msg})", hint=REPORT_HINT
            ) from None
        return _read_lines(text, name)
    if isinstance(whole, list):
        return [_entry(obj, f"{name} [{i}]") for i, obj in enumerate(whole)]
    return [_entry(whole, name)]


def _read_lines(text: str, name: str) -> list[Entry]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise UsageError(f"{name}:{number} is not JSON ({err.msg})", hint=REPORT_HINT) from None
        entries.append(_entry(obj, f"{name}:{number}"))
    return entries


def export(
    store: Store, flt: RunFilter, write: Callable[[str], object], *, array: bool = False
) -> int:
    """Write every run matching ``flt``, oldest first, one ``write`` a run; how many."""
    count = 0
    if array:
        write("[\n")
    for info, report in store.reports(flt):
        envelope = {
            "schema": ENVELOPE,
            "id": info.id,
            "saved_at": info.saved_at,
            "source": info.source,
            "tags": info.tags,
            "report": report,
        }
        text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
        if array:
            write(("" if count == 0 else ",\n") + text)
        else:
            write(text + "\n")
        count += 1
    if array:
        write("\n]\n")
    return count

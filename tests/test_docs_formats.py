"""The file formats are documented, the examples in the docs are valid files, and every page a
message or hint names exists (issue 10, item 16)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from llmbox._userconfig import UserConfig
from llmbox.bench.grid import Suite, SuiteCase
from llmbox.provision import MachineSpec, ModelEntry
from llmbox.yamlio import keys_of

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DOC = ROOT / "docs" / "config.md"


@pytest.mark.parametrize("model", [UserConfig, MachineSpec, ModelEntry, Suite, SuiteCase])
def test_every_key_of_every_file_format_is_documented(model: type[BaseModel]) -> None:
    text = CONFIG_DOC.read_text(encoding="utf-8")
    missing = [k for k in keys_of(model) if f"`{k}`" not in text]
    assert not missing, f"docs/config.md does not describe {model.__name__} keys {missing}"


def _yaml_blocks(doc: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("doc", ["config.md", "provisioning.md"])
def test_every_yaml_example_in_the_docs_is_a_valid_file(doc: str) -> None:
    checked = 0
    for block in _yaml_blocks(ROOT / "docs" / doc):
        data = yaml.safe_load(block)
        if not isinstance(data, dict):
            continue  # a CI snippet, not one of llmbox's files
        model = MachineSpec if "models" in data else Suite if "cases" in data else UserConfig
        model.model_validate(data)
        checked += 1
    assert checked >= 1


def _doc_references() -> list[tuple[str, str]]:
    refs = []
    for source in sorted((ROOT / "llmbox").rglob("*.py")):
        for page in re.findall(r"docs/[\w./-]+\.md", source.read_text(encoding="utf-8")):
            refs.append((str(source.relative_to(ROOT)), page))
    return refs


#: Pages named in code that belong to other owners and do not exist yet.
_KNOWN_MISSING: set[tuple[str, str]] = set()


@pytest.mark.parametrize(
    ("source", "page"),
    [
        pytest.param(*ref, marks=pytest.mark.xfail(reason="page not written yet"))
        if ref in _KNOWN_MISSING
        else ref
        for ref in _doc_references()
    ],
    ids=lambda v: v,
)
def test_every_page_a_message_names_exists(source: str, page: str) -> None:
    assert (ROOT / page).is_file(), f"{source} names {page}, which does not exist"


def test_the_readme_links_the_file_formats() -> None:
    assert "(docs/config.md)" in (ROOT / "README.md").read_text(encoding="utf-8")

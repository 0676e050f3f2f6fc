"""The catalogs are validated by pydantic models (extra="forbid"): wrong types name the file, the
line and the key; a catalog seen before is read from the validated cache without pydantic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llmbox.config import configs_dir
from llmbox.errors import ConfigError
from llmbox.hw.chips import load_catalog
from llmbox.hw.models import load_models


def _edit(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (configs_dir() / name).read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("name", "old", "new", "says"),
    [
        (
            "models.yaml",
            "    quant: Q4_0\n",
            "    quant: null\n",
            r"field 'models\.llama2:7b\.quant'",
        ),
        (
            "models.yaml",
            "    quant: Q4_0\n",
            "    quant: Q9_X\n",
            r"models\.llama2:7b\.quant.*Q9_X",
        ),
        ("models.yaml", "    layers: 32\n", "    layers: many\n", r"models\.llama2:7b\.layers"),
        ("chips.yaml", "  - id: m1-7c\n", "  - id: [a]\n", r"field 'chips\.0\.id'"),
        ("chips.yaml", "families:\n", "families: []\nx:\n", r"(families|unknown key 'x')"),
        ("chips.yaml", "    bw_gbs: 273\n", "    bw_gbs: .nan\n", r"chips\.\d+\.bw_gbs"),
        ("chips.yaml", "    kind: soc\n", "    kind: tpu\n", r"chips\.0\.kind"),
    ],
)
def test_wrong_types_name_file_line_and_key(
    tmp_path: Path, name: str, old: str, new: str, says: str
) -> None:
    path = _edit(tmp_path, name, old, new)
    load = load_catalog if name == "chips.yaml" else load_models
    with pytest.raises(ConfigError, match=rf"^{path}:\d+: .*{says}") as err:
        load(path)
    assert "\n" not in err.value.message
    assert "hw-estimate.md" in (err.value.hint or "")


def test_cross_references_are_still_checked(tmp_path: Path) -> None:
    path = _edit(tmp_path, "chips.yaml", "    family: apple-metal\n", "    family: apple-metl\n")
    with pytest.raises(ConfigError, match=r"chips\.0\.family.*unknown family 'apple-metl'"):
        load_catalog(path)


def test_a_known_catalog_is_read_without_yaml_or_pydantic() -> None:
    load_catalog(), load_models()  # fills the cache
    code = (
        "import sys\n"
        "from llmbox.hw.chips import load_catalog\n"
        "from llmbox.hw.models import load_models\n"
        "load_catalog(); load_models()\n"
        "print(sorted(m for m in ('pydantic', 'yaml') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_an_edited_catalog_is_validated_again(tmp_path: Path) -> None:
    path = _edit(tmp_path, "chips.yaml", "    bw_gbs: 273\n", "    bw_gbs: 274\n")
    assert any(c.bw_gbs == 274 for c in load_catalog(path).chips.values())
    path.write_text(path.read_text().replace("    bw_gbs: 274\n", "    bw_gbs: -1\n", 1))
    with pytest.raises(ConfigError, match="bw_gbs"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("entry", "runtime", "not_in_file"),
    [
        ("FamilyEntry", "llmbox.hw.chips:Family", {"name"}),
        ("ChipEntry", "llmbox.hw.chips:Chip", {"fp32_lanes_per_sm"}),  # from its architecture
        ("ModelEntry", "llmbox.hw.models:ModelSpec", {"name"}),
    ],
)
def test_the_file_schema_and_the_runtime_types_agree(
    entry: str, runtime: str, not_in_file: set[str]
) -> None:
    """The pydantic models describe the files, the dataclasses are what the estimator uses (no
    pydantic import on the fast path): same fields, same defaults."""
    import dataclasses
    import importlib

    from llmbox.hw import _schema

    module, name = runtime.split(":")
    cls = getattr(importlib.import_module(module), name)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    model = getattr(_schema, entry).model_fields
    assert set(model) - {"aliases"} == set(fields) - not_in_file - {"aliases"}
    for key, info in model.items():
        if key in fields and not info.is_required():
            default = fields[key].default
            if default is dataclasses.MISSING:
                continue  # a default factory: empty either way
            got = info.get_default(call_default_factory=True)
            want = list(default) if isinstance(default, tuple) else default
            assert got == want, key

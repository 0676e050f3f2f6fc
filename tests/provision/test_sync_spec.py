"""The sync file: checked before any change, errors name file, line and field; the plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmbox.errors import ConfigError
from llmbox.names import normalize_name
from llmbox.provision import InstalledModel, load_spec, make_plan, parse_keep_alive


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "machine.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _installed(*names: str) -> list[InstalledModel]:
    return [InstalledModel(n, "d" * 64, 1, "1B", "Q4_0", "llama", "gguf", "") for n in names]


def test_spec_accepts_names_and_entries(tmp_path: Path) -> None:
    spec = load_spec(
        _write(
            tmp_path,
            "models:\n"
            "  - llama3.2\n"
            "  - name: qwen2.5:0.5b\n"
            "    preload: true\n"
            "  - name: smollm2:135m\n"
            "    keep_alive: 1h30m\n"
            "  - name: gemma3:1b\n"
            "    keep_alive: -1\n",
        )
    )
    assert [m.name for m in spec.models] == [
        "llama3.2",
        "qwen2.5:0.5b",
        "smollm2:135m",
        "gemma3:1b",
    ]
    assert [m.wants_load for m in spec.models] == [False, True, True, True]
    assert spec.models[2].keep_alive == "1h30m"
    assert spec.models[3].keep_alive == -1


def test_the_shipped_example_is_valid() -> None:
    spec = load_spec(Path(__file__).parents[2] / "configs" / "machine.yaml")
    assert spec.models


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("models:\n  - name: a\n    preload: yes please\n", ":3", "field 'models.0.preload'"),
        ("models:\n  - a\n  - name: b\n    keepalive: 5m\n", ":4",
         "unknown key 'keepalive' in models.1 (did you mean 'keep_alive'?)"),
        ("models:\n  - a\n  - name: b\n    keep_alive: 5 minutes\n", ":4",
         "field 'models.1.keep_alive': invalid keep_alive '5 minutes'"),
        ("models:\n  - a\n  - A:latest\n", ":2", "field 'models'"),
        ("models: []\n", ":1", "field 'models'"),
        ("model:\n  - a\n", ":1", "unknown key 'model' (did you mean 'models'?)"),
        ("models:\n  - name: [a\n", ":", "invalid YAML"),
        ("models:\n  - 'two words'\n", ":2", "field 'models.0.name'"),
        ("models:\n  - name: b\n    color: red\n", ":3",
         "unknown key 'color' in models.0 (expected one of: name, preload, keep_alive)"),
        ("models:\n  - preload: true\n", ":2", "missing key 'name' in models.0"),
        ("# nothing yet\n", ": the file is empty", "(expected keys: models)"),
        ("just text\n", ":1", "expected a mapping with keys models"),
        ("models: llama3.2\n", ":1", "field 'models'"),
    ],
)  # fmt: skip
def test_malformed_files_name_file_line_and_key(
    tmp_path: Path, text: str, where: str, says: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_spec(path)
    message = err.value.message
    assert message.startswith(f"{path}{where}")
    assert says in message
    assert "\n" not in message
    assert err.value.exit_code == 2
    assert err.value.hint in (
        "the format is described in docs/provisioning.md",
        "check the indentation and quoting",
    )


def test_duplicate_message_names_both_items(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'A:latest' is listed twice \(items 0 and 1\)"):
        load_spec(_write(tmp_path, "models:\n  - a\n  - A:latest\n"))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")


def test_plan_pulls_missing_keeps_present_and_prunes_only_when_asked(tmp_path: Path) -> None:
    spec = load_spec(
        _write(tmp_path, "models:\n  - llama3.2\n  - name: qwen2.5:0.5b\n    preload: true\n")
    )
    installed = _installed("llama3.2:latest", "old:7b")
    plan = make_plan(spec, installed, prune=False, file="f.yaml")
    assert (plan.present, plan.to_pull, plan.to_remove) == (["llama3.2"], ["qwen2.5:0.5b"], [])
    assert [e.name for e in plan.to_load] == ["qwen2.5:0.5b"]
    assert not plan.in_sync
    assert plan.rows() == [
        ("llama3.2", "present"),
        ("qwen2.5:0.5b", "pull"),
        ("qwen2.5:0.5b", "load"),
    ]
    pruned = make_plan(spec, installed, prune=True)
    assert pruned.to_remove == ["old:7b"]
    done = make_plan(spec, _installed("llama3.2:latest", "qwen2.5:0.5b"), prune=True)
    assert done.in_sync
    assert done.to_dict() == {
        "file": "", "in_sync": True, "present": ["llama3.2", "qwen2.5:0.5b"], "pull": [],
        "remove": [], "load": [{"model": "qwen2.5:0.5b", "keep_alive": None}],
    }  # fmt: skip


def test_names_and_keep_alive() -> None:
    assert normalize_name("library/Qwen2.5") == "qwen2.5:latest"
    assert normalize_name("myhost:5000/ns/model") == "myhost:5000/ns/model:latest"
    assert parse_keep_alive("1h30m") == "1h30m"
    assert parse_keep_alive("0") == 0.0
    assert parse_keep_alive("300") == 300.0  # Ollama would reject "300" (no unit): send seconds
    with pytest.raises(ValueError, match="invalid keep_alive"):
        parse_keep_alive("forever")


def test_shipped_example_file_is_valid() -> None:
    from pathlib import Path

    from llmbox.provision._sync import load_spec

    spec = load_spec(Path(__file__).resolve().parents[2] / "configs" / "machine.yaml")
    assert len(spec.models) == 3

"""The one YAML reader: every file llmbox reads (sync spec, suite, config, catalogs) fails the same
way: one line naming the file, the line and the key, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmbox.cli import app
from llmbox.errors import ConfigError
from llmbox.yamlio import line_of, read_yaml

runner = CliRunner()


def _suite(path: Path) -> object:
    from llmbox.bench.grid import load_suite

    return load_suite(str(path))


def _sync(path: Path) -> object:
    from llmbox.provision import load_spec

    return load_spec(path)


def _config(path: Path) -> object:
    from llmbox.config import read_user_config

    return read_user_config(path)


def _chips(path: Path) -> object:
    from llmbox.hw.chips import load_catalog

    return load_catalog(path)


LOADERS = {"suite": _suite, "sync": _sync, "config": _config, "chips": _chips}


@pytest.mark.parametrize("name", list(LOADERS))
@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"a: 1\nb: caf\xe9\n", ":2: not UTF-8 text (byte 0xe9)"),
        (b"\xff\xfea\x00:\x00", " is UTF-16 text, not UTF-8"),
        (b"a: [1,\n", "invalid YAML"),
    ],
    ids=["latin-1", "utf-16", "syntax"],
)
def test_every_loader_rejects_bytes_that_are_not_yaml_text(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        LOADERS[name](path)
    assert err.value.message.startswith(str(path))
    assert says in err.value.message
    assert err.value.exit_code == 2


@pytest.mark.parametrize("name", ["sync", "config", "chips"])  # a suite path falls back to names
def test_every_loader_rejects_a_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="is a directory, not a YAML file"):
        LOADERS[name](tmp_path)


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"\xef\xbb\xbfmodels:\n  - llama3.2\n")
    assert read_yaml(path)[0] == {"models": ["llama3.2"]}


def test_line_of_points_at_values_keys_and_items() -> None:
    text = "a:\n  b:\n    - x\n    - y: 1\n      z: 2\n"
    assert line_of(text, ("a", "b", 1, "z")) == 5
    assert line_of(text, ("a", "b", 1)) == 4
    assert line_of(text, ("a", "nope")) == 2  # a missing key: its mapping
    assert line_of(text, ("a", "b"), at_key=True) == 2
    assert line_of("a: [", ("a",)) is None


def test_suite_typo_names_the_key_and_suggests_the_right_one(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ncases:\n  - prompt_tokens: 64\n    concurency: 2\n")
    with pytest.raises(ConfigError) as err:
        _suite(path)
    assert err.value.message == (
        f"{path}:4: unknown key 'concurency' in cases.0 (did you mean 'concurrency'?)"
    )
    assert err.value.hint == "the format is described in docs/config.md"


# -- the user's config file ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("hots: x\n", ":1: unknown key 'hots' (did you mean 'host'?)"),
        ("host: ftp://box\n", ":1: field 'host': unsupported scheme in host 'ftp://box'"),
        ("host: box:99999\n", ":1: field 'host': invalid port in host 'box:99999'"),
        ("timeout: .nan\n", ":1: field 'timeout': timeout must be seconds"),
        ("timeout: soon\n", ":1: field 'timeout': Input should be a valid number"),
        ("- host\n", ":1: expected a mapping with keys host, timeout"),
    ],
)
def test_a_bad_config_file_fails_every_server_command_with_exit_2(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, content: str, says: str
) -> None:
    path = isolated_env / "config.yaml"
    path.write_text(content)
    monkeypatch.setenv("LLMBOX_CONFIG", str(path))
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 2, result.output
    assert f"Error: {path}{says}" in result.stderr
    assert "Hint: " in result.stderr


def test_an_explicit_config_that_does_not_exist_is_an_error(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBOX_CONFIG", str(isolated_env / "typo.yaml"))
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 2
    assert f"Error: config file {isolated_env / 'typo.yaml'} does not exist" in result.stderr


def test_the_default_config_may_be_absent() -> None:
    from llmbox.config import read_user_config

    assert read_user_config() == {}

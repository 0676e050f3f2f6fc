"""OLLAMA_HOST parsing: the reference's tables (ollama_api.md §3), plus llmbox's choices."""

from __future__ import annotations

import pytest

from llmbox.config import Settings, parse_host, resolve_settings
from llmbox.errors import UsageError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
        ("1.2.3.4", "http://1.2.3.4:11434"),
        (":56789", "http://127.0.0.1:56789"),
        ("1.2.3.4:1234", "http://1.2.3.4:1234"),
        ("example.com", "http://example.com:11434"),
        ("example.com:1234", "http://example.com:1234"),
        ("example.com/", "http://example.com:11434"),
        ("example.com:56789/path/", "http://example.com:56789/path"),
        ("example.com/path", "http://example.com:11434/path"),
        ("http://1.2.3.4", "http://1.2.3.4:80"),
        ("https://1.2.3.4", "https://1.2.3.4:443"),
        ("http://1.2.3.4:4321", "http://1.2.3.4:4321"),
        ("https://example.com/ollama", "https://example.com:443/ollama"),
        ("[::1]", "http://[::1]:11434"),
        ("::1", "http://[::1]:11434"),
        ("[::1]:1337", "http://[::1]:1337"),
        ("[0001:002:003:0004::1]", "http://[0001:002:003:0004::1]:11434"),
        ("[0001:002:003:0004::1]:56789/path/", "http://[0001:002:003:0004::1]:56789/path"),
        (' "1.2.3.4" ', "http://1.2.3.4:11434"),
        ("'1.2.3.4'", "http://1.2.3.4:11434"),
        ("ollama.com", "https://ollama.com:443"),
        # unspecified bind addresses are rewritten to loopback for connecting
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:1234", "http://127.0.0.1:1234"),
        ("https://0.0.0.0:4321", "https://127.0.0.1:4321"),
        ("[::]", "http://[::1]:11434"),
    ],
)
def test_parse_host_matches_reference(value: str | None, expected: str) -> None:
    assert parse_host(value) == expected


@pytest.mark.parametrize("value", [":66000", ":-1", "ftp://host", "1.2.3.4:port"])
def test_parse_host_rejects_bad_values_with_hint(value: str) -> None:
    # Go silently falls back to 11434 on a bad port; a CLI user is better served by an error.
    with pytest.raises(UsageError) as info:
        parse_host(value)
    assert info.value.hint


def test_precedence_flag_env_file_default() -> None:
    env = {"OLLAMA_HOST": "envhost:1", "LLMBOX_TIMEOUT": "30"}
    file_values = {"host": "filehost:2", "timeout": 60}
    both = resolve_settings(host="flaghost:3", timeout=5, env=env, file_values=file_values)
    assert both == Settings("http://flaghost:3", 5.0)
    assert resolve_settings(env=env, file_values=file_values) == Settings("http://envhost:1", 30.0)
    assert resolve_settings(env={}, file_values=file_values) == Settings("http://filehost:2", 60.0)
    assert resolve_settings(env={}, file_values={}) == Settings("http://127.0.0.1:11434", None)


def test_timeout_zero_means_no_limit_and_not_given_means_the_defaults() -> None:
    from llmbox.client._http import Timeouts

    zero = resolve_settings(timeout=0, env={}, file_values={}).timeout
    assert zero == 0
    assert Timeouts.resolve(zero) == Timeouts(connect=10.0, request=None, idle=None)
    assert Timeouts.resolve(-5) == Timeouts(connect=10.0, request=None, idle=None)
    assert Timeouts.resolve(None) == Timeouts(connect=10.0, request=30.0, idle=600.0)
    assert Timeouts.resolve(None, quick=True) == Timeouts(connect=3.0, request=3.0, idle=600.0)
    assert Timeouts.resolve(120) == Timeouts(connect=10.0, request=120, idle=120)


def test_timeout_nan_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="invalid timeout"):
        resolve_settings(timeout=float("nan"), env={}, file_values={})


def test_config_file_is_read_and_validated(isolated_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from llmbox.errors import ConfigError

    path = isolated_env / "cfg.yaml"
    monkeypatch.setenv("LLMBOX_CONFIG", str(path))
    path.write_text("host: 10.0.0.5\ntimeout: 12\n")
    assert resolve_settings() == Settings("http://10.0.0.5:11434", 12.0)
    path.write_text("host: 10.0.0.5\nhots: typo\n")
    with pytest.raises(
        ConfigError, match=r"cfg.yaml:2: unknown key 'hots' \(did you mean 'host'\?\)"
    ):
        resolve_settings()


def test_an_option_taken_for_the_host_is_named() -> None:
    """`llmbox list --host $UNSET -q`: not 'cannot resolve host' after a DNS lookup of '-q'."""
    from typer.testing import CliRunner

    from llmbox.cli import app

    result = CliRunner().invoke(app, ["list", "--host", "--quiet"])
    assert result.exit_code == 2
    assert "invalid host '--quiet': a host name cannot start with '-'" in result.stderr
    assert "did --host lose its value?" in result.stderr

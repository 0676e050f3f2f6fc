"""Defaults, host parsing and settings resolution.

Precedence is explicit and the same for every setting: command-line flag > environment variable
(``LLMBOX_*``, ``OLLAMA_HOST``) > the user's YAML config file > the defaults below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbox.errors import UsageError

DEFAULT_PORT = 11434
DEFAULT_HOST = f"http://127.0.0.1:{DEFAULT_PORT}"
#: Seconds to wait for a TCP connection; reads have no limit by default, because the first byte of
#: a generation only arrives once the model is loaded, which can take minutes.
CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S: float | None = None

CONFIG_ENV = "LLMBOX_CONFIG"
HOST_ENV = "OLLAMA_HOST"
TIMEOUT_ENV = "LLMBOX_TIMEOUT"

_PACKAGE_DIR = Path(__file__).resolve().parent


def configs_dir() -> Path:
    """The directory of shipped YAML files: inside the wheel, or ``configs/`` in a checkout."""
    installed = _PACKAGE_DIR / "_configs"
    return installed if installed.is_dir() else _PACKAGE_DIR.parent / "configs"


def user_config_path() -> Path:
    if explicit := os.environ.get(CONFIG_ENV):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "llmbox" / "config.yaml"


def parse_host(value: str | None) -> str:
    """Turn an ``OLLAMA_HOST``-style value into a base URL a client can connect to.

    Follows ollama-python (a bare ``:port`` means 127.0.0.1), strips quotes and spaces like the Go
    server, maps the unspecified bind addresses to loopback, and keeps a path prefix for proxies.

    >>> parse_host(None)
    'http://127.0.0.1:11434'
    >>> parse_host("0.0.0.0:1234")
    'http://127.0.0.1:1234'
    >>> parse_host("https://example.com/ollama/")
    'https://example.com:443/ollama'
    """
    from ipaddress import IPv6Address, ip_address
    from urllib.parse import urlsplit

    raw = (value or "").strip().strip("\"'").strip()
    if not raw:
        return DEFAULT_HOST
    scheme, sep, rest = raw.partition("://")
    port = DEFAULT_PORT
    if not sep:
        if raw == "ollama.com":
            return "https://ollama.com:443"
        scheme, rest = "http", raw
    elif scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    else:
        raise UsageError(
            f"unsupported scheme in host {value!r}",
            hint="use http:// or https://, e.g. 127.0.0.1:11434",
        )
    if rest.count(":") > 1 and not rest.startswith("["):
        try:  # a bare IPv6 address such as ::1, which Go's parser accepts
            rest = f"[{ip_address(rest.split('/')[0])}]" + rest[len(rest.split("/")[0]) :]
        except ValueError:
            pass
    parts = urlsplit(f"{scheme}://{rest}")
    try:
        port = parts.port or port
    except ValueError:
        raise UsageError(
            f"invalid port in host {value!r}", hint="a port is a number from 1 to 65535"
        ) from None
    host = parts.hostname or "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        if isinstance(ip_address(host), IPv6Address):
            host = f"[{host}]"
    except ValueError:
        pass
    path = parts.path.strip("/")
    return f"{scheme}://{host}:{port}/{path}" if path else f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class Settings:
    """What a server command needs to reach its server."""

    host: str = DEFAULT_HOST
    timeout: float | None = DEFAULT_READ_TIMEOUT_S


def _parse_timeout(value: Any, source: str) -> float | None:
    if value is None or value in ("", "none"):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"invalid timeout {value!r} from {source}", hint="give seconds, e.g. --timeout 300"
        ) from None
    if seconds <= 0:
        return None  # 0 or negative means "no limit", as for OLLAMA_LOAD_TIMEOUT
    return seconds


def read_user_config(path: Path | None = None) -> dict[str, Any]:
    """The user's YAML config (``host``, ``timeout``), or ``{}`` when there is none.

    A file named by ``$LLMBOX_CONFIG`` must exist; the default one may be absent.
    """
    from llmbox._userconfig import UserConfig
    from llmbox.errors import ConfigError
    from llmbox.yamlio import load_yaml_model

    from_env = path is None and bool(os.environ.get(CONFIG_ENV))
    explicit = path is not None or from_env
    path = path or user_config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(
                f"config file {path} does not exist" + (f" ({CONFIG_ENV})" if from_env else ""),
                hint=f"create it (see docs/config.md) or unset {CONFIG_ENV}",
            )
        return {}
    model = load_yaml_model(path, UserConfig, doc="docs/config.md")
    if model.host is not None:
        try:
            parse_host(model.host)
        except UsageError as err:
            from llmbox.yamlio import line_of, read_text

            line = line_of(read_text(path), ("host",))
            raise ConfigError(
                f"{path}:{line}: field 'host': {err.message}", hint=err.hint
            ) from None
    return model.model_dump(exclude_none=True)


def resolve_settings(
    *,
    host: str | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    file_values: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve host and timeout: flag > env > config file > default."""
    env = os.environ if env is None else env
    if file_values is None:
        file_values = read_user_config() if (host is None or timeout is None) else {}
    if host is not None:
        host_value: str | None = host
    elif env.get(HOST_ENV, "").strip():
        host_value = env[HOST_ENV]
    else:
        host_value = file_values.get("host")
    if timeout is not None:
        timeout_value = _parse_timeout(timeout, "--timeout")
    elif env.get(TIMEOUT_ENV, "").strip():
        timeout_value = _parse_timeout(env[TIMEOUT_ENV], TIMEOUT_ENV)
    else:
        timeout_value = _parse_timeout(file_values.get("timeout"), "config file")
    return Settings(host=parse_host(host_value), timeout=timeout_value)

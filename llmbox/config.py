"""Defaults, host parsing and settings resolution.

Precedence is explicit and the same for every setting: command-line flag > environment variable
(``LLMBOX_*``, ``OLLAMA_HOST``) > the user's YAML config file > the defaults below.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmbox.errors import UsageError

DEFAULT_PORT = 11434
DEFAULT_HOST = f"http://127.0.0.1:{DEFAULT_PORT}"
#: ``Settings.timeout`` when ``--timeout`` is not given: the limits in ``llmbox.defaults`` apply.
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


_HOST_HINT = "e.g. 127.0.0.1:11434, gpu-box:11434 or https://example.com/ollama"


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
    if not raw.isprintable() or any(c.isspace() or c in "\"'" for c in raw):
        raise UsageError(
            f"invalid host {value!r}: it contains spaces, quotes or control characters",
            hint=_HOST_HINT,
        )
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
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        port = parts.port if parts.port is not None else port
    except ValueError as err:
        what = "port" if "port" in str(err).lower() else "address"
        hint = "a port is a number from 1 to 65535" if what == "port" else _HOST_HINT
        raise UsageError(f"invalid {what} in host {value!r}", hint=hint) from None
    if not 0 < port < 65536:
        raise UsageError(
            f"invalid port in host {value!r}", hint="a port is a number from 1 to 65535"
        )
    host = parts.hostname or "127.0.0.1"
    if host.startswith("-"):  # `--host $UNSET --runs 3`: the next option taken for the host
        raise UsageError(
            f"invalid host {value!r}: a host name cannot start with '-'",
            hint=f"did --host lose its value? {_HOST_HINT}",
        )
    if not all(c.isalnum() or c in "-._:[]" for c in host):
        raise UsageError(f"invalid host name {host!r} in {value!r}", hint=_HOST_HINT)
    if not host.isascii():  # an internationalized name: as strict as httpx will be
        import idna  # an httpx dependency, only paid for such names

        try:
            idna.encode(host.lower())
        except (idna.IDNAError, ValueError):
            raise UsageError(f"invalid host name {host!r} in {value!r}", hint=_HOST_HINT) from None
    if host.count(".") == 3 and host.replace(".", "").isdigit():
        try:
            ip_address(host)
        except ValueError:
            raise UsageError(f"invalid IP address {host!r} in {value!r}", hint=_HOST_HINT) from None
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
    """What a server command needs to reach its server.

    ``timeout`` is the user's ``--timeout``: None when not given (the defaults above apply), 0 for
    no limit at all.
    """

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
    if math.isnan(seconds):
        raise UsageError(
            f"invalid timeout {value!r} from {source}", hint="give seconds, e.g. --timeout 300"
        )
    return max(seconds, 0.0)  # 0 or negative means "no limit", as for OLLAMA_LOAD_TIMEOUT


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

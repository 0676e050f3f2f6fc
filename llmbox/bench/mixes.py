"""Request mixes: prompt and output lengths drawn per request from a distribution.

``--prompt-tokens`` and ``--max-tokens`` take, besides a fixed ``N``:

- ``LO:HI`` — uniform whole numbers from LO to HI, both included (``256:2048``);
- ``MEAN~SD`` — normal with that mean and standard deviation, rounded, clipped to
  ``[1, MEAN + 4·SD]`` (``1024~256``).

Each case draws from its own random stream, seeded by ``--seed`` and the case's position, so a
rerun with the same seed sends the same lengths. The case's ``prompt_tokens``/``max_tokens`` hold
the distribution's mean (used for labels, context checks and prompt calibration).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from llmbox.errors import UsageError
from llmbox.results import BenchReport, CaseResult


@dataclass(frozen=True)
class Lengths:
    """A fixed length, or a distribution of lengths (``kind`` fixed | uniform | normal)."""

    kind: str
    a: int  # fixed: the value; uniform: LO; normal: MEAN
    b: int = 0  # uniform: HI; normal: SD

    @property
    def spec(self) -> str | None:
        """The distribution as written (None for a fixed length)."""
        if self.kind == "uniform":
            return f"{self.a}:{self.b}"
        if self.kind == "normal":
            return f"{self.a}~{self.b}"
        return None

    @property
    def mean(self) -> int:
        return (self.a + self.b) // 2 if self.kind == "uniform" else self.a

    @property
    def upper(self) -> int:
        """The largest length a request can get."""
        if self.kind == "uniform":
            return self.b
        if self.kind == "normal":
            return self.a + 4 * self.b
        return self.a

    def draw(self, rng: random.Random) -> int:
        if self.kind == "uniform":
            return rng.randint(self.a, self.b)
        if self.kind == "normal":
            return max(1, min(self.upper, round(rng.gauss(self.a, self.b))))
        return self.a


def _number(text: str, option: str) -> int:
    text = text.strip().lower().replace("_", "")
    mult = 1024 if text.endswith("k") else 1
    try:
        return int(text[:-1] if mult > 1 else text) * mult
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not a whole number",
            hint=f"e.g. {option} 512, {option} 256:2048 (uniform) or {option} 1024~256 (normal)",
        ) from None


def parse_lengths(item: str, option: str) -> Lengths:
    """One item of a comma list: ``N``, ``LO:HI`` or ``MEAN~SD``.

    >>> parse_lengths("256:2k", "--prompt-tokens")
    Lengths(kind='uniform', a=256, b=2048)
    >>> parse_lengths("1024~256", "--prompt-tokens").spec
    '1024~256'
    """
    hint = f"e.g. {option} 256:2048 (uniform) or {option} 1024~256 (normal)"
    if ":" in item:
        lo_s, _, hi_s = item.partition(":")
        lo, hi = _number(lo_s, option), _number(hi_s, option)
        if lo < 1 or hi < lo:
            raise UsageError(f"{option} {item!r}: need 1 ≤ LO ≤ HI", hint=hint)
        return Lengths("uniform", lo, hi) if hi > lo else Lengths("fixed", lo)
    if "~" in item:
        mean_s, _, sd_s = item.partition("~")
        mean, sd = _number(mean_s, option), _number(sd_s, option)
        if mean < 1 or sd < 0:
            raise UsageError(f"{option} {item!r}: need MEAN ≥ 1 and SD ≥ 0", hint=hint)
        return Lengths("normal", mean, sd) if sd > 0 else Lengths("fixed", mean)
    value = _number(item, option)
    if value < 1:
        raise UsageError(f"{option}: {value} is below 1", hint=f"e.g. {option} 1")
    return Lengths("fixed", value)


def parse_lengths_list(value: str | None, option: str) -> list[Lengths]:
    """``"128,256:2048"`` -> one Lengths per item (empty: not given)."""
    if value is None or value == "":
        return []
    return [parse_lengths(item, option) for item in value.split(",")]


def as_lengths(value: int | Lengths) -> Lengths:
    """A plain number as a fixed length."""
    return value if isinstance(value, Lengths) else Lengths("fixed", value)


def from_spec(spec: str) -> Lengths:
    """A Case's recorded distribution (``prompt_dist``/``output_dist``) back as Lengths."""
    return parse_lengths(spec, "distribution")


def case_rng(seed: int | None, index: int, what: str) -> random.Random:
    """The random stream of one case's lengths: the same with the same seed (none: random)."""
    return random.Random(f"{seed}/{what}/{index}") if seed is not None else random.Random()


# -- the prompt cache's effect (multi-turn chats) -------------------------------------------------


def cache_effect(report: BenchReport) -> list[str]:
    """Per multi-turn case and model: TTFT of turns after the first, with the conversation
    resent (the cache can reuse it) against the same amount of new text (``no-cache``), and
    how many prompt tokens were reused — as the server reports them, else as the client counted
    the shared prefix."""
    pairs: dict[tuple[str, str], dict[bool, CaseResult]] = {}
    for r in report.results:
        if r.case.turns > 1:
            key = (r.model, r.case.label.removesuffix(" no-cache"))
            pairs.setdefault(key, {})[r.case.shared_prefix] = r
    lines = []
    for (model, label), pair in pairs.items():
        if True not in pair or False not in pair:
            continue
        later = {k: [s for s in v.runs if s.ok and (s.turn or 0) > 1] for k, v in pair.items()}
        ttft = {k: [s.ttft_s for s in v if s.ttft_s is not None] for k, v in later.items()}
        if not ttft[True] or not ttft[False]:
            continue
        with_cache = sum(ttft[True]) / len(ttft[True])
        without = sum(ttft[False]) / len(ttft[False])
        prompt = sum(s.prompt_eval_count for s in later[True]) / len(later[True])
        reported = [
            s.cached_prompt_tokens for s in later[True] if s.cached_prompt_tokens is not None
        ]
        if reported:
            reused, source = sum(reported) / len(reported), "reported by the server"
        else:
            counted = [s.shared_prefix_tokens or 0 for s in later[True]]
            reused, source = sum(counted) / len(counted), "shared prefix, counted by the client"
        turns = pair[True].case.turns
        ratio = without / with_cache if with_cache > 0 else math.inf
        verdict = f"{ratio:.1f}× faster" if ratio >= 1 else f"{1 / ratio:.1f}× slower"
        lines.append(
            f"{model} {label}: prompt cache: TTFT of turns 2–{turns} {with_cache * 1000:.0f} ms "
            f"with the conversation resent vs {without * 1000:.0f} ms with nothing shared "
            f"({verdict}); {reused:,.0f} of {prompt:,.0f} prompt tokens reused ({source})"
        )
    return lines

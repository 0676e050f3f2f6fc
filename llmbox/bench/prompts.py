"""Prompts that measure what they claim to.

Each request starts with a distinct marker, so no request shares a prompt prefix with the one
before it and a server's prompt cache cannot inflate the prefill rate. Synthetic prompts of about
N tokens are built from a word list and calibrated on the server's own ``prompt_eval_count``, as
Ollama's ``cmd/bench`` does.
"""

from __future__ import annotations

import random

_WORDS = [
    "river",
    "mountain",
    "lantern",
    "harbor",
    "violet",
    "copper",
    "meadow",
    "signal",
    "orchard",
    "canvas",
    "thunder",
    "marble",
    "falcon",
    "ember",
    "glacier",
    "willow",
    "compass",
    "velvet",
    "saddle",
    "beacon",
    "cedar",
    "quarry",
    "tidal",
    "frost",
    "garnet",
    "prairie",
    "anchor",
    "bramble",
    "cinder",
    "dune",
    "fable",
    "grotto",
    "hollow",
    "ivory",
    "juniper",
    "kettle",
    "lagoon",
    "mosaic",
    "nectar",
    "opal",
    "pebble",
    "quill",
    "ripple",
    "sable",
    "thistle",
    "umber",
    "vessel",
    "wharf",
    "yarrow",
    "zephyr",
    "archive",
    "basin",
    "cobalt",
    "delta",
    "estuary",
    "fjord",
    "gully",
    "heron",
    "inlet",
    "jasper",
    "kelp",
    "lichen",
    "mesa",
    "nimbus",
    "ochre",
    "pylon",
    "quartz",
    "reef",
    "spire",
    "tundra",
    "upland",
    "vale",
    "wadi",
]

INSTRUCTION = "Write a long story using the words above."

#: A first guess before calibration; most tokenizers give 1.2-1.5 tokens per English word.
DEFAULT_TOKENS_PER_WORD = 1.3


def filler(n_words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(max(n_words, 0)))


def marker(uid: int) -> str:
    """A per-request prefix whose first word differs from the previous request's.

    A number alone would not do: ``[12345]`` and ``[12346]`` share the tokens ``[``, ``123``...

    >>> marker(7), marker(8)
    ('[signal 7]', '[orchard 8]')
    """
    return f"[{_WORDS[uid % len(_WORDS)]} {uid}]"


PROBE_WORDS = 8


class PromptBuilder:
    """Builds each request's prompt and learns the server's tokens per filler word.

    A prompt's token count is ``overhead + tokens_per_word × words``, where the overhead (marker,
    instruction, chat template, system prompt) can be as large as a small target. Two probes of
    different lengths fit both terms; later requests refine the fit.
    """

    def __init__(self, *, seed: int = 0, nonce: str = "") -> None:
        # The nonce (new for every invocation) moves the markers and the filler, so a server
        # that caches every prompt it has seen still meets new text; the seed alone would replay
        # the previous invocation's prompts.
        self.seed = seed
        self.nonce = nonce
        self.tokens_per_word = DEFAULT_TOKENS_PER_WORD
        self.overhead = 0.0
        self.points: list[tuple[int, int]] = []
        self._uid = random.Random(f"{seed}/{nonce}").randrange(10_000, 90_000)

    def next_uid(self) -> int:
        self._uid += 1
        return self._uid

    @property
    def calibrated(self) -> bool:
        return len({w for w, _ in self.points}) >= 2

    def predicted_tokens(self, words: int) -> float:
        """The prompt tokens a synthetic text prompt of ``words`` filler words should count."""
        return self.overhead + self.tokens_per_word * words

    def words_for(self, prompt_tokens: int) -> int:
        return max(1, round((prompt_tokens - self.overhead) / self.tokens_per_word))

    def build(self, *, prompt: str | None, prompt_tokens: int | None) -> tuple[str, int]:
        """The prompt text and the number of filler words in it (0 for a literal prompt)."""
        uid = self.next_uid()
        if prompt is not None:
            return f"{self._marker(uid)} {prompt}", 0
        return self.synthetic(self.words_for(prompt_tokens or 0), uid), self.words_for(
            prompt_tokens or 0
        )

    def synthetic(self, words: int, uid: int | None = None) -> str:
        uid = self.next_uid() if uid is None else uid
        return f"{self._marker(uid)} {filler(words, self.seed + uid)}\n\n{INSTRUCTION}"

    def fresh_marker(self) -> str:
        """A marker no earlier request of this invocation began with."""
        return self._marker(self.next_uid())

    def _marker(self, uid: int) -> str:
        return f"{marker(uid)[:-1]} {self.nonce}]" if self.nonce else marker(uid)

    def observe(self, *, filler_words: int, prompt_eval_count: int) -> None:
        """Record a request's size and refit ``count = overhead + tokens_per_word × words``."""
        if filler_words <= 0 or prompt_eval_count <= 0:
            return
        self.points.append((filler_words, prompt_eval_count))
        xs = [w for w, _ in self.points]
        if len(set(xs)) < 2:
            self.tokens_per_word = prompt_eval_count / filler_words
            self.overhead = 0.0
            return
        ys = [c for _, c in self.points]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
        if slope > 0:
            self.tokens_per_word = slope
            self.overhead = max(0.0, my - slope * mx)

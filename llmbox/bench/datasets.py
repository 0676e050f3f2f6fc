"""Prompts from datasets: JSONL files and llmbox's own generated tasks.

A case's ``dataset`` is a JSONL file, or a generator:

- ``needle:N`` — needle-in-a-haystack retrieval: a fact hidden at 10 %, 50 % and 90 % of about
  N tokens of text, then asked for (3 items).
- ``okng`` — an image inspection with known answers: generated pictures of a part, some with a
  red defect mark (NG), some without (OK) (8 items; vision models).

One JSON object per line (blank lines and lines starting with ``#`` are skipped)::

    {"id": "sum-1", "prompt": "What is 17 + 25? Answer with the number only.",
     "type": "math", "expect": {"number": 42}, "max_tokens": 32,
     "images": ["part.png"], "history": [{"role": "user", "content": "…"}, …]}

Only ``prompt`` is required. ``images`` are paths relative to the file; ``history`` is the chat
before the prompt; ``expect`` makes the item scored (``llmbox.bench.scoring``); ``type`` groups
items in the reports (reasoning: math, code, commonsense, writing, extraction).
"""

from __future__ import annotations

import base64
import json
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmbox.bench.scoring import Expect
from llmbox.errors import UsageError

#: File signatures of the image formats vision models take (PNG, JPEG, GIF, WebP, BMP).
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")

_HINT = "one JSON object per line with at least a prompt (see docs/benchmarking.md#datasets)"


@dataclass(frozen=True)
class Item:
    """One prompt of a dataset."""

    id: str
    prompt: str
    type: str = ""
    expect: Expect | None = None
    max_tokens: int | None = None
    images: tuple[str, ...] = ()  # base64
    history: tuple[tuple[str, str], ...] = ()  # (role, content) before the prompt


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    prompt: str = Field(min_length=1)
    type: str = ""
    expect: Expect | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    images: list[str] = Field(default_factory=list)
    history: list[_Message] = Field(default_factory=list)


def check_image(path: Path, option: str = "--image") -> bytes:
    """The bytes of a PNG/JPEG/GIF/WebP/BMP file, or a UsageError saying what it is not."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise UsageError(f"{option} {path} is a directory", hint="give an image file") from None
    except OSError as err:
        reason = "not found" if isinstance(err, FileNotFoundError) else err.strerror
        raise UsageError(f"image {path}: {reason}", hint=f"check {option} PATH") from None
    head = data[:16]
    webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if not webp and not any(head.startswith(m) for m in _IMAGE_MAGIC):
        raise UsageError(
            f"{option} {path} is not an image (PNG, JPEG, GIF, WebP or BMP)",
            hint="vision models take image files; check the path",
        )
    return data


def load_jsonl(path: Path) -> list[Item]:
    """A dataset file, validated; errors name the file and line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise UsageError(f"--dataset {path} is a directory", hint="give a .jsonl file") from None
    except OSError as err:
        reason = "not found" if isinstance(err, FileNotFoundError) else err.strerror
        raise UsageError(f"dataset {path}: {reason}", hint="check --dataset PATH") from None
    except UnicodeDecodeError:
        raise UsageError(f"dataset {path} is not UTF-8 text", hint=_HINT) from None
    items: list[Item] = []
    ids: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            row = _Row.model_validate(json.loads(line))
        except ValueError as err:
            if isinstance(err, ValidationError):
                first = err.errors()[0]
                field = ".".join(str(p) for p in first["loc"]) or "line"
                message = first["msg"].removeprefix("Value error, ")
                raise UsageError(f"{where}: {field}: {message}", hint=_HINT) from None
            raise UsageError(f"{where}: not valid JSON ({err})", hint=_HINT) from None
        item_id = row.id or f"{path.stem}-{number}"
        if item_id in ids:
            raise UsageError(f"{where}: id {item_id!r} is used twice", hint="give each row its id")
        ids.add(item_id)
        images = tuple(
            base64.b64encode(check_image(path.parent / p, f"{where}: image")).decode("ascii")
            for p in row.images
        )
        items.append(
            Item(
                id=item_id,
                prompt=row.prompt,
                type=row.type,
                expect=row.expect,
                max_tokens=row.max_tokens,
                images=images,
                history=tuple((m.role, m.content) for m in row.history),
            )
        )
    if not items:
        raise UsageError(f"dataset {path} has no prompts", hint=_HINT)
    return items


def needle_tokens(spec: str) -> int | None:
    """The haystack size of ``needle:N`` (``4k`` = 4096); None for other datasets.

    >>> needle_tokens("needle:4k"), needle_tokens("data.jsonl")
    (4096, None)
    """
    if not spec.startswith("needle:"):
        return None
    size = spec.removeprefix("needle:").strip().lower()
    try:
        tokens = int(size[:-1]) * 1024 if size.endswith("k") else int(size)
    except ValueError:
        tokens = 0
    if tokens < 64:
        raise UsageError(
            f"dataset {spec!r}: expected needle:N with N ≥ 64 tokens", hint="e.g. needle:4k"
        )
    return tokens


def load_dataset(spec: str) -> list[Item]:
    """A dataset by spec: ``needle:N``, ``okng`` or a JSONL path."""
    if (tokens := needle_tokens(spec)) is not None:
        return needle_items(tokens)
    if spec == "okng":
        return okng_items()
    return load_jsonl(Path(spec))


def is_generated(spec: str) -> bool:
    return spec.startswith("needle:") or spec == "okng"


# -- needle in a haystack -------------------------------------------------------------------------

_HAY = (
    "The committee met on a grey morning to review the quarterly figures.",
    "Rain had fallen through the night and the river ran high under the old bridge.",
    "Several delegates argued that the schedule left too little room for inspection.",
    "A clerk read out the minutes of the previous meeting without interruption.",
    "Outside, the market traders set up their stalls along the square.",
    "The report noted that shipments had arrived on time for most of the season.",
    "Nobody disputed the need for better lighting in the eastern warehouse.",
    "After lunch the discussion turned to the maintenance of the harbour cranes.",
    "The treasurer promised a full account of the expenses by the end of the month.",
    "Children from the village school visited the museum in the afternoon.",
    "The library extended its opening hours during the examination period.",
    "A new bakery opened near the station and sold out of bread by noon.",
)
_PLACES = ("orchard", "harbour", "granite", "willow", "copper", "lantern", "meadow", "falcon")
_CODEWORDS = ("KESTREL", "MARLIN", "OSPREY", "BADGER", "HERON", "LYNX", "OTTER", "RAVEN")
TOKENS_PER_WORD = 1.3  # the haystack's size in tokens, roughly, for common tokenizers
DEPTHS = (0.1, 0.5, 0.9)


def needle_items(tokens: int, seed: int = 7) -> list[Item]:
    """A code hidden at each of ``DEPTHS`` in about ``tokens`` tokens of bland text; each item
    has its own haystack, so no two share a prefix a prompt cache could reuse."""
    rng = random.Random(f"needle/{tokens}/{seed}")
    words_wanted = int(tokens / TOKENS_PER_WORD) - 40  # the question and chat template
    items = []
    for depth in DEPTHS:
        sentences: list[str] = []
        count = 0
        while count < words_wanted:
            sentence = rng.choice(_HAY)
            sentences.append(sentence)
            count += len(sentence.split())
        place, word = rng.choice(_PLACES), rng.choice(_CODEWORDS)
        code = f"{rng.randint(1000, 9999)}-{word}"
        needle = f"The access code for the {place} vault is {code}."
        at = int(len(sentences) * depth)
        text = " ".join([*sentences[:at], needle, *sentences[at:]])
        prompt = (
            f"{text}\n\nWhat is the access code for the {place} vault? Reply with the code only."
        )
        items.append(
            Item(
                id=f"needle-{tokens}-{round(depth * 100)}",
                prompt=prompt,
                type="needle",
                expect=Expect(one_of=(code,)),
                max_tokens=24,
            )
        )
    return items


# -- OK/NG image inspection -----------------------------------------------------------------------

OKNG_PROMPT = (
    "This picture shows a grey part on a white table. A defective part has a red mark on it. "
    "Answer NG if the part has a red mark, OK if it has none. Answer with OK or NG only."
)


def png(width: int, height: int, pixels: list[tuple[int, int, int]]) -> bytes:
    """A minimal RGB PNG (no dependencies) from row-major pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes(c for px in pixels[y * width : (y + 1) * width] for c in px)
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def part_image(defect: bool, rng: random.Random, size: int = 128) -> bytes:
    """A grey disc (the part) on white; with ``defect``, a red blot somewhere on it."""
    cx = cy = size / 2
    radius = size * 0.38
    dx, dy = rng.uniform(-0.4, 0.4) * radius, rng.uniform(-0.4, 0.4) * radius
    blot = rng.uniform(0.12, 0.2) * radius * 2
    pixels = []
    for y in range(size):
        for x in range(size):
            if (x - cx) ** 2 + (y - cy) ** 2 > radius**2:
                pixels.append((250, 250, 250))
            elif defect and (x - cx - dx) ** 2 + (y - cy - dy) ** 2 <= blot**2:
                pixels.append((220, 20, 20))
            else:
                pixels.append((120, 120, 125))
    return png(size, size, pixels)


def okng_items(n: int = 8, seed: int = 11) -> list[Item]:
    """``n`` inspections, half of them defective, in a fixed shuffled order."""
    rng = random.Random(f"okng/{seed}")
    verdicts = ["NG" if i % 2 else "OK" for i in range(n)]
    rng.shuffle(verdicts)
    items = []
    for i, verdict in enumerate(verdicts, start=1):
        image = part_image(verdict == "NG", rng)
        items.append(
            Item(
                id=f"okng-{i}",
                prompt=OKNG_PROMPT,
                type="vision",
                expect=Expect(one_of=(verdict,)),
                max_tokens=8,
                images=(base64.b64encode(image).decode("ascii"),),
            )
        )
    return items

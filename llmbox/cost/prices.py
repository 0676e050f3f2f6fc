"""Hosted-API prices: the shipped ``configs/api_prices.yaml`` plus the user's own file.

The user's file (``$XDG_CONFIG_HOME/llmbox/api_prices.yaml``, else ``~/.config/llmbox/``) has the
same format; an entry whose ``name`` matches a shipped one replaces it. Both files are validated
with ``extra="forbid"``; a bad entry raises ConfigError naming the file, the line and the field.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from llmbox.errors import UsageError

SCHEMA = "llmbox.api_prices/1"
FILE_NAME = "api_prices.yaml"
_PRICE_HINT = "e.g. --api-price in=3,out=15 (USD per million tokens; cached=0.3 optional)"


class ApiPrice(BaseModel):
    """One API's price, USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    provider: str = ""
    model: str = ""
    aliases: tuple[str, ...] = ()
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    date: dt.date | None = None
    source: str = ""
    note: str | None = None
    #: Where this entry came from: the shipped file, the user's file, or ``--api-price``
    #: (set by the loader, not a key of the file).
    _origin: Literal["catalog", "user", "flag"] = PrivateAttr(default="catalog")

    @property
    def origin(self) -> Literal["catalog", "user", "flag"]:
        return self._origin

    def with_origin(self, origin: Literal["catalog", "user", "flag"]) -> ApiPrice:
        copy = self.model_copy()
        copy._origin = origin
        return copy


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: Literal["llmbox.api_prices/1"] = Field(alias="schema")
    prices: list[ApiPrice]


@dataclass
class PriceBook:
    """Every known API price, by name; aliases and provider/model also resolve."""

    prices: dict[str, ApiPrice]
    files: tuple[Path, ...]

    def resolve(self, name: str) -> ApiPrice:
        key = _norm(name)
        for price in self.prices.values():
            names = (price.name, *price.aliases, f"{price.provider}/{price.model}")
            if key in {_norm(n) for n in names}:
                return price
        from difflib import get_close_matches

        close = get_close_matches(key, [_norm(n) for n in self.prices], n=3, cutoff=0.5)
        near = [n for n in self.prices if _norm(n) in close]
        lead = f"did you mean {', '.join(near)}? " if near else ""
        raise UsageError(
            f"unknown API {name!r}",
            hint=lead + "`llmbox cost --list-apis` lists them; or give --api-price in=3,out=15",
        )


def _norm(name: str) -> str:
    return re.sub(r"[\s_]", "-", name.strip().lower())


def user_prices_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "llmbox" / FILE_NAME


def _read(path: Path, origin: Literal["catalog", "user"]) -> list[ApiPrice]:
    from llmbox.yamlio import load_yaml_model

    book = load_yaml_model(path, _PriceFile)
    seen: set[str] = set()
    out = []
    for i, price in enumerate(book.prices):
        if price.name in seen:
            from llmbox.errors import ConfigError

            raise ConfigError(
                f"{path}: field 'prices.{i}.name': duplicate name {price.name!r}",
                hint="each entry needs its own name",
            )
        seen.add(price.name)
        out.append(price.with_origin(origin))
    return out


def load_prices(shipped: Path | None = None, user: Path | None = None) -> PriceBook:
    """The shipped prices, overridden and extended by the user's file when it exists."""
    if shipped is None:
        from llmbox.config import configs_dir

        shipped = configs_dir() / FILE_NAME
    user = user if user is not None else user_prices_path()
    prices = {p.name: p for p in _read(shipped, "catalog")}
    files = [shipped]
    if user.is_file():
        prices.update({p.name: p for p in _read(user, "user")})
        files.append(user)
    return PriceBook(prices, tuple(files))


_KEYS = {"in": "input", "input": "input", "out": "output", "output": "output"}
_KEYS |= {"cached": "cached_input", "cache": "cached_input", "cached_input": "cached_input"}


def parse_price(text: str) -> ApiPrice:
    """``in=3,out=15[,cached=0.3]`` (USD per million tokens) as a price named ``custom``.

    >>> parse_price("in=3,out=15").output
    15.0
    """
    values: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        field = _KEYS.get(key.strip().lower())
        if not sep or field is None:
            raise UsageError(
                f"--api-price {text!r}: cannot read {part.strip()!r}", hint=_PRICE_HINT
            )
        try:
            number = float(value.strip().lstrip("$"))
        except ValueError:
            raise UsageError(
                f"--api-price {text!r}: {value.strip()!r} is not a number", hint=_PRICE_HINT
            ) from None
        if not (number >= 0 and number < 1e6):  # also rejects nan
            raise UsageError(
                f"--api-price {text!r}: {key.strip()} must be 0 or more", hint=_PRICE_HINT
            )
        values[field] = number
    missing = [k for k in ("input", "output") if k not in values]
    if missing:
        raise UsageError(
            f"--api-price {text!r} has no {' or '.join(missing)} price", hint=_PRICE_HINT
        )
    return ApiPrice(
        name="custom",
        input=values["input"],
        output=values["output"],
        cached_input=values.get("cached_input"),
        source="--api-price",
    ).with_origin("flag")

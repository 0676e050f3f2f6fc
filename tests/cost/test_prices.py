"""configs/api_prices.yaml and the user's own file: every price dated and sourced, overrides,
errors that name the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmbox.cost.prices import load_prices, parse_price, user_prices_path
from llmbox.errors import ConfigError, UsageError


def test_shipped_prices_are_dated_and_sourced() -> None:
    book = load_prices()
    assert len(book.prices) >= 10
    for price in book.prices.values():
        assert price.date is not None, price.name
        assert price.source.startswith("https://"), price.name
        assert price.output >= price.input, price.name
        if price.cached_input is not None:
            assert price.cached_input <= price.input, price.name


def test_resolve_by_alias_and_provider_model() -> None:
    book = load_prices()
    assert book.resolve("sonnet").name == "claude-sonnet-4-6"
    assert book.resolve("anthropic/claude-haiku-4-5").name == "claude-haiku-4-5"
    with pytest.raises(UsageError, match="unknown API") as err:
        book.resolve("claude-sonet-4-6")
    assert "claude-sonnet-4-6" in (err.value.hint or "")


def test_user_file_overrides_and_adds(tmp_path: Path) -> None:
    path = user_prices_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        "schema: llmbox.api_prices/1\n"
        "prices:\n"
        "  - {name: claude-sonnet-4-6, input: 2, output: 10, date: 2026-12-01,"
        " source: my contract}\n"
        "  - {name: in-house, provider: us, input: 0.5, output: 1}\n"
    )
    book = load_prices()
    assert book.resolve("claude-sonnet-4-6").output == 10
    assert book.resolve("claude-sonnet-4-6").origin == "user"
    assert book.resolve("in-house").input == 0.5
    assert book.files[-1] == path


@pytest.mark.parametrize(
    ("body", "line", "field"),
    [
        ("  - {name: a, input: 1}\n", 3, "prices.0.output"),
        ("  - name: a\n    input: 1\n    output: -2\n", 5, "prices.0.output"),
        ("  - name: a\n    input: 1\n    output: 2\n    colour: red\n", 6, "prices.0.colour"),
        ("  - name: a\n    input: 1\n    output: 2\n    origin: user\n", 6, "prices.0.origin"),
        ("  - {name: a, input: 1, output: 2}\n  - {name: a, input: 1, output: 2}\n", None, "name"),
    ],
)
def test_bad_user_file_names_file_line_field(body: str, line: int | None, field: str) -> None:
    path = user_prices_path()
    path.parent.mkdir(parents=True)
    path.write_text("schema: llmbox.api_prices/1\nprices:\n" + body)
    with pytest.raises(ConfigError) as err:
        load_prices()
    message = str(err.value)
    assert str(path) in message
    assert field.rsplit(".", 1)[-1] in message
    if line is not None:
        assert f"{path}:{line}:" in message


def test_parse_price_flag() -> None:
    p = parse_price("in=3, out=15, cached=0.3")
    assert (p.input, p.output, p.cached_input, p.origin) == (3, 15, 0.3, "flag")
    for bad in ("in=3", "out=1", "in=x,out=1", "in=-1,out=2", "3,15", "in=nan,out=1"):
        with pytest.raises(UsageError):
            parse_price(bad)

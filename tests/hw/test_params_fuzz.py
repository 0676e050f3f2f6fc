"""`--params` parsing under hypothesis: any text gives a sane count or llmbox's UsageError."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from llmbox.errors import UsageError
from llmbox.hw.quant import MAX_PARAMS, MIN_PARAMS, parse_params

_NUMBERISH = st.one_of(
    st.text(),
    st.text(alphabet="0123456789.eE+-xXkKmMbBtT_, naif", max_size=14),
    st.builds(
        lambda n, u: f"{n}{u}",
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(["", "b", "B", "m", "k", "t", " b", "x7b"]),
    ),
)


@settings(max_examples=400, deadline=None)
@given(_NUMBERISH)
def test_params_parse_or_usage_error(text: str) -> None:
    try:
        value = parse_params(text)
    except UsageError as err:
        hint = err.hint
        value = None
    if value is None:
        assert hint
        return
    assert math.isfinite(value)
    assert MIN_PARAMS <= value <= MAX_PARAMS


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.001, max_value=9999))
def test_a_bare_number_is_billions(x: float) -> None:
    text = repr(x)
    if x * 1e9 < MIN_PARAMS:
        return
    assert math.isclose(parse_params(text), x * 1e9)
    assert math.isclose(parse_params(text + "b"), x * 1e9)

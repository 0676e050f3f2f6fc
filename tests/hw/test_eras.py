"""llama.cpp build eras: an estimate for an older build is slower, by the fitted factors."""

from __future__ import annotations

import pytest

from llmbox.errors import UsageError
from llmbox.hw.chips import CURRENT_ERA, load_catalog
from llmbox.hw.estimate import Workload, estimate
from llmbox.hw.models import load_models


def test_old_cuda_build_prefills_much_slower_than_the_current_one() -> None:
    catalog, models = load_catalog(), load_models()
    chip, model = catalog.resolve("rtx 4090"), models.resolve("llama3.1:8b")
    now = estimate(chip, catalog, model, Workload(runner="llama.cpp"))
    old = estimate(chip, catalog, model, Workload(runner="llama.cpp", era="2023"))
    assert old.prefill_tps < 0.7 * now.prefill_tps
    assert old.decode_tps < now.decode_tps
    assert any("2023" in n for n in old.notes)
    assert Workload().era == CURRENT_ERA


def test_apple_eras_barely_move_prefill() -> None:
    catalog, models = load_catalog(), load_models()
    chip, model = catalog.resolve("m2max-38c"), models.resolve("llama3.1:8b")
    now = estimate(chip, catalog, model, Workload(runner="llama.cpp"))
    old = estimate(chip, catalog, model, Workload(runner="llama.cpp", era="2023"))
    assert old.prefill_tps == pytest.approx(now.prefill_tps, rel=0.1)


def test_unknown_era_is_a_usage_error_naming_the_known_ones() -> None:
    catalog, models = load_catalog(), load_models()
    chip, model = catalog.resolve("rtx 4090"), models.resolve("llama3.1:8b")
    with pytest.raises(UsageError, match="2019") as err:
        estimate(chip, catalog, model, Workload(era="2019"))
    assert "2023" in (err.value.hint or "")

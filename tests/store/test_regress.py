"""Change points: the statistics against reference values, and the detector on series a user
would recognise (a drop, a single slow run, a recovery, noise, a change too small to matter)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from llmbox.store import RunFilter, find_regressions, open_store
from llmbox.store.regress import RunValues, _Series, analyse_series, change_points, welch
from tests.store.reports import T0, report, result, series

# Reference p-values from scipy.stats.ttest_ind(a, b, equal_var=False) (scipy 1.17).
WELCH_REFERENCE = [
    ([19.8, 20.4, 19.6, 17.1, 21.3], [28.2, 26.6, 20.1, 23.3, 25.2], 0.01867554068904397),
    ([1.0, 2.0], [3.0, 5.0, 4.0, 6.0], 0.02449545596385879),
    ([10.0, 10.5, 9.5, 10.2, 9.8, 10.1], [10.05, 9.9, 10.3, 9.7], 0.8810678603184532),
]


@pytest.mark.parametrize(("a", "b", "p"), WELCH_REFERENCE)
def test_welch_matches_scipy(a: list[float], b: list[float], p: float) -> None:
    assert welch(a, b) == pytest.approx(p, rel=1e-9)


def test_welch_edge_cases() -> None:
    assert welch([1.0], [2.0, 3.0]) is None  # one value has no variance
    assert welch([5.0, 5.0], [5.0, 5.0]) == 1.0
    assert welch([5.0, 5.0], [4.0, 4.0]) == 0.0


def _runs(means: list[float], *, n: int = 5, noise: float = 0.01, seed: int = 0) -> list[RunValues]:
    rng = random.Random(seed)
    out = []
    for i, m in enumerate(means):
        samples = tuple(m * (1 + rng.gauss(0, noise)) for _ in range(n))
        out.append(RunValues.of(i + 1, f"2026-11-{i + 1:02d}", samples))
    return out


def test_segments_pool_every_request_exactly_from_each_runs_summary() -> None:
    # The Welch test sees the same count, mean and sd as if it read every request's value.
    rng = random.Random(3)
    values = [[50 * (1 + rng.gauss(0, 0.05)) for _ in range(rng.randint(1, 9))] for _ in range(7)]
    runs = [RunValues.of(i, f"2026-11-{i + 1:02d}", v) for i, v in enumerate(values)]
    flat = [x for v in values[2:6] for x in v]
    mean = sum(flat) / len(flat)
    sd = (sum((x - mean) ** 2 for x in flat) / (len(flat) - 1)) ** 0.5
    assert _Series(runs).pooled(2, 6) == pytest.approx((mean, sd, len(flat)), rel=1e-12)


def test_flat_noisy_series_has_no_change() -> None:
    rng = random.Random(7)
    means = [50 * (1 + rng.gauss(0, 0.01)) for _ in range(30)]
    assert change_points(_runs(means, noise=0.02), metric="decode_tps") == []


def test_a_drop_is_found_where_it_happened() -> None:
    runs = _runs([50.0] * 12 + [40.0] * 8)
    assert change_points(runs, metric="decode_tps") == [12]
    [change] = analyse_series(("m", "c", "box", "ollama"), "decode_tps", runs)
    assert (change.kind, change.open) == ("regression", True)
    assert (change.before_run, change.after_run) == (12, 13)
    assert change.change_pct == pytest.approx(-20, abs=1)
    assert change.p_value < 1e-6


def test_a_single_slow_latest_run_is_flagged() -> None:
    [change] = analyse_series(("m", "c", "box", "ollama"), "decode_tps", _runs([50, 50, 35]))
    assert (change.kind, change.open, change.runs_after) == ("regression", True, 1)


def test_a_regression_that_recovered_is_not_open_and_the_fix_is_an_improvement() -> None:
    runs = _runs([50.0] * 6 + [40.0] * 4 + [50.0] * 5)
    changes = analyse_series(("m", "c", "box", "ollama"), "decode_tps", runs)
    assert [(c.kind, c.open, c.after_run) for c in changes] == [
        ("regression", False, 7),
        ("improvement", True, 11),
    ]


def test_a_change_below_the_minimum_effect_is_ignored() -> None:
    runs = _runs([50.0] * 10 + [49.0] * 10, noise=0.001)  # -2 %: significant, but small
    assert change_points(runs, metric="decode_tps") == []
    assert change_points(runs, metric="decode_tps", min_effect=0.01) == [10]


def test_noise_hides_a_change_the_test_cannot_confirm() -> None:
    runs = _runs([50.0, 50.0, 45.0], n=3, noise=0.2, seed=3)
    assert change_points(runs, metric="decode_tps") == []


def test_times_regress_upwards_and_need_more_than_ten_ms() -> None:
    slower = _runs([0.20] * 5 + [0.30] * 5)
    [change] = analyse_series(("m", "c", "box", "ollama"), "ttft_s", slower)
    assert change.kind == "regression"
    tiny = _runs([0.004] * 5 + [0.008] * 5, noise=0.001)  # +100 %, but 4 ms
    assert analyse_series(("m", "c", "box", "ollama"), "load_s", tiny) == []


def test_find_regressions_follows_each_series_on_its_own(store_url: str) -> None:
    with open_store(store_url) as store:
        for data in series([50, 50, 51, 49, 50, 40, 40], machine="box-a"):
            store.save(data)
        for data in series([30, 30, 30, 30, 30, 30, 30], machine="box-b"):
            store.save(data)
        # another model on box-a that did not change
        for i in range(7):
            store.save(
                report(
                    started=T0 + timedelta(days=i, hours=1),
                    machine="box-a",
                    results=[result("qwen3:4b", 20.0, rng=random.Random(i))],
                )
            )
        found = find_regressions(store, metrics=("decode_tps",))
        assert [(c.machine, c.model, c.kind, c.open) for c in found] == [
            ("box-a", "llama3.2", "regression", True)
        ]
        assert found[0].at.startswith("2026-11-06")
        assert find_regressions(store, RunFilter(machines=("box-b",))) == []

"""Power meters against recorded samples: a fake RAPL sysfs tree, a fake NVML, powermetrics text;
the sampler's arithmetic with a fake clock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from llmbox.power import (
    NvmlMeter,
    PowerSampler,
    PowerUnavailable,
    RaplMeter,
    Sample,
    integrate,
    open_meter,
    parse_powermetrics,
)


def rapl_tree(root: Path, zones: dict[str, tuple[str, int, int]]) -> Path:
    """zones: dir name -> (name, energy_uj, max_energy_range_uj)."""
    for d, (name, uj, max_uj) in zones.items():
        z = root / d
        z.mkdir(parents=True)
        (z / "name").write_text(name + "\n")
        (z / "energy_uj").write_text(f"{uj}\n")
        (z / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return root


def set_uj(root: Path, zone: str, uj: int) -> None:
    (root / zone / "energy_uj").write_text(f"{uj}\n")


def test_rapl_sums_packages_and_dram_not_cores(tmp_path: Path) -> None:
    root = rapl_tree(
        tmp_path,
        {
            "intel-rapl:0": ("package-0", 1_000_000, 262_143_328_850),
            "intel-rapl:0:0": ("core", 500_000, 262_143_328_850),
            "intel-rapl:0:1": ("dram", 100_000, 65_712_999_613),
            "intel-rapl:1": ("package-1", 2_000_000, 262_143_328_850),
        },
    )
    meter = RaplMeter(root)
    assert [z.name for z in meter.zones] == ["package-0", "dram", "package-1"]
    assert meter.read(0.0).joules == 0.0
    set_uj(root, "intel-rapl:0", 31_000_000)  # +30 J
    set_uj(root, "intel-rapl:0:1", 5_100_000)  # +5 J
    set_uj(root, "intel-rapl:0:0", 99_000_000)  # a subzone of package-0: not counted again
    set_uj(root, "intel-rapl:1", 12_000_000)  # +10 J
    assert meter.read(1.0).joules == pytest.approx(45.0)


def test_rapl_counter_wrap_is_counted(tmp_path: Path) -> None:
    root = rapl_tree(tmp_path, {"intel-rapl:0": ("package-0", 999_000_000, 1_000_000_000)})
    meter = RaplMeter(root)
    meter.read(0.0)
    set_uj(root, "intel-rapl:0", 4_000_000)  # wrapped: 1 J to the top, 4 J after
    assert meter.read(1.0).joules == pytest.approx(5.0)


def test_rapl_prefers_psys(tmp_path: Path) -> None:
    root = rapl_tree(
        tmp_path,
        {"intel-rapl:0": ("package-0", 0, 10**12), "intel-rapl:1": ("psys", 0, 10**12)},
    )
    assert [z.name for z in RaplMeter(root).zones] == ["psys"]


def test_rapl_missing_or_root_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PowerUnavailable, match="no RAPL here"):
        RaplMeter(tmp_path / "nope")
    root = rapl_tree(tmp_path / "pc", {"intel-rapl:0": ("package-0", 0, 10**12)})
    real = Path.read_text

    def deny(self: Path, *a: Any, **k: Any) -> str:
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", deny)
    with pytest.raises(PowerUnavailable, match="only root") as err:
        RaplMeter(root)
    assert "chmod" in (err.value.hint or "")


class FakeNvml:
    """Replays recorded NVML readings: energy counters (mJ) per call, or power (mW)."""

    def __init__(self, energy: list[list[int]] | None, power: list[list[int]]) -> None:
        self.energy, self.power, self.calls = energy, power, 0
        self.shutdown = False

    def nvmlInit(self) -> None: ...

    def nvmlShutdown(self) -> None:
        self.shutdown = True

    def nvmlDeviceGetCount(self) -> int:
        return len(self.power[0])

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:
        if self.energy is None:
            raise RuntimeError("NVMLError_NotSupported")
        row = self.energy[min(self.calls // len(self.power[0]), len(self.energy) - 1)]
        self.calls += 1
        return row[h]

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:
        row = self.power[min(self.calls // len(self.power[0]), len(self.power) - 1)]
        self.calls += 1
        return row[h]


def test_nvml_energy_counter_two_gpus() -> None:
    # Recorded: two GPUs at 1,000,000 and 2,000,000 mJ, then +300 J and +150 J.
    fake = FakeNvml(energy=[[0, 0], [1_000_000, 2_000_000], [1_300_000, 2_150_000]], power=[[0, 0]])
    meter = NvmlMeter(fake)
    assert meter.counter
    assert meter.scope.startswith("2 NVIDIA GPUs")
    fake.calls = 2  # the probe read row 0; readings start at row 1
    first, second = meter.read(0.0), meter.read(2.0)
    assert integrate([first, second]) == (pytest.approx(450.0), 2.0)
    meter.close()
    assert fake.shutdown


def test_nvml_power_without_counter() -> None:
    fake = FakeNvml(energy=None, power=[[150_000], [250_000]])
    meter = NvmlMeter(fake)
    assert not meter.counter
    fake.calls = 0
    samples = [meter.read(0.0), meter.read(1.0)]
    assert samples[0].watts == 150.0
    assert integrate(samples) == (pytest.approx(200.0), 1.0)


def test_nvml_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(PowerUnavailable) as err:
        NvmlMeter()
    assert "llmbox[nvml]" in (err.value.hint or "")


POWERMETRICS = """\
*** Sampled system activity (Mon Nov 30 10:00:00 2026 +0000) (200.45ms elapsed) ***

**** Processor usage ****

CPU Power: 4210 mW
GPU Power: 18340 mW
ANE Power: 0 mW
Combined Power (CPU + GPU + ANE): 22550 mW

*** Sampled system activity (Mon Nov 30 10:00:00 2026 +0000) (200.31ms elapsed) ***

CPU Power: 3990 mW
GPU Power: 19010 mW
ANE Power: 0 mW
Combined Power (CPU + GPU + ANE): 23000 mW
"""


def test_powermetrics_text() -> None:
    assert parse_powermetrics(POWERMETRICS) == [22.55, 23.0]
    older = POWERMETRICS.replace("Combined Power (CPU + GPU + ANE)", "Other")
    assert parse_powermetrics(older) == [pytest.approx(22.55), pytest.approx(23.0)]


def test_open_meter_auto_finds_nothing_here_and_named_ones_say_why(tmp_path: Path) -> None:
    import sys

    sys.modules.setdefault("pynvml", None)  # type: ignore[arg-type]
    assert open_meter("none") is None
    with pytest.raises(PowerUnavailable):
        open_meter("rapl", rapl_root=tmp_path / "nope")
    with pytest.raises(PowerUnavailable, match="macOS"):
        open_meter("powermetrics")
    with pytest.raises(Exception, match="unknown power meter"):
        open_meter("watt-o-meter")


class StepMeter:
    """A counter meter on a fake clock: 50 W exactly."""

    name = "fake"
    scope = "fake"

    def read(self, now: float) -> Sample:
        return Sample(now, joules=50.0 * now)

    def close(self) -> None: ...


def test_sampler_average_watts_and_joules() -> None:
    ticks = iter(range(10**6))

    async def go() -> Any:
        sampler = PowerSampler(StepMeter(), interval_s=0.001, clock=lambda: next(ticks) * 0.5)
        async with sampler:
            await asyncio.sleep(0.01)
        return sampler.reading

    reading = asyncio.run(go())
    assert reading is not None
    assert reading.watts == pytest.approx(50.0)
    assert reading.samples >= 2
    assert reading.seconds == pytest.approx(0.5 * (reading.samples - 1))
    assert reading.joules == pytest.approx(50.0 * reading.seconds)
    assert reading.to_dict()["source"] == "fake"


def test_sampler_without_meter_is_a_no_op() -> None:
    async def go() -> Any:
        async with PowerSampler(None) as sampler:
            pass
        return sampler.reading

    assert asyncio.run(go()) is None


def test_cost_reads_a_measured_power_from_the_report() -> None:
    from llmbox.cost.local import case_speed
    from llmbox.results import BenchReport

    report = BenchReport.load(Path(__file__).parents[1] / "data" / "bench_v1_first_wave.json")
    result = report.results[0]
    object.__setattr__(result, "power", SimpleNamespace(watts=123.0, source="nvml"))
    cs = case_speed(result)
    assert cs is not None
    assert (cs.watts, cs.power_source) == (123.0, "nvml")

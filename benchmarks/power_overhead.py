"""What sampling power costs: time per RAPL sample, and the slowdown of busy work sampled at
10 Hz (the bench default), against the same work unsampled.

    python benchmarks/power_overhead.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from llmbox.power import PowerSampler, RaplMeter


def fake_rapl(root: Path) -> Path:
    for d, name in (("intel-rapl:0", "package-0"), ("intel-rapl:0:2", "dram")):
        (root / d).mkdir(parents=True)
        (root / d / "name").write_text(name)
        (root / d / "energy_uj").write_text("123456789")
        (root / d / "max_energy_range_uj").write_text("262143328850")
    return root


def per_sample_us(meter: RaplMeter, n: int = 20_000) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        meter.read(float(i))
    return (time.perf_counter() - t0) / n * 1e6


async def busy(seconds_of_work: int) -> float:
    """CPU-bound work in slices that yield to the event loop, as a streaming client does."""
    t0 = time.perf_counter()
    for _ in range(seconds_of_work * 200):
        sum(i * i for i in range(2_000))
        await asyncio.sleep(0)
    return time.perf_counter() - t0


async def run(meter: RaplMeter | None) -> float:
    async with PowerSampler(meter, interval_s=0.1):
        return await busy(2)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        meter = RaplMeter(fake_rapl(Path(tmp)))
        us = per_sample_us(meter)
        print(
            f"RAPL read (2 zones): {us:.1f} us per sample; at 10 Hz {us * 10 / 1e4:.4f}% of a core"
        )
        base, sampled = [], []
        for _ in range(5):
            base.append(asyncio.run(run(None)))
            sampled.append(asyncio.run(run(meter)))
        b, s = statistics.median(base), statistics.median(sampled)
        spread = (max(base) - min(base)) / b
        print(
            f"busy work: {b:.3f} s unsampled, {s:.3f} s sampled at 10 Hz "
            f"({(s / b - 1) * 100:+.2f}%; run-to-run spread unsampled {spread * 100:.1f}%)"
        )


if __name__ == "__main__":
    main()

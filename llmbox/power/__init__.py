"""Energy measured while a benchmark runs: RAPL (Linux CPUs), NVML (NVIDIA GPUs, the optional
``nvml`` extra), ``powermetrics`` (Apple silicon, as root). Nothing is invented: where no meter
works, ``open_meter("auto")`` returns None and the cost model falls back to the catalog's board
power, labelled "estimated". Imports nothing of typer or rich."""

from __future__ import annotations

from llmbox.power._meters import (
    KINDS,
    Meter,
    NvmlMeter,
    PowermetricsMeter,
    PowerUnavailable,
    RaplMeter,
    Sample,
    open_meter,
    parse_powermetrics,
)
from llmbox.power.sampler import PowerReading, PowerSampler, integrate

__all__ = [
    "KINDS",
    "Meter",
    "NvmlMeter",
    "PowerReading",
    "PowerSampler",
    "PowerUnavailable",
    "PowermetricsMeter",
    "RaplMeter",
    "Sample",
    "integrate",
    "open_meter",
    "parse_powermetrics",
]

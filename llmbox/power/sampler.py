"""Sample a power meter while something runs: average watts and joules over the interval.

    meter = open_meter("auto")               # None: nothing to measure on this machine
    async with PowerSampler(meter) as sampler:
        await run_the_case()
    reading = sampler.reading                # PowerReading(watts=..., joules=..., seconds=...)

A counter meter (RAPL, NVML energy) is read at start and stop; samples in between only keep
count across counter wraps. An instantaneous meter (old NVML, powermetrics) is integrated with
the trapezoid rule over its samples. Reading a counter costs microseconds, and the sampler
sleeps between samples on the event loop, so the measured work is not slowed (docs/cost.md).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmbox.power._meters import Meter, Sample

#: Seconds between samples: often enough for RAPL's wrap (~60 s at 4 kW at worst) and for the
#: power of a short run, rarely enough to cost nothing measurable.
INTERVAL_S = 0.1


@dataclass(frozen=True)
class PowerReading:
    """What a meter measured over one interval (the ``power`` of a report's case)."""

    source: str  # rapl | nvml | powermetrics
    scope: str
    watts: float  # average over the interval
    joules: float
    seconds: float
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "scope": self.scope,
            "watts": round(self.watts, 3),
            "joules": round(self.joules, 3),
            "seconds": round(self.seconds, 3),
            "samples": self.samples,
        }


def integrate(samples: list[Sample]) -> tuple[float, float]:
    """(joules, seconds) of a series of samples: counter difference, or the trapezoid rule.

    >>> integrate([Sample(0.0, watts=10.0), Sample(1.0, watts=20.0)])
    (15.0, 1.0)
    >>> integrate([Sample(0.0, joules=5.0), Sample(2.0, joules=25.0)])
    (20.0, 2.0)
    """
    seconds = samples[-1].t - samples[0].t if len(samples) > 1 else 0.0
    counters = [s for s in samples if s.joules is not None]
    if counters:
        return (counters[-1].joules or 0.0) - (counters[0].joules or 0.0), seconds
    points = [s for s in samples if s.watts is not None]
    joules = sum(
        (b.t - a.t) * ((a.watts or 0.0) + (b.watts or 0.0)) / 2
        for a, b in itertools.pairwise(points)
    )
    return joules, seconds


@dataclass
class PowerSampler:
    meter: Meter | None
    interval_s: float = INTERVAL_S
    clock: Callable[[], float] = time.monotonic
    samples: list[Sample] = field(default_factory=list)
    reading: PowerReading | None = None
    _task: asyncio.Task[None] | None = None
    _proc: Any = None

    async def start(self) -> None:
        if self.meter is None:
            return
        self.samples = []
        self.reading = None
        command = getattr(self.meter, "command", None)
        if command:
            await self._start_process(command)
        self.samples.append(self.meter.read(self.clock()))
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        assert self.meter is not None
        while True:
            await asyncio.sleep(self.interval_s)
            self.samples.append(self.meter.read(self.clock()))

    async def _start_process(self, command: tuple[str, ...]) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        feed = getattr(self.meter, "feed")  # noqa: B009

        async def pump() -> None:
            assert self._proc is not None
            while chunk := await self._proc.stdout.read(65536):
                feed(chunk.decode(errors="replace"))

        asyncio.get_running_loop().create_task(pump())

    async def stop(self) -> PowerReading | None:
        """Stop sampling; the reading, or None when there is no meter or no interval."""
        if self.meter is None or self._task is None:
            return None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        self.samples.append(self.meter.read(self.clock()))
        if self._proc is not None:
            self._proc.terminate()
            await self._proc.wait()
            self._proc = None
        joules, seconds = integrate(self.samples)
        if seconds <= 0:
            return None
        self.reading = PowerReading(
            source=self.meter.name,
            scope=self.meter.scope,
            watts=joules / seconds,
            joules=joules,
            seconds=seconds,
            samples=len(self.samples),
        )
        return self.reading

    async def __aenter__(self) -> PowerSampler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

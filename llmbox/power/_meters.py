"""Power meters: where a machine tells how much energy it used.

Each meter answers ``read()`` with a :class:`Sample`: either a cumulative energy counter in
joules (RAPL, NVML on Volta and later) or an instantaneous power in watts (older NVML, Apple's
``powermetrics``). :class:`~llmbox.power.sampler.PowerSampler` turns samples into average watts
and joules. A meter that cannot work here raises :class:`PowerUnavailable` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llmbox.errors import UsageError

RAPL_ROOT = Path("/sys/class/powercap")


class PowerUnavailable(UsageError):
    """This meter cannot read power on this machine (the message says why)."""


@dataclass(frozen=True)
class Sample:
    t: float  # monotonic seconds
    joules: float | None = None  # cumulative counter (wraps are handled by the sampler)
    watts: float | None = None  # instantaneous power


class Meter(Protocol):
    name: str
    #: What is measured, for the report: "CPU package + DRAM (RAPL)", "2 GPUs (NVML)" ...
    scope: str

    def read(self, now: float) -> Sample: ...

    def close(self) -> None: ...


# --- RAPL ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Zone:
    name: str
    energy: Path
    max_uj: int


def rapl_zones(root: Path = RAPL_ROOT) -> list[_Zone]:
    """The zones whose sum is the machine's energy: ``psys`` (the whole platform) when present,
    else every CPU package plus the DRAM zones (DRAM is not part of a package's count)."""
    zones = []
    for d in sorted(root.glob("intel-rapl:*")):
        try:
            name = (d / "name").read_text().strip()
            max_uj = int((d / "max_energy_range_uj").read_text().strip() or 0)
        except (OSError, ValueError):
            continue
        zones.append((d.name, name, d / "energy_uj", max_uj))
    psys = [_Zone(n, p, m) for _, n, p, m in zones if n == "psys"]
    if psys:
        return psys[:1]
    top = re.compile(r"intel-rapl:\d+$")
    return [
        _Zone(n, p, m)
        for d, n, p, m in zones
        if (top.match(d) and n.startswith("package")) or n == "dram"
    ]


class RaplMeter:
    name = "rapl"

    def __init__(self, root: Path = RAPL_ROOT) -> None:
        if not root.is_dir():
            raise PowerUnavailable(
                f"no RAPL here: {root} does not exist",
                hint="RAPL needs Linux on an Intel or AMD (Zen) CPU; inside a VM it is hidden",
            )
        self.zones = rapl_zones(root)
        if not self.zones:
            raise PowerUnavailable(
                f"no RAPL package zone under {root}", hint="load the intel_rapl_common module"
            )
        for zone in self.zones:
            try:
                int(zone.energy.read_text())
            except PermissionError:
                raise PowerUnavailable(
                    f"cannot read {zone.energy}: only root may (since Linux 5.10)",
                    hint=f"run as root, or: sudo chmod a+r {root}/intel-rapl:*/energy_uj "
                    f"{root}/intel-rapl:*/*/energy_uj",
                ) from None
            except (OSError, ValueError) as err:
                raise PowerUnavailable(f"cannot read {zone.energy}: {err}") from None
        self.scope = " + ".join(z.name for z in self.zones) + " (RAPL)"
        self._last: list[int] = []
        self._total_uj = 0

    def read(self, now: float) -> Sample:
        """Joules since the meter was opened, across counter wraps (each zone's counter wraps
        at its ``max_energy_range_uj``; sampling more often than a wrap keeps count)."""
        values = [int(z.energy.read_text()) for z in self.zones]
        if self._last:
            for zone, new, old in zip(self.zones, values, self._last, strict=True):
                delta = new - old
                if delta < 0:
                    delta += zone.max_uj
                self._total_uj += delta
        self._last = values
        return Sample(now, joules=self._total_uj / 1e6)

    def close(self) -> None:
        return None


# --- NVML ---------------------------------------------------------------------------------------


def _import_pynvml() -> Any:
    try:
        import pynvml  # type: ignore[import-not-found]  # the optional `nvml` extra
    except ImportError:
        raise PowerUnavailable(
            "NVML needs the nvidia-ml-py package", hint="pip install 'llmbox[nvml]'"
        ) from None
    return pynvml


class NvmlMeter:
    """Every NVIDIA GPU: the total-energy counter (mJ, Volta and later), else power (mW)."""

    name = "nvml"

    def __init__(self, nvml: Any | None = None) -> None:
        self.nv = nvml if nvml is not None else _import_pynvml()
        try:
            self.nv.nvmlInit()
        except Exception as err:  # NVMLError_LibraryNotFound, DriverNotLoaded ...
            raise PowerUnavailable(
                f"NVML did not start: {err}", hint="is the NVIDIA driver installed?"
            ) from None
        count = self.nv.nvmlDeviceGetCount()
        if not count:
            self.nv.nvmlShutdown()
            raise PowerUnavailable("NVML sees no GPU")
        self.handles = [self.nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        try:
            for h in self.handles:
                self.nv.nvmlDeviceGetTotalEnergyConsumption(h)
            self.counter = True
        except Exception:  # NVMLError_NotSupported before Volta
            self.counter = False
        self.scope = f"{count} NVIDIA GPU{'s' if count > 1 else ''} (NVML, board power)"

    def read(self, now: float) -> Sample:
        if self.counter:
            mj = sum(self.nv.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles)
            return Sample(now, joules=mj / 1e3)
        mw = sum(self.nv.nvmlDeviceGetPowerUsage(h) for h in self.handles)
        return Sample(now, watts=mw / 1e3)

    def close(self) -> None:
        try:
            self.nv.nvmlShutdown()
        except Exception:
            pass


# --- powermetrics (macOS) -----------------------------------------------------------------------

_COMBINED = re.compile(r"Combined Power \(CPU \+ GPU \+ ANE\):\s*([0-9.]+)\s*mW")
_PART = re.compile(r"^(CPU|GPU|ANE) Power:\s*([0-9.]+)\s*mW", re.MULTILINE)


def parse_powermetrics(text: str) -> list[float]:
    """Watts of each sample in ``powermetrics --samplers cpu_power,gpu_power`` output: the
    "Combined Power" line, else CPU + GPU + ANE of the sample."""
    combined = [float(m) / 1e3 for m in _COMBINED.findall(text)]
    if combined:
        return combined
    out: list[float] = []
    for block in text.split("*** Sampled system activity"):
        parts = _PART.findall(block)
        if parts:
            out.append(sum(float(v) for _, v in parts) / 1e3)
    return out


POWERMETRICS_CMD: tuple[str, ...] = (
    "powermetrics",
    "--samplers",
    "cpu_power,gpu_power",
    "-i",
    "200",
)


class PowermetricsMeter:
    """Apple silicon SoC power (CPU + GPU + ANE) from ``powermetrics``, which needs root.

    A background process prints a sample every 200 ms; ``feed`` takes its text, ``read``
    returns the latest watts."""

    name = "powermetrics"
    scope = "Apple SoC: CPU + GPU + ANE (powermetrics)"
    command: tuple[str, ...] = tuple(POWERMETRICS_CMD)

    def __init__(self, which: Callable[[str], str | None] | None = None) -> None:
        import os
        import platform
        import shutil

        which = which or shutil.which
        if platform.system() != "Darwin" or which("powermetrics") is None:
            raise PowerUnavailable("powermetrics exists on macOS only")
        if os.geteuid() != 0:
            raise PowerUnavailable(
                "powermetrics needs root", hint="run the benchmark with sudo, or give --watts"
            )
        self.latest: float | None = None

    def feed(self, text: str) -> None:
        values = parse_powermetrics(text)
        if values:
            self.latest = values[-1]

    def read(self, now: float) -> Sample:
        return Sample(now, watts=self.latest)

    def close(self) -> None:
        return None


KINDS = ("auto", "nvml", "rapl", "powermetrics", "none")


def open_meter(kind: str = "auto", *, rapl_root: Path = RAPL_ROOT) -> Meter | None:
    """The meter ``kind`` names; ``auto``: NVML, then powermetrics, then RAPL, else None.

    An explicitly named meter that cannot work raises PowerUnavailable (exit 2, with why)."""
    if kind not in KINDS:
        raise UsageError(f"unknown power meter {kind!r}", hint="one of " + ", ".join(KINDS))
    if kind == "none":
        return None
    makers: dict[str, Callable[[], Meter]] = {
        "nvml": NvmlMeter,
        "powermetrics": PowermetricsMeter,
        "rapl": lambda: RaplMeter(rapl_root),
    }
    if kind != "auto":
        return makers[kind]()
    for make in makers.values():
        try:
            return make()
        except PowerUnavailable:
            continue
    return None

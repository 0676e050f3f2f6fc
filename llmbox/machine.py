"""Facts about this machine, for provenance: OS, CPU, memory, Apple chip, NVIDIA GPUs."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any


def _run(*cmd: str) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def cpu_name() -> str:
    if platform.system() == "Darwin":
        return _run("sysctl", "-n", "machdep.cpu.brand_string") or platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_bytes() -> int | None:
    if platform.system() == "Darwin":
        value = _run("sysctl", "-n", "hw.memsize")
        return int(value) if value and value.isdigit() else None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def nvidia_gpus() -> list[dict[str, Any]]:
    out = _run(
        "nvidia-smi",
        "--query-gpu=name,memory.total,driver_version",
        "--format=csv,noheader,nounits",
    )
    gpus = []
    for line in (out or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            name, mem, driver = parts
            gpus.append(
                {"name": name, "memory_mib": int(mem) if mem.isdigit() else None, "driver": driver}
            )
    return gpus


def describe() -> dict[str, Any]:
    """The machine block of a benchmark result."""
    info: dict[str, Any] = {
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }
    if platform.system() == "Darwin" and (chip := _run("sysctl", "-n", "machdep.cpu.brand_string")):
        info["chip"] = chip  # "Apple M2" on Apple silicon
    if gpus := nvidia_gpus():
        info["gpus"] = gpus
    if name := os.environ.get("LLMBOX_MACHINE", "").strip():
        # CI runners get random hostnames: a stable name keeps their runs in one history series
        info["name"] = name
    return info

"""A command writing into a named pipe (mkfifo) while another thread reads it, as `cat` would."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def through_a_pipe(tmp_path: Path, write: Callable[[Path], object]) -> bytes:
    """What ``write(fifo)`` puts into a fresh FIFO under tmp_path (still a FIFO afterwards)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        write(fifo)
        reader.join(10)
    finally:
        if reader.is_alive() and fifo.is_fifo():  # free the reader whatever happened
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert fifo.is_fifo()  # not replaced by a regular file
    return got[0]

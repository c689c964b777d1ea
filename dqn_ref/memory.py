"""Memory checks: refuse a replay buffer that will not fit before allocating it, in one line."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from dqn_ref.errors import DQNRefError

MEMINFO = Path("/proc/meminfo")


def format_bytes(count: float) -> str:
    """1536 -> '1.5 KB': decimal units, as disks and most tools count."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000:
            return f"{count:.1f} {unit}" if unit != "B" else f"{count:.0f} B"
        count /= 1000
    return f"{count:.1f} TB"


def available_memory_bytes(device: torch.device) -> int | None:
    """Memory that a new allocation on `device` can take now, or None where it cannot be known.

    CPU: MemAvailable of /proc/meminfo (what the kernel can hand out without swapping), else the
    free physical pages; CUDA: the free bytes of torch.cuda.mem_get_info.
    """
    if device.type == "cuda":
        free_bytes, _total = torch.cuda.mem_get_info(device)
        return int(free_bytes)
    if device.type != "cpu":
        return None
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the file counts in KiB
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_buffer_fits(bytes_needed: int, device: torch.device, capacity: int) -> None:
    """Raise a one-line DQNRefError when a replay buffer of `bytes_needed` bytes (for `capacity`
    transitions) would not fit in the memory available on `device` now.

    Checked before allocating, so that a too-large --buffer-size fails at once with its size
    rather than as an allocator traceback or, on Linux, a process killed for memory minutes later.
    """
    available = available_memory_bytes(device)
    if available is None or bytes_needed <= available:
        return
    fitting = int(capacity * available / bytes_needed)
    raise DQNRefError(
        f"the replay buffer of {capacity} transitions needs {format_bytes(bytes_needed)} but "
        f"only {format_bytes(available)} is available on {device}; lower --buffer-size "
        f"(at most about {fitting} transitions fit now)"
    )

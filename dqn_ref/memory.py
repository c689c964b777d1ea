"""Memory checks: refuse an allocation that will not fit before making it, in one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from dqn_ref.errors import DQNRefError

GIB = 2**30


def available_bytes(device: torch.device) -> int:
    """Free memory where `device` allocates: the GPU's free memory, or the host's available RAM."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with Path("/proc/meminfo").open() as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_fits(bytes_needed: int, device: torch.device, what: str) -> None:
    """Raise a one-line DQNRefError when `bytes_needed` exceeds what `device` has free.

    torch allocates lazily on Linux, so an oversized buffer would otherwise fail hours into a run,
    when its last rows are first written, or push the machine into swap.
    """
    free = available_bytes(device)
    if bytes_needed > free:
        raise DQNRefError(
            f"the {what} need {bytes_needed / GIB:.2f} GiB on {device.type} but only "
            f"{free / GIB:.2f} GiB is free; lower --buffer-size"
        )

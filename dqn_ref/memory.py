"""Memory checks: refuse a replay buffer that will not fit before allocating it, in one line."""

from __future__ import annotations

import itertools
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


# Float32 copies of the Q-network's parameters a run holds: the online network, the target
# network, the gradient, and the optimiser's two running averages (Adam's moments; centred
# RMSProp's mean and mean square), plus AMSGrad's maximum.
PARAMETER_COPIES = 6
# Activations an update keeps per sample and layer: the online forward pass (kept for backward),
# its gradient, and the target network's forward pass.
ACTIVATION_COPIES = 3
FLOAT32_BYTES = 4
# The Nature CNN's layer outputs per 84x84x4 sample: 32x20x20, 64x9x9, 64x7x7 and 512 units.
NATURE_CNN_ACTIVATIONS = 32 * 20 * 20 + 64 * 9 * 9 + 64 * 7 * 7 + 512
NATURE_CNN_PARAMETERS = 1_686_000  # about; 1.69 M with Pong's six actions


def network_bytes_lower_bound(network: str, hidden_sizes: tuple[int, ...], batch_size: int) -> int:
    """Bytes the networks, the optimiser and one update's activations take at least, before the
    observation and action counts are known (taken as 1, so this never overestimates)."""
    if network == "nature_cnn":
        parameters, units = NATURE_CNN_PARAMETERS, NATURE_CNN_ACTIVATIONS
    else:
        widths = [1, *hidden_sizes, 1]  # observation and action counts: at least 1 each
        parameters = sum(width_in * width_out for width_in, width_out in itertools.pairwise(widths))
        units = sum(hidden_sizes)
    return FLOAT32_BYTES * (PARAMETER_COPIES * parameters + ACTIVATION_COPIES * batch_size * units)


def check_networks_fit(
    network: str, hidden_sizes: tuple[int, ...], batch_size: int, device: torch.device
) -> None:
    """Raise a one-line DQNRefError when the Q-networks, their optimiser and one minibatch's
    activations cannot fit in the memory available on `device` now, before anything is built:
    otherwise a --hidden-sizes or --batch-size with a few zeros too many ends in an allocator
    traceback, at the start or at the first update."""
    available = available_memory_bytes(device)
    needed = network_bytes_lower_bound(network, hidden_sizes, batch_size)
    if available is None or needed <= available:
        return
    raise DQNRefError(
        f"the Q-networks (hidden_sizes {','.join(map(str, hidden_sizes))}) with a minibatch of "
        f"{batch_size} need at least {format_bytes(needed)} but only {format_bytes(available)} "
        f"is available on {device}; lower --hidden-sizes or --batch-size"
    )

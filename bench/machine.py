"""What a benchmark script's figures were measured on: CPU model and count, torch and its threads,
and the GPU when torch sees one."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    info: dict[str, Any] = {
        "cpu": model,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def add_busy_process_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--busy-process", action="store_true", help="time beside one process spinning on a core"
    )


@contextmanager
def busy_process(enabled: bool) -> Iterator[None]:
    """With `enabled`, one other process spinning on a core while the block runs: a machine busy
    with other work, made repeatable."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if enabled else None
    try:
        yield
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()

"""A disk that fails on demand: io.open patched so that writes to one run file raise an OSError.

Every file dqn_ref writes is opened through io.open (Path.open and os.fdopen call it), so the
fault reaches metrics.csv's appends as well as atomic_write's temporary files, whatever the code
between. The write that fails first writes half its data, as a disk that fills up mid-write does.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REAL_OPEN = io.open


@dataclass
class Fault:
    """Fail the `on_open`-th opening for writing of `name` (1: the first), after `after_bytes`
    bytes written through it, with `code` (errno.ENOSPC, ...)."""

    name: str
    code: int = errno.ENOSPC
    on_open: int = 1
    after_bytes: int = 0
    opened: int = 0
    fired: bool = False

    def matches(self, file: Any) -> bool:
        """Whether `file` (a path or a descriptor) is `name` or atomic_write's temporary for it."""
        path = (
            Path(f"/proc/self/fd/{file}").readlink()
            if isinstance(file, int)
            else Path(os.fsdecode(file))
        )
        base = path.name
        return base == self.name or base.startswith(f".{self.name}.")


class FailingFile:
    """A file object whose writes raise once `fault.after_bytes` bytes have gone through."""

    def __init__(self, file: Any, fault: Fault):
        self._file = file
        self._fault = fault
        self._written = 0

    def write(self, data: Any) -> int:
        room = max(self._fault.after_bytes - self._written, 0)
        if len(data) > room:
            self._file.write(data[: room + (len(data) - room) // 2])  # half of what overflows
            self._file.flush()
            self._fault.fired = True
            raise OSError(self._fault.code, os.strerror(self._fault.code))
        self._written += len(data)
        return int(self._file.write(data))

    def __enter__(self) -> FailingFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._file)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


@contextlib.contextmanager
def failing_disk(fault: Fault) -> Iterator[Fault]:
    """Within the block, the fault's file fails as `fault` says; every other file is untouched."""

    def faulty_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        opened = REAL_OPEN(file, mode, *args, **kwargs)
        if any(flag in mode for flag in "wax+") and fault.matches(file):
            fault.opened += 1
            if fault.opened == fault.on_open:
                return FailingFile(opened, fault)
        return opened

    io.open = faulty_open
    try:
        yield fault
    finally:
        io.open = REAL_OPEN

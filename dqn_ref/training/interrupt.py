"""Stopping a run cleanly: SIGINT and SIGTERM become a request that the training loop honours at
the end of its current iteration, by saving a checkpoint and raising TrainingInterruptedError."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Protocol

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopCheck(Protocol):
    """Asked by the training loop after each iteration whether to checkpoint and stop; the signal
    that asked for it, if one did, is named in the message."""

    signal_number: int | None

    def should_stop(self, step: int) -> bool: ...


class TrainingInterruptedError(Exception):
    """The loop stopped on request after saving a checkpoint from which `resume` continues."""

    def __init__(self, run_dir: Path, step: int, replay_saved: bool, signal_number: int | None):
        self.run_dir = run_dir
        self.step = step
        self.replay_saved = replay_saved
        self.signal_number = signal_number
        super().__init__(self.message())

    def message(self) -> str:
        cause = (
            f" by {signal.Signals(self.signal_number).name}"
            if self.signal_number is not None
            else ""
        )
        exactness = (
            ""
            if self.replay_saved
            else " (the replay buffer was not saved, so it refills first and the resumed run is "
            "not bit-exact; --checkpoint-replay saves it)"
        )
        return (
            f"interrupted{cause} at step {self.step}; checkpoint saved in {self.run_dir}; "
            f"resume with: python -m dqn_ref.run resume {self.run_dir}{exactness}"
        )

    def exit_status(self) -> int:
        """128 + the signal's number, as a shell reports a process ended by that signal."""
        return 128 + (self.signal_number or signal.SIGINT)


class SignalStop:
    """Within `with SignalStop() as stop:`, the first SIGINT or SIGTERM sets stop.signal_number
    and lets the loop finish its iteration; a second one raises KeyboardInterrupt at once, for a
    user who does not want to wait for the checkpoint."""

    def __init__(self) -> None:
        self.signal_number: int | None = None
        self._previous: dict[int, Any] = {}

    def should_stop(self, step: int) -> bool:
        return self.signal_number is not None

    def _handle(self, signal_number: int, frame: FrameType | None) -> None:
        if self.signal_number is not None:
            raise KeyboardInterrupt
        self.signal_number = signal_number

    def __enter__(self) -> SignalStop:
        for stop_signal in STOP_SIGNALS:
            self._previous[stop_signal] = signal.signal(stop_signal, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for stop_signal, handler in self._previous.items():
            signal.signal(stop_signal, handler)


class TerminatedError(KeyboardInterrupt):
    """SIGTERM, taken the way Ctrl-C is (sigterm_as_ctrl_c); the exit status is 143, not 130."""


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """Within the block, SIGTERM raises TerminatedError, a KeyboardInterrupt, so that a process
    that stops its workers on Ctrl-C (a study) does so on `kill` too, rather than dying without
    them."""

    def interrupt(signal_number: int, frame: FrameType | None) -> None:
        raise TerminatedError

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def end_with_parent(parent_pid: int) -> None:
    """In a worker process: be killed when the parent ends, however it ends, so that no worker
    trains on, orphaned, after its study is gone. A parent that exits cleanly (Ctrl-C, SIGTERM)
    has already stopped its workers with a checkpoint each; this covers a parent killed outright,
    where the worker's files are left as after a crash: whole, every write being atomic. Linux
    only (prctl); elsewhere the parent's own clean-up is what stops the workers."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent ended before the request was made
        os.kill(os.getpid(), signal.SIGKILL)

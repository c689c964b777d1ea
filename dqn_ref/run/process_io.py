"""What a command does about the process it runs in: a stdout whose reader goes away, and an
MPLBACKEND that matplotlib does not know. Neither ends a run: a run's results are its files.

- stdout closed early (`python -m dqn_ref.run cartpole | head -1`): the next print raises
  BrokenPipeError. The run goes on, says so once on stderr, and later prints go nowhere; the
  descriptor is pointed at /dev/null so that Python's own flush at exit does not fail either.
  The same for stderr (`2>&1 | head -1`, the progress bar's stream), silently.
- MPLBACKEND set to a backend matplotlib does not know: matplotlib refuses it with a traceback
  when it is first imported. dqn_ref draws every figure to a file with Agg whatever the variable
  says, so the variable never decides anything here; it is set aside (for this process and the
  seeds' processes it starts), with a one-line notice, rather than ending a run over a setting
  it does not use.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import TextIO

STDOUT_CLOSED_NOTICE = (
    "dqn_ref: stdout was closed by its reader; the command goes on, and what it would have "
    "printed is in its folder's files"
)


class OutputThatMayClose(io.TextIOBase):
    """A stdout or stderr that, once its reader has gone, drops further output; stdout then says
    so on stderr (`notice`), stderr has no one left to tell."""

    def __init__(self, stream: TextIO, notice: str | None):
        self.stream = stream
        self.notice = notice
        self.closed_by_reader = False

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._reader_gone()

    def isatty(self) -> bool:
        # Asked of a stream that its owner (pytest's capture, a library at exit) has closed too.
        if self.closed_by_reader or self.stream.closed:
            return False
        return self.stream.isatty()

    def fileno(self) -> int:  # the terminal's width, for the progress bar
        return self.stream.fileno()

    def _reader_gone(self) -> None:
        self.closed_by_reader = True
        if self.notice is not None:
            with contextlib.suppress(OSError):  # stderr may be the same closed pipe (2>&1)
                print(self.notice, file=sys.stderr, flush=True)
        # The stream's buffer still holds what the pipe refused; with the descriptor on
        # /dev/null, Python's flush at exit writes it there instead of failing.
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)


@contextlib.contextmanager
def outputs_that_may_close() -> Iterator[None]:
    """sys.stdout and sys.stderr guarded by OutputThatMayClose for the block, then as they were."""
    stdout = OutputThatMayClose(sys.stdout, STDOUT_CLOSED_NOTICE)
    stderr = OutputThatMayClose(sys.stderr, None)
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            yield
    finally:
        # Output to a pipe is block-buffered: a short command's last lines may still sit in the
        # buffer, and would meet the closed pipe only in Python's flush at exit, outside this
        # guard (exit status 120). Flushed here, they meet it inside.
        stdout.flush()
        stderr.flush()


def set_aside_unknown_mplbackend() -> str | None:
    """When MPLBACKEND names a backend matplotlib does not know, remove it from the environment
    before matplotlib is imported for good, and return it; else None (and nothing changes)."""
    value = os.environ.get("MPLBACKEND")
    if value is None or "matplotlib" in sys.modules:
        return None
    del os.environ["MPLBACKEND"]
    import matplotlib.rcsetup  # matplotlib reads MPLBACKEND here: the variable is unset

    try:
        matplotlib.rcsetup.validate_backend(value)
    except ValueError:
        return value
    os.environ["MPLBACKEND"] = value  # a backend matplotlib knows: left for whatever reads it
    return None

"""One process per run folder, and the leftovers a crash can leave in one.

A run (or a study) holds an exclusive lock on its folder's `.lock` file while it writes there
(fcntl.flock). The operating system releases the lock when the process ends, however it ends
(SIGKILL, a crash, a power cut), so a lock is never left stuck; a second process that finds the
lock held is refused in one line (spec/reliability.md#one-process-per-folder).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from dqn_ref.atomic import TEMPORARY_SUFFIX, describe_os_error
from dqn_ref.errors import DQNRefError

LOCK_FILE = ".lock"


@contextlib.contextmanager
def folder_lock(folder: Path, kind: str = "run") -> Iterator[None]:
    """Hold `folder`'s lock for the `with` block, creating the folder if need be; raise a
    one-line DQNRefError if another process holds it. A folder this call created and that holds
    nothing but the lock file when the block ends (a run refused before writing) is removed."""
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:  # nothing written yet: no run file to name, nothing to resume
        raise DQNRefError(
            f"cannot write the {kind} folder {folder}: {describe_os_error(error)}"
        ) from error
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DQNRefError(
                f"{folder} is in use by process {holder}, which is writing there; wait for it "
                "to end, or choose another folder"
            ) from None
        with contextlib.suppress(
            OSError
        ):  # the holder's pid is a courtesy; a full disk may refuse it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        if created and [entry.name for entry in folder.iterdir()] == [LOCK_FILE]:
            with contextlib.suppress(OSError):
                (folder / LOCK_FILE).unlink()
                folder.rmdir()
        os.close(fd)  # releases the lock


def remove_leftover_temporaries(folder: Path) -> None:
    """Remove the temporary files that saves killed mid-write left (`.checkpoint.pt.<random>.tmp`
    and the like), printing one line per file. Only called while holding the folder's lock, so
    no live save's temporary file is among them."""
    for leftover in sorted(folder.glob(f".*{TEMPORARY_SUFFIX}")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            print(
                f"dqn_ref: removed {leftover}, the temporary file of a save that was interrupted",
                flush=True,
            )

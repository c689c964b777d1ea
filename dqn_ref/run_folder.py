"""One process per run folder, and the leftovers a crash can leave in one.

A run (or a study) holds an exclusive lock (fcntl.flock) on its folder while it writes there. The
operating system releases the lock when the process ends, however it ends (SIGKILL, a crash, a
power cut), so a lock is never left stuck, and the lock is taken on the folder itself, so no lock
file is left behind either. A second process that finds the lock held is refused in one line
(spec/reliability.md#one-process-per-folder).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from dqn_ref.atomic import TEMPORARY_SUFFIX, describe_os_error
from dqn_ref.errors import DQNRefError


@contextlib.contextmanager
def folder_lock(folder: Path, kind: str = "run") -> Iterator[None]:
    """Hold `folder`'s lock for the `with` block, creating the folder if need be; raise a
    one-line DQNRefError if another process holds it. A folder this call created and that is
    still empty when the block ends (a run refused before writing) is removed."""
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:  # nothing written yet: no run file to name, nothing to resume
        raise DQNRefError(
            f"cannot write the {kind} folder {folder}: {describe_os_error(error)}"
        ) from error
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DQNRefError(
                f"{folder} is in use by another process, which is writing there; wait for it "
                "to end, or choose another folder"
            ) from None
        yield
    finally:
        if created:
            with contextlib.suppress(OSError):  # not empty: the run wrote there, keep it
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

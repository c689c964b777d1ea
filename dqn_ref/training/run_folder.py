"""The run folder: its default name, its preparation (never mixing two runs' files), one process
per folder, and the leftovers a crash can leave in one.

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
import time
from collections.abc import Iterator
from pathlib import Path

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.training.atomic import TEMPORARY_SUFFIX, describe_os_error
from dqn_ref.training.tensorboard_log import EVENT_FILE_PREFIX


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


# The default video (--video) counts too: a replaced run's video must not stay beside the new run.
RUN_FILES = (
    "config.json",
    "metrics.csv",
    "checkpoint.pt",
    "curve.png",
    "summary.json",
    "video.gif",
)


def folder_safe(env_id: str) -> str:
    """An env id as one folder name: ALE/Pong-v5 -> ALE_Pong-v5."""
    return env_id.replace("/", "_")


def output_folder(out: Path | None, default_name: str) -> Path:
    """--out, or runs/<default_name>-<time>; refused if it is a file."""
    if out is None:
        out = Path("runs") / f"{default_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.exists() and not out.is_dir():
        raise DQNRefError(f"--out {out} is a file; give a folder path")
    return out


def run_dir_path(out: Path | None, config: DQNConfig, preset: str) -> Path:
    """--out, or the default runs/<env>-<preset>-s<seed>-<time>; refused if it is a file."""
    return output_folder(out, f"{folder_safe(config.env_id)}-{preset}-s{config.seed}")


def prepare_run_dir(out: Path | None, config: DQNConfig, preset: str, overwrite: bool) -> Path:
    """The run folder to write, refusing to mix two runs' files unless asked to overwrite.
    Called while holding the folder's lock, so no live run's files are replaced."""
    out = run_dir_path(out, config, preset)
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise DQNRefError(
            f"{out} already holds a run ({existing[0]}); pass --overwrite (overwrite=True in "
            "Python) to replace it or choose another --out"
        )
    for name in existing:
        (out / name).unlink()
    if out.is_dir():
        remove_leftover_temporaries(out)
    if existing:  # the replaced run's TensorBoard events, which would mix with the new run's
        for events in out.glob(f"{EVENT_FILE_PREFIX}*"):
            events.unlink()
    return out

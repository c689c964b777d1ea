"""The one line a failed or interrupted command ends with, and its exit status."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from dqn_ref.errors import DQNRefError
from dqn_ref.run.flags import PROG
from dqn_ref.training.atomic import WriteFailedError
from dqn_ref.training.interrupt import TerminatedError, TrainingInterruptedError


def report_failure(
    error: DQNRefError | OSError | KeyboardInterrupt,
    folder_kind: str,
    folder: Path | None,
    kept: str,
    kept_detail: str,
) -> int:
    """Print the one line a run or a study ends with on bad input, an unwritable folder (a file in
    the path, no space) or Ctrl-C (or SIGTERM), and return the exit status: 2, 2 or 130 (143)."""
    if isinstance(error, WriteFailedError):
        print(f"dqn_ref: error: {error}; {what_is_kept(folder, folder_kind)}", file=sys.stderr)
        return 2
    if isinstance(error, DQNRefError):
        print(f"dqn_ref: error: {error}", file=sys.stderr)
        return 2
    if isinstance(error, OSError):
        print(
            f"dqn_ref: error: cannot write the {folder_kind} folder: {error}; choose another --out",
            file=sys.stderr,
        )
        return 2
    where = f" in {folder}" if folder is not None else ""
    terminated = isinstance(error, TerminatedError)
    by = " by SIGTERM" if terminated else ""
    detail = f" {kept_detail}" if kept_detail else ""
    print(f"dqn_ref: interrupted{by}; {kept}{where}{detail}", file=sys.stderr)
    return 128 + (signal.SIGTERM if terminated else signal.SIGINT)


def what_is_kept(folder: Path | None, folder_kind: str) -> str:
    """After a failed write: the files written before are intact; how to go on once fixed."""
    if folder_kind == "run" and folder is not None and (folder / "checkpoint.pt").is_file():
        return (
            f"every file written before is intact; once fixed, resume with: {PROG} resume {folder}"
        )
    if folder_kind == "run":
        return (
            "every file written before is intact, but no checkpoint was saved yet; once fixed, "
            "train again (--overwrite to reuse the folder)"
        )
    return "every file written before is intact (each seed's run folder can be resumed)"


def report_interruption(interrupted: TrainingInterruptedError) -> int:
    print(f"dqn_ref: {interrupted}", file=sys.stderr)
    return interrupted.exit_status()


def report_video_failure(
    error: DQNRefError | OSError | KeyboardInterrupt, run_dir: Path, video: Path, kept: str
) -> int:
    """The one line a command ends with when its video was not written (a failed write, Ctrl-C or
    SIGTERM while filming): what stays as it was (`kept`), and how to film the run again; the
    exit status as report_failure's. A video is never resumed, so resume is not the advice."""
    again = f"film it again with: {PROG} eval {run_dir} --video {video}"
    if isinstance(error, KeyboardInterrupt):
        terminated = isinstance(error, TerminatedError)
        by = " by SIGTERM" if terminated else ""
        print(
            f"dqn_ref: interrupted{by} while writing the video {video}; {kept}; {again}",
            file=sys.stderr,
        )
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    if isinstance(error, OSError):  # met outside write_video, which names its own
        print(
            f"dqn_ref: error: cannot write the video {video}: {error}; {kept}; {again}",
            file=sys.stderr,
        )
        return 2
    print(f"dqn_ref: error: {error}; {kept}; {again}", file=sys.stderr)
    return 2

"""What every command of the CLI shares (dqn_ref/run.py and the study command of dqn_ref/study.py):
the program's name, the config a command line asks for, folder names, and the one line a failed
command ends with. Both import it; neither imports the other's module for it."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from pathlib import Path

from dqn_ref.atomic import WriteFailedError
from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.interrupt import TerminatedError
from dqn_ref.presets import get_preset
from dqn_ref.tensorboard_log import TENSORBOARD_INSTALL, tensorboard_available

PROG = "python -m dqn_ref.run"


def config_from_args(args: argparse.Namespace) -> DQNConfig:
    """The preset with every flag the user gave applied on top, validated."""
    given = vars(args)
    overrides = {f.name: given[f.name] for f in dataclasses.fields(DQNConfig) if f.name in given}
    if given.get("tensorboard") and not tensorboard_available():
        raise DQNRefError(f"--tensorboard needs the tensorboard package: {TENSORBOARD_INSTALL}")
    return get_preset(args.preset, args.task).replace(**overrides)


def folder_safe(env_id: str) -> str:
    """An env id as one folder name: ALE/Pong-v5 -> ALE_Pong-v5."""
    return env_id.replace("/", "_")


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
    print(f"dqn_ref: interrupted{by}; {kept}{where} {kept_detail}", file=sys.stderr)
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

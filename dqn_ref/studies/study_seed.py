"""One seed of a study: its run, in a worker process or a Ray task, and how far it has got."""

from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path

from dqn_ref.config import DQNConfig
from dqn_ref.training.atomic import write_error
from dqn_ref.training.interrupt import StopCheck
from dqn_ref.training.metrics import COLUMNS
from dqn_ref.training.run_folder import folder_lock
from dqn_ref.training.train import train

TRAIN_LOG = "train.log"  # a seed's printed output (its evaluations), kept in its run folder
METRICS_TAIL_BYTES = 4096  # holds the last few rows of metrics.csv, which are ~100 bytes each


def train_seed(
    config: DQNConfig, run_dir: Path, preset_name: str, stop: StopCheck | None = None
) -> None:
    """One seed's run, in a worker process. What train() prints goes to the seed's train.log, so
    that ten runs' evaluation lines do not interleave under the study's progress bar."""
    log_path = run_dir / TRAIN_LOG
    try:
        with (
            folder_lock(run_dir),
            log_path.open("w", buffering=1) as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            train(config, run_dir, preset_name, progress=False, stop=stop)
    except OSError as error:  # the log's own writes; every run file names itself
        raise write_error(log_path, error) from error


def logged_count(metrics_path: Path, column: str) -> int:
    """The `column` ("step" or "episode") of the last complete row of a running seed's
    metrics.csv, which train() flushes row by row; 0 before the first row."""
    try:
        with metrics_path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - METRICS_TAIL_BYTES))
            tail = file.read()
    except FileNotFoundError:
        return 0
    complete_lines = tail.split(b"\n")[:-1]  # what follows the last newline may be half-written
    if not complete_lines or complete_lines[-1].startswith(COLUMNS[0].encode()):
        return 0  # nothing yet, or only the header
    cells = next(csv.reader([complete_lines[-1].decode()]))
    return int(float(cells[COLUMNS.index(column)]))

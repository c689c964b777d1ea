"""A TensorBoard event file in the run folder, written from the run's metrics rows.

Every row that metrics.csv gets is also written here, keyed by agent step (the row's `step`):

| tag | from |
| --- | --- |
| train/episode_return, train/episode_length, train/epsilon | each training episode's row |
| train/loss | that row's mean TD loss (absent before the first update) |
| train/mean_q_taken | mean Q(s, a; theta) of the minibatch actions over the same updates |
| speed/steps_per_s, speed/updates_per_s | over at least RATE_WINDOW_S, and at every evaluation |
| eval/mean, eval/std (and final/mean, final/std) | each evaluation's row |

and, once at the start, every config field in TensorBoard's HPARAMS tab (its hparams plugin), with
eval/mean and final/mean as the metrics, so that runs can be compared by their settings.

Optional: `pip install 'dqn_ref[tensorboard]'`; without it runs write everything else as before.
View with `tensorboard --logdir runs`.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

TENSORBOARD_INSTALL = "pip install 'dqn_ref[tensorboard]'"
EVENT_FILE_PREFIX = "events.out.tfevents."  # TensorBoard's own file name, then time and host
RATE_WINDOW_S = 1.0  # steps/s and updates/s are measured over at least this much wall-clock
FLUSH_S = 10  # seconds between writes of the event file to disk
HPARAM_METRICS = ("eval/mean", "final/mean")  # the HPARAMS tab's columns beside the config


def hparam_value(value: Any) -> int | float | str:
    """A config value as the hparams plugin takes it."""
    if value is None:
        return "none"
    if isinstance(value, bool):  # torch's hparams would take it for the number 0 or 1
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return ",".join(str(part) for part in value)
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def tensorboard_available() -> bool:
    """Whether the tensorboard package is installed (torch's SummaryWriter needs it)."""
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardLog:
    """Writes one run's metrics rows as TensorBoard scalars (the module docstring lists them).

    `mean_q` gives the mean Q of the taken actions over the updates since the last training row
    (or None without an update); `updates_done` the run's update count. Both are read once per
    training row.
    """

    def __init__(
        self,
        run_dir: Path,
        mean_q: Callable[[], float | None],
        updates_done: Callable[[], int],
    ):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=FLUSH_S)
        self.mean_q = mean_q
        self.updates_done = updates_done
        self.rate_start: tuple[int, float, int] | None = None  # step, wall_time_s, updates

    def hparams(self, config: Mapping[str, Any]) -> None:
        """The run's config in the HPARAMS tab: numbers and strings as they are, the others as
        text (hidden_sizes (128, 128) as "128,128", None as "none", True as "true")."""
        from torch.utils.tensorboard.summary import hparams

        values = {name: hparam_value(value) for name, value in config.items()}
        metrics = {tag: math.nan for tag in HPARAM_METRICS}  # only the tags are written
        file_writer = self.writer._get_file_writer()
        for summary in hparams(values, metrics):
            file_writer.add_summary(summary)

    def scalar(self, tag: str, value: float, step: int) -> None:
        """One point; a NaN (no loss before the first update) is left out."""
        if math.isfinite(value):
            self.writer.add_scalar(tag, value, step)

    def row(self, row: Mapping[str, Any]) -> None:
        """One metrics.csv row (MetricsLog.write's keyword arguments)."""
        kind, step, wall_time_s = str(row["kind"]), int(row["step"]), float(row["wall_time_s"])
        if kind == "train":
            self.scalar("train/episode_return", float(row["return"]), step)
            self.scalar("train/episode_length", float(row["length"]), step)
            self.scalar("train/epsilon", float(row["epsilon"]), step)
            self.scalar("train/loss", float(row.get("loss", math.nan)), step)
            mean_q = self.mean_q()
            if mean_q is not None:
                self.scalar("train/mean_q_taken", mean_q, step)
            self.rates(step, wall_time_s)
        else:  # "eval" during training, "final" after it
            self.scalar(f"{kind}/mean", float(row["return"]), step)
            self.scalar(f"{kind}/std", float(row["eval_std"]), step)
            if kind == "eval":  # a rate at every evaluation, however short the window
                self.rates(step, wall_time_s, window_s=0.0)

    def rates(self, step: int, wall_time_s: float, window_s: float = RATE_WINDOW_S) -> None:
        """Agent steps and updates per second since the last rate, window_s or more ago."""
        updates = self.updates_done()
        if self.rate_start is None:
            self.rate_start = (step, wall_time_s, updates)
            return
        start_step, start_time, start_updates = self.rate_start
        elapsed = wall_time_s - start_time
        if elapsed < window_s or elapsed <= 0.0:
            return
        self.scalar("speed/steps_per_s", (step - start_step) / elapsed, step)
        self.scalar("speed/updates_per_s", (updates - start_updates) / elapsed, step)
        self.rate_start = (step, wall_time_s, updates)

    def close(self) -> None:
        self.writer.close()

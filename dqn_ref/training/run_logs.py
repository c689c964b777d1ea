"""The run's logs beside metrics.csv: the TensorBoard event file and the W&B run, each fed every
metrics row (MetricsLog's listener), and the mean Q of the taken actions they both show, summed
from the updates' outcomes and read once per training row."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dqn_ref.config import DQNConfig
from dqn_ref.training.tensorboard_log import TensorBoardLog, tensorboard_available
from dqn_ref.training.wandb_log import WandbLog

if TYPE_CHECKING:  # torch loads with the first run, not with --help
    from torch import Tensor

    from dqn_ref.update import UpdateOutcome


class MeanQTaken:
    """The mean over updates of each update's mean Q(s, a; theta) of its minibatch's actions,
    summed on the device as the updates return it (no host sync per update)."""

    def __init__(self) -> None:
        self.total: Tensor | None = None
        self.updates = 0

    def add(self, updates: Sequence[UpdateOutcome]) -> None:
        for outcome in updates:
            mean_q = outcome.mean_q_taken
            self.total = mean_q.clone() if self.total is None else self.total.add_(mean_q)
            self.updates += 1

    def take(self) -> float | None:
        """The mean since the last call (one host sync), or None when no update was made."""
        if self.total is None or self.updates == 0:
            return None
        mean = (self.total / self.updates).item()
        self.total, self.updates = None, 0
        return mean


class RunLogs:
    """Every log of the run, one listener of MetricsLog. The run hands it each step's updates
    (add_updates); at each training row their mean Q is read once, and every log shows it."""

    def __init__(self) -> None:
        self.logs: list[TensorBoardLog] = []
        self.mean_q_taken = MeanQTaken()
        self.row_mean_q: float | None = None

    def add_updates(self, updates: Sequence[UpdateOutcome]) -> None:
        self.mean_q_taken.add(updates)

    def mean_q(self) -> float | None:
        """The mean Q of the updates before the row being written."""
        return self.row_mean_q

    def row(self, row: Mapping[str, Any]) -> None:
        if row["kind"] == "train":
            self.row_mean_q = self.mean_q_taken.take()
        for log in self.logs:
            log.row(row)

    def close(self) -> None:
        for log in self.logs:
            log.close()


def open_run_logs(
    config: DQNConfig,
    run_dir: Path,
    updates_done: Callable[[], int],
    fields: Mapping[str, Any],
) -> RunLogs | None:
    """The TensorBoard log (config.tensorboard, where installed) and the W&B run (config.wandb),
    or None for neither; `fields` is the config as logged (TensorBoard's HPARAMS, W&B's config)."""
    logs = RunLogs()
    if config.tensorboard and tensorboard_available():
        tensorboard = TensorBoardLog(run_dir, logs.mean_q, updates_done)
        tensorboard.hparams(fields)
        logs.logs.append(tensorboard)
    if config.wandb:
        logs.logs.append(WandbLog(config.wandb, run_dir, logs.mean_q, updates_done, fields))
    return logs if logs.logs else None

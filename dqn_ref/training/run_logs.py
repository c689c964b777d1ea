"""The run's logs beside metrics.csv: the TensorBoard event file and the W&B run, each fed every
metrics row (MetricsLog's listener), sharing one reading of the agent's mean Q per row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dqn_ref.config import DQNConfig
from dqn_ref.training.tensorboard_log import TensorBoardLog, open_tensorboard
from dqn_ref.training.wandb_log import WandbLog


class SharedMeanQ:
    """The agent's mean Q since the last training row, taken once per row (take_mean_q resets
    it) and handed to every log that asks."""

    def __init__(self, take_mean_q: Callable[[], float | None]):
        self.take_mean_q = take_mean_q
        self.value: float | None = None

    def take(self) -> None:
        self.value = self.take_mean_q()

    def __call__(self) -> float | None:
        return self.value


class RunLogs:
    """Every log of the run, one listener of MetricsLog."""

    def __init__(self, logs: list[TensorBoardLog], mean_q: SharedMeanQ):
        self.logs = logs
        self.mean_q = mean_q

    def row(self, row: Mapping[str, Any]) -> None:
        if row["kind"] == "train":
            self.mean_q.take()
        for log in self.logs:
            log.row(row)

    def close(self) -> None:
        for log in self.logs:
            log.close()


def open_run_logs(
    config: DQNConfig,
    run_dir: Path,
    agent: Any,
    updates_done: Callable[[], int],
    fields: Mapping[str, Any],
) -> TensorBoardLog | RunLogs | None:
    """The TensorBoard log (config.tensorboard, where installed) and the W&B run (config.wandb),
    or None for neither; `fields` is the config as logged."""
    tensorboard = open_tensorboard(config.tensorboard, run_dir, agent, updates_done, fields)
    if not config.wandb:
        return tensorboard
    agent.track_mean_q()
    mean_q = SharedMeanQ(agent.take_mean_q)
    logs: list[TensorBoardLog] = [WandbLog(config.wandb, run_dir, mean_q, updates_done, fields)]
    if tensorboard is not None:
        tensorboard.take_mean_q = mean_q
        logs.append(tensorboard)
    return RunLogs(logs, mean_q)

"""metrics.csv: one row per training episode and per evaluation, appended and flushed at once."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from dqn_ref.atomic import atomic_write
from dqn_ref.errors import DQNRefError

COLUMNS = (
    "kind",  # "train": a training episode; "eval": an evaluation in training; "final": the last
    "step",  # agent steps taken when the row was written
    "episode",  # training episodes finished when the row was written
    "wall_time_s",  # seconds since training started
    "return",  # train: the episode's raw (unclipped) return; eval, final: mean return
    "length",  # train: the episode's length in agent steps; eval, final: episodes evaluated
    "epsilon",  # train: exploration rate at the episode's last step; eval, final: the policy's
    "loss",  # train: mean TD loss of the updates since the previous train row (empty before any)
    "eval_std",
    "eval_min",
    "eval_max",
)


class RowListener(Protocol):
    """Also receives every row (the TensorBoard log), and is closed with the log."""

    def row(self, row: dict[str, float | str]) -> None: ...

    def close(self) -> None: ...


@dataclass
class MetricsLog:
    """Appends rows to metrics.csv and keeps them in memory for the curve and the summary."""

    path: Path
    rows: list[dict[str, float | str]] = field(default_factory=list)
    _file: IO[str] | None = None
    listener: RowListener | None = None

    def __post_init__(self) -> None:
        if self._file is None:  # a new log; continued() hands over an open one
            self._file = self.path.open("w", newline="")
            csv.writer(self._file).writerow(COLUMNS)
            self._file.flush()

    @classmethod
    def continued(cls, path: Path, rows_kept: int) -> MetricsLog:
        """A resumed run's log: metrics.csv cut back to its first `rows_kept` rows, those written
        before the checkpoint (an interrupted run may have written more), then appended to."""
        lines = path.read_text().splitlines(keepends=True) if path.is_file() else []
        if len(lines) < rows_kept + 1 or lines[0].rstrip("\r\n") != ",".join(COLUMNS):
            raise DQNRefError(
                f"{path} does not hold the {rows_kept} rows the checkpoint recorded; "
                "resume needs the run folder's metrics.csv as the run left it"
            )
        kept = "".join(lines[: rows_kept + 1])
        atomic_write(path, lambda file: file.write(kept.encode()))
        rows: list[dict[str, float | str]] = list(csv.DictReader(kept.splitlines()))
        return cls(path, rows, path.open("a", newline=""))

    def write(self, **row: float | str) -> None:
        assert self._file is not None, "MetricsLog is closed"
        self.rows.append(row)
        cells = [_format(row.get(column, "")) for column in COLUMNS]
        csv.writer(self._file).writerow(cells)
        self._file.flush()
        if self.listener is not None:
            self.listener.row(row)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def column(self, kind: str, name: str) -> list[float]:
        return [float(row[name]) for row in self.rows if row["kind"] == kind]


def _format(value: float | str) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def read_metrics(path: Path) -> list[dict[str, str]]:
    """metrics.csv as a list of rows, for plots and tests."""
    with path.open(newline="") as file:
        return list(csv.DictReader(file))

"""metrics.csv: one row per training episode and per evaluation, appended and flushed at once."""

from __future__ import annotations

import contextlib
import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from dqn_ref.errors import DQNRefError
from dqn_ref.training.atomic import atomic_write, write_error

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
    "train_time_s",  # eval, final: seconds of training before the evaluation (evaluations excluded)
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
    _failed: bool = False  # a write failed: closing then drops what the disk refused
    listener: RowListener | None = None

    def __post_init__(self) -> None:
        if self._file is None:  # a new log; continued() hands over an open one
            try:
                self._file = self.path.open("w", newline="")
                csv.writer(self._file).writerow(COLUMNS)
                self._file.flush()
            except OSError as error:
                self._abandon()
                raise write_error(self.path, error) from error

    @classmethod
    def continued(cls, path: Path, rows_kept: int) -> MetricsLog:
        """A resumed run's log: metrics.csv cut back to its first `rows_kept` rows, those written
        before the checkpoint (an interrupted run may have written more), then appended to."""
        lines = check_metrics_rows(path, rows_kept)
        kept_lines = lines[: rows_kept + 1]
        # A crash (or a full disk) while a row was written leaves it cut short: no newline, or
        # fewer cells than COLUMNS. Rows after the checkpoint are dropped whole anyway; a cut row
        # among the kept ones cannot be completed, so it is dropped and said so.
        cut = rows_kept > 0 and not _whole_row(kept_lines[-1])
        if cut:
            kept_lines = kept_lines[:-1]
        dropped = len(lines) - (rows_kept + 1)
        if cut or dropped:
            print(f"dqn_ref: {describe_repair(path, dropped, cut, lines)}", flush=True)
        kept = "".join(kept_lines)
        atomic_write(path, lambda file: file.write(kept.encode()))
        rows: list[dict[str, float | str]] = list(csv.DictReader(kept.splitlines()))
        try:
            return cls(path, rows, path.open("a", newline=""))
        except OSError as error:
            raise write_error(path, error) from error

    def write(self, **row: float | str) -> None:
        assert self._file is not None, "MetricsLog is closed"
        self.rows.append(row)
        cells = [_format(row.get(column, "")) for column in COLUMNS]
        try:
            csv.writer(self._file).writerow(cells)
            self._file.flush()
        except OSError as error:
            self._abandon()
            raise write_error(self.path, error) from error
        if self.listener is not None:
            self.listener.row(row)

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as error:
            # After a failed write the buffer still holds what the disk refused; the error that
            # ended the run has been raised already, so this one is not raised over it.
            if not self._failed:
                raise write_error(self.path, error) from error
        finally:
            self._file = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def _abandon(self) -> None:
        """Close after a failed write, dropping the buffered rest of the row, and cut the file
        back to its last whole row (a truncation needs no free space), so that metrics.csv
        holds whole rows only."""
        self._failed = True
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        with contextlib.suppress(OSError):
            text = self.path.read_bytes()
            os.truncate(self.path, text.rfind(b"\n") + 1)

    def column(self, kind: str, name: str) -> list[float]:
        return [float(row[name]) for row in self.rows if row["kind"] == kind]


def check_metrics_rows(path: Path, rows_kept: int) -> list[str]:
    """metrics.csv's lines, or a one-line DQNRefError when it lacks the header or the rows a
    checkpoint counted (a file replaced or cut by hand: nothing a crash leaves)."""
    try:
        lines = path.read_text().splitlines(keepends=True) if path.is_file() else []
    except (OSError, UnicodeDecodeError):
        lines = []
    if len(lines) < rows_kept + 1 or lines[0].rstrip("\r\n") != ",".join(COLUMNS):
        raise DQNRefError(
            f"{path} does not hold the {rows_kept} rows the checkpoint recorded; "
            "resume needs the run folder's metrics.csv as the run left it"
        )
    return lines


def _whole_row(line: str) -> bool:
    """Whether a metrics.csv line was written to its end: a newline and one cell per column."""
    if not line.endswith("\n"):
        return False
    cells = next(csv.reader([line]), [])
    return len(cells) == len(COLUMNS)


def describe_repair(path: Path, dropped: int, cut: bool, lines: list[str]) -> str:
    """The one line a resume prints when it repairs metrics.csv."""
    parts = []
    if dropped:
        last_cut = not _whole_row(lines[-1])
        detail = ", the last one cut short by the crash" if last_cut else ""
        rows = "row" if dropped == 1 else "rows"
        parts.append(f"dropped {dropped} {rows} written after the checkpoint{detail}")
    if cut:
        parts.append("dropped its last checkpointed row, cut short by a crash")
    return f"{path}: " + "; ".join(parts)


def _format(value: float | str) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def read_metrics(path: Path) -> list[dict[str, str]]:
    """metrics.csv as a list of rows, for plots and tests."""
    with path.open(newline="") as file:
        return list(csv.DictReader(file))

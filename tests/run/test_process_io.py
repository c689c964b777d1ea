"""dqn_ref/run/process_io.py: a command whose stdout (or stderr) reader goes away keeps running to
its end, and an MPLBACKEND matplotlib does not know is set aside with one line; both with real
subprocesses, as a shell runs them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dqn_ref.run.process_io import STDOUT_CLOSED_NOTICE, OutputThatMayClose

ROOT = Path(__file__).resolve().parents[2]
# Evaluations print at steps 200, 400 and 600, after the first line the reader takes.
RUN = [
    sys.executable, "-m", "dqn_ref.run", "cartpole",
    "--steps", "600",
    "--num-envs", "1",
    "--learning-starts", "50",
    "--batch-size", "16",
    "--buffer-size", "600",
    "--hidden-sizes", "16",
    "--eval-interval", "200",
    "--eval-episodes", "1",
    "--final-eval-episodes", "1",
]  # fmt: skip


def start(out: Path, *extra: str, stderr: int) -> subprocess.Popen[str]:
    """The run, its stdout a pipe the test reads, its stderr a pipe too or the same one."""
    return subprocess.Popen(
        [*RUN, *extra, "--out", str(out)],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )


def assert_finished(out: Path) -> None:
    assert json.loads((out / "summary.json").read_text())["steps"] == 600
    assert (out / "checkpoint.pt").is_file() and (out / "curve.png").is_file()


def test_a_run_whose_stdout_reader_goes_away_finishes_and_says_so_on_stderr(
    tmp_path: Path,
) -> None:
    """As with `| head -1`: the reader takes the first line and closes the pipe; the next print
    meets a closed pipe, and the run says so once on stderr, trains to its end and writes every
    file, exit status 0."""
    out = tmp_path / "run"
    process = start(out, "--no-progress", stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith("dqn_ref: cartpole, preset cartpole")
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=240) == 0, stderr
    assert stderr.splitlines() == [STDOUT_CLOSED_NOTICE]
    assert_finished(out)


def test_a_run_whose_only_reader_of_stdout_and_stderr_goes_away_finishes(tmp_path: Path) -> None:
    """As with `2>&1 | head -1`, progress bar included: stderr is the same closed pipe, so the
    notice cannot be read, and the run still finishes with every file."""
    out = tmp_path / "run"
    process = start(out, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    assert process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=240) == 0
    assert_finished(out)


def test_an_mplbackend_matplotlib_does_not_know_is_set_aside_in_one_line(tmp_path: Path) -> None:
    """matplotlib refuses an unknown MPLBACKEND at import with a traceback; dqn_ref draws with
    Agg whatever the variable says, so the run says in one line that it ignores it, and writes
    its curve."""
    out = tmp_path / "run"
    result = subprocess.run(
        [*RUN, "--no-progress", "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "MPLBACKEND": "nonexistent"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "dqn_ref: MPLBACKEND='nonexistent' is not a backend matplotlib knows, so it is ignored "
        "here (dqn_ref draws its figures to files with Agg); unset or correct it for other "
        "programs"
    ]
    assert_finished(out)


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_output_after_the_reader_has_gone_is_dropped_and_said_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stdout = OutputThatMayClose(ClosedPipe(), STDOUT_CLOSED_NOTICE)
    for line in ("first\n", "second\n"):
        assert stdout.write(line) == len(line)
    stdout.flush()
    assert stdout.closed_by_reader
    assert capsys.readouterr().err.splitlines() == [STDOUT_CLOSED_NOTICE]

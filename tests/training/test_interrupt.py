"""SIGINT and SIGTERM: a run, started as users start it, saves a checkpoint and exits with a line
that says how to resume (spec/reliability.md#resume)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dqn_ref.training.checkpoint import load_checkpoint

TOTAL_STEPS = 200_000  # far more than the run reaches before the signal


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_a_checkpoint_and_prints_the_resume_command(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "dqn_ref.run", "cartpole", "--out", str(out)]
    flags = ["--steps", str(TOTAL_STEPS), "--eval-interval", "500", "--eval-episodes", "2"]
    flags.append("--no-stop-when-solved")  # a run that solves early would end before the signal
    child = subprocess.Popen(
        [*command, *flags, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None
    for line in child.stdout:  # the loop is running once it has evaluated
        if line.startswith("evaluation at step"):
            break
    child.send_signal(stop_signal)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 128 + stop_signal, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith(f"dqn_ref: interrupted by {stop_signal.name} at step ")
    assert f"resume with: python -m dqn_ref.run resume {out}" in lines[0]
    step = load_checkpoint(out / "checkpoint.pt")["counters"]["step"]
    assert 500 <= step < TOTAL_STEPS
    assert f"at step {step};" in lines[0]

"""total_minutes (`--minutes M`): training stops after M minutes of training time, wall-clock
less the evaluations, then plays its final evaluation; summary.json's stopped_by names the limit
that ended the run (spec/algorithm.md, step 9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import dqn_ref.evaluate
import dqn_ref.training.train as train_module
from dqn_ref.errors import DQNRefError
from dqn_ref.presets import cartpole
from dqn_ref.run.main import main
from dqn_ref.training.train import resume, train

CONFIG = cartpole.replace(
    num_envs=1, total_steps=5_000, learning_starts=100, eval_interval=50, eval_episodes=1,
    final_eval_episodes=1, stop_when_solved=False, tensorboard=False, total_minutes=0.01,
    checkpoint_minutes=0.0,
)  # fmt: skip
TICK_S = 2**-10  # each reading moves the clock on by this much; binary, so that sums are exact


class CountingClock:
    """A clock that moves TICK_S per reading: the run's seconds are then a count of what its
    loop did, the same on every machine."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += TICK_S
        return self.now


def timed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, evaluation_s: float, name: str
) -> train_module.TrainResult:
    clock = CountingClock()
    evaluate = dqn_ref.evaluate.evaluate

    def slow_evaluation(*args: Any, **kwargs: Any) -> Any:
        clock.now += evaluation_s
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(train_module, "evaluate", slow_evaluation)
    return train(CONFIG, tmp_path / name, "cartpole", progress=False, clock=clock)


def test_training_stops_at_its_minutes_of_training_and_the_evaluations_do_not_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 0.6 s of training allowed: the run stops before its step limit, says the time limit
    stopped it, and plays its final evaluation; evaluations that take 128 s each stop it at the
    same step, since their time is not training time."""
    quick = timed_run(tmp_path, monkeypatch, 0.0, "quick")
    assert quick.stopped_by == "total_minutes" and quick.steps < CONFIG.total_steps
    assert quick.final_eval is not None
    assert quick.wall_time_s - quick.eval_time_s >= 60 * CONFIG.total_minutes
    slow = timed_run(tmp_path, monkeypatch, 128.0, "slow")
    assert slow.eval_time_s >= 128.0  # at least one evaluation ran before the limit
    assert (slow.steps, slow.stopped_by) == (quick.steps, "total_minutes")
    summary = json.loads((tmp_path / "slow" / "summary.json").read_text())
    assert summary["stopped_by"] == "total_minutes"


def test_a_run_that_ends_at_its_step_limit_says_so(tmp_path: Path) -> None:
    result = train(
        CONFIG.replace(total_minutes=0.0, total_steps=200), tmp_path / "run", progress=False
    )
    assert (result.steps, result.stopped_by) == (200, "total_steps")


def test_resume_refuses_a_run_that_spent_its_minutes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finished by its time limit: resume, and resume to more steps, are refused in one line
    naming total_minutes, with every file as it was."""
    timed_run(tmp_path, monkeypatch, 0.0, "run")
    run_dir = tmp_path / "run"
    before = {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}
    with pytest.raises(DQNRefError, match=r"minutes of training"):
        resume(run_dir, progress=False)
    with pytest.raises(DQNRefError, match=r"total_minutes=0\.01"):
        resume(run_dir, progress=False, total_steps=10_000)
    after = {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}
    assert after == before


def test_minutes_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--minutes sets total_minutes; the run says the time limit stopped it."""
    out = tmp_path / "run"
    argv = ["cartpole", "--minutes", "0.002", "--steps", "1000000", "--eval-interval", "0"]
    argv += ["--final-eval-episodes", "1", "--no-progress", "--no-tensorboard", "--out", str(out)]
    assert main(argv) == 0
    assert "stopped by its time limit (total_minutes); " in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["config"]["total_minutes"] == 0.002
    assert json.loads((out / "summary.json").read_text())["stopped_by"] == "total_minutes"

"""Continuing a run to more agent steps (spec/reliability.md#more-steps), through dqn_ref.resume
and `python -m dqn_ref.run resume RUN_DIR --steps N`: the continued run is the run of N steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

import dqn_ref
import dqn_ref.training.train as train_module
from dqn_ref.errors import DQNRefError
from dqn_ref.run.main import main
from dqn_ref.schedule import epsilon_at
from dqn_ref.training.checkpoint import load_checkpoint
from dqn_ref.training.interrupt import TrainingInterruptedError
from dqn_ref.training.metrics import read_metrics
from tests.training.test_checkpoint import (
    StopAt,
    assert_same_learning_state,
    comparable_rows,
    tiny_run,
)

FIRST, MORE = 300, 600


def config(**changes: Any) -> dqn_ref.DQNConfig:
    """tiny_run's 4 copies, evaluating every 150 steps with the buffer saved; a constant learning
    rate and no stop once solved, so that a run of FIRST steps is the start of one of MORE."""
    base = {"learning_rate_end": None, "stop_when_solved": False, "tensorboard": False}
    return tiny_run(4, **{**base, **changes})


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("stopped_at", [None, 200])
def test_a_run_continued_to_more_steps_equals_one_trained_that_long(
    tmp_path: Path, stopped_at: int | None
) -> None:
    """A run of FIRST steps, finished (or stopped at step 200), continued to MORE: the same
    metrics.csv (wall-clock aside), networks, optimiser, counters and final evaluation as a run
    of MORE steps never stopped."""
    whole = dqn_ref.train(config(total_steps=MORE), tmp_path / "whole", verbose=0)
    run_dir = tmp_path / "continued"
    if stopped_at is None:
        dqn_ref.train(config(total_steps=FIRST), run_dir, verbose=0)
        assert (run_dir / "summary.json").is_file()
    else:
        with pytest.raises(TrainingInterruptedError):
            train_module.train(config(total_steps=FIRST), run_dir, progress=False, stop=StopAt(200))
    continued = dqn_ref.resume(run_dir, total_steps=MORE, verbose=0)
    assert comparable_rows(run_dir) == comparable_rows(tmp_path / "whole")
    assert_same_learning_state(run_dir, tmp_path / "whole")
    assert (continued.steps, continued.episodes, continued.updates) == (
        whole.steps,
        whole.episodes,
        whole.updates,
    )
    assert continued.final_eval == whole.final_eval
    assert json.loads((run_dir / "config.json").read_text())["config"]["total_steps"] == MORE
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == continued.steps >= MORE


def test_the_schedules_go_on_as_the_spec_says(tmp_path: Path) -> None:
    """epsilon is a function of the step alone: the continued run's training rows carry the
    schedule's value at their step. A learning rate decaying to 0 over FIRST steps is 0 at the
    end of the first run; continued, it decays over MORE and the network learns again."""
    run_dir = tmp_path / "run"
    decaying = config(total_steps=FIRST, learning_rate_end=0.0, epsilon_duration=500)
    dqn_ref.train(decaying, run_dir, verbose=0)
    before = load_checkpoint(run_dir / "checkpoint.pt")["agent"]["online_net"]
    assert float(load_checkpoint(run_dir / "checkpoint.pt")["loop"]["step"]) >= FIRST
    assert main(["resume", str(run_dir), "--steps", str(MORE), "--no-progress"]) == 0
    after = load_checkpoint(run_dir / "checkpoint.pt")["agent"]["online_net"]
    assert any(not torch.equal(before[name], after[name]) for name in before)
    continued = decaying.replace(total_steps=MORE)
    rows = [row for row in read_metrics(run_dir / "metrics.csv") if row["kind"] == "train"]
    late = [row for row in rows if int(row["step"]) > FIRST]
    assert late, "no training episode ended after the continuation"
    for row in rows:
        # The row's epsilon is the one its lockstep step acted with, within num_envs agent steps
        # before the row's step (epsilon falls along eq-eps-linear, 0.00198 a step here).
        step = int(row["step"])
        lowest, highest = epsilon_at(continued, step), epsilon_at(continued, step - 4)
        assert lowest - 1e-4 <= float(row["epsilon"]) <= highest + 1e-4, row  # 4 decimals


@pytest.mark.parametrize(
    ("changes", "steps", "message"),
    [
        ({}, 200, r"has taken \d+ agent steps already; continue it to more than that"),
        ({"total_episodes": 5, "total_steps": 5_000}, MORE, "ended at its total_episodes=5"),
        (
            {"stop_when_solved": True, "solved_threshold": 1.0},
            MORE,
            "once solved \\(stop_when_solved\\), as a longer run would have",
        ),
    ],
)
def test_more_steps_are_refused_in_one_line_where_a_longer_run_would_have_ended(
    tmp_path: Path, changes: dict[str, Any], steps: int, message: str
) -> None:
    run_dir = tmp_path / "run"
    dqn_ref.train(config(**{"total_steps": FIRST, **changes}), run_dir, verbose=0)
    before = files_of(run_dir)
    with pytest.raises(DQNRefError, match=message):
        dqn_ref.resume(run_dir, total_steps=steps)
    assert files_of(run_dir) == before


def test_resume_without_steps_still_refuses_a_finished_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    dqn_ref.train(config(total_steps=FIRST), run_dir, verbose=0)
    assert main(["resume", str(run_dir)]) == 2
    assert "holds a finished run" in capsys.readouterr().err


def test_a_run_whose_config_json_predates_a_field_resumes(tmp_path: Path) -> None:
    """config.json written before env_kwargs and wandb existed lacks them; at their defaults in
    the checkpoint they were not edited, so resume goes on (and writes them)."""
    run_dir = tmp_path / "run"
    dqn_ref.train(config(total_steps=FIRST), run_dir, verbose=0)
    written = json.loads((run_dir / "config.json").read_text())
    for name in ("env_kwargs", "wandb"):
        del written["config"][name]
    (run_dir / "config.json").write_text(json.dumps(written))
    assert dqn_ref.resume(run_dir, total_steps=MORE, verbose=0).steps >= MORE
    assert json.loads((run_dir / "config.json").read_text())["config"]["wandb"] == ""
    written["config"]["gamma"] = 0.5  # a field that is there and edited is still refused
    (run_dir / "config.json").write_text(json.dumps(written))
    with pytest.raises(DQNRefError, match=r"config\.json says gamma=0\.5"):
        dqn_ref.resume(run_dir, total_steps=MORE + 300)

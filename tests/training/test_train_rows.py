"""The train rows of metrics.csv, read back value by value (dqn_ref/training/train.py's
log_episodes): each row's raw return and length count its own episode only, and its loss is the
mean of the updates made since the previous train row. Scripted environments
(tests/scripted_env.py) fix when episodes end; a scripted update returns 1, 2, 3, ... as its loss,
so that every mean can be worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

import dqn_ref.training.train as train_module
from dqn_ref.presets import cartpole
from dqn_ref.training.metrics import read_metrics
from dqn_ref.update import UpdateOutcome
from tests.scripted_env import ScriptedStep, ScriptedVectorEnv

# Copy 0 ends an episode at its 2nd and 5th real steps; copy 1 at its 4th. Each reward is a
# distinct power of two, so that a return shows exactly which steps it summed.
SCRIPTS = [
    [
        ScriptedStep(1.0),
        ScriptedStep(2.0, terminated=True),
        ScriptedStep(4.0),
        ScriptedStep(8.0),
        ScriptedStep(16.0, truncated=True),
    ],
    [
        ScriptedStep(100.0),
        ScriptedStep(200.0),
        ScriptedStep(400.0),
        ScriptedStep(800.0, terminated=True),
    ],
]


def train_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Train on SCRIPTS for 10 agent steps, learning from step 3, one update per agent step; the
    n-th update's loss is n."""
    monkeypatch.setattr(train_module, "make_env", lambda *_: ScriptedVectorEnv(SCRIPTS))
    made: list[int] = []

    def numbered_update(*_: Any) -> Any:
        def update() -> UpdateOutcome:
            made.append(len(made) + 1)
            return UpdateOutcome(torch.tensor(float(made[-1])), torch.tensor(0.0))

        return update

    monkeypatch.setattr(train_module, "make_update", numbered_update)
    config = cartpole.replace(
        num_envs=2,
        n_step=1,
        total_steps=10,
        learning_starts=3,
        train_frequency=1,
        eval_interval=0,
        final_eval_episodes=0,
        tensorboard=False,
        torch_threads=1,
    )
    train_module.train(config, tmp_path / "run", progress=False)
    assert made == list(range(1, 9))  # updates_due(10) = (10 - 3) // 1 + 1
    return [row for row in read_metrics(tmp_path / "run" / "metrics.csv") if row["kind"] == "train"]


def test_each_train_row_counts_its_own_episode_and_the_losses_since_the_previous_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worked out lockstep by lockstep (t: agent steps after it; the loop makes the updates due at
    t, up to t - 3 + 1, after the step; a row takes the losses summed before its step, and the
    step's own losses join the next row):
    - t = 2: no update.
    - t = 4: copy 0's first episode ends: return 1 + 2, length 2, no update before it: loss
      empty. Updates 1, 2.
    - t = 5 (copy 0 autoresets): update 3.
    - t = 7: copy 1's episode ends: return 100 + 200 + 400 + 800, length 4, loss mean(1, 2, 3)
      = 2. Updates 4, 5.
    - t = 8 (copy 1 autoresets): update 6.
    - t = 10: copy 0's second episode ends: return 4 + 8 + 16, length 3, loss mean(4, 5, 6) = 5.
    A loss sum kept across rows would log 7 there, a return kept across episodes 31."""
    rows = train_rows(tmp_path, monkeypatch)
    assert [(int(row["step"]), int(row["episode"])) for row in rows] == [(4, 1), (7, 2), (10, 3)]
    assert [float(row["return"]) for row in rows] == [3.0, 1500.0, 28.0]
    assert [int(row["length"]) for row in rows] == [2, 4, 3]
    assert rows[0]["loss"] == ""
    assert [float(row["loss"]) for row in rows[1:]] == [2.0, 5.0]
    assert not any(math.isnan(float(row["return"])) for row in rows)

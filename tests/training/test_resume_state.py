"""A resumed run against the same run never interrupted, compared on everything its final
checkpoint holds (spec/reliability.md#resume): every field of the loop state
(dqn_ref/loop_state.py), every generator (python's, numpy's and torch's global ones, the
evaluation's, the agent's exploration, the replay sampler's, each environment's), every counter,
the networks, the optimiser, the replay buffer and the environments' state; and metrics.csv row
by row. Evaluations act at an epsilon above 0, so that the evaluation's generator shows. A field
added to any of them later is compared without being listed here (tests/training/resume_state.py).
"""

from __future__ import annotations

import dataclasses
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

import dqn_ref.training.train as train_module
from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.evaluate import evaluate
from dqn_ref.presets import cartpole
from dqn_ref.training.checkpoint import load_checkpoint
from dqn_ref.training.interrupt import TrainingInterruptedError
from dqn_ref.training.metrics import read_metrics
from tests.training.resume_state import (
    GENERATORS,
    StopAt,
    checkpoint_leaves,
    differing,
    groups,
)

REAL_ACT = DQNAgent.act
# Between the evaluations at 100 and 200, where copy 0's episode has just ended (its next step
# is its autoreset), copy 1's goes on, and that step's update waits for the next train row.
STOP_AT = 192


def tiny_run(**changes: Any) -> DQNConfig:
    """The default preset in 400 steps on two copies, learning from step 100 every second step,
    evaluating every 100 steps at epsilon 0.3 (solved at once: a threshold of 1), the replay
    buffer in the checkpoint, checkpoints at evaluations only."""
    tiny = {
        "num_envs": 2,
        "total_steps": 400,
        "learning_starts": 100,
        "buffer_size": 1_000,
        "batch_size": 32,
        "train_frequency": 2,
        "eval_interval": 100,
        "eval_episodes": 2,
        "final_eval_episodes": 2,
        "eval_epsilon": 0.3,
        "solved_threshold": 1.0,
        "stop_when_solved": False,
        "checkpoint_replay": True,
        "checkpoint_minutes": 0.0,
        "tensorboard": False,
    }
    return cartpole.replace(**{**tiny, **changes})


def act_drawing_from_the_global_generators(
    agent: DQNAgent, obs: NDArray[Any], epsilon: float
) -> NDArray[np.int64]:
    """DQNAgent.act, beside a library that draws from python's, numpy's and torch's global
    generators at every step (dqn_ref itself draws from them only to initialise the networks),
    so that their states move during training and a resume must restore them."""
    random.random()
    np.random.random()  # noqa: NPY002 - the legacy global generator is the point
    torch.rand(1)
    return REAL_ACT(agent, obs, epsilon)


class StoppedClock:
    """A process's clock that stands still but for the evaluations, which take EVALUATION_SECONDS
    each: a run's seconds then depend on its evaluations alone, and a resumed run's must continue
    the stopped one's exactly. Each process's clock has its own origin, as perf_counter's does."""

    def __init__(self, origin: float):
        self.now = origin

    def __call__(self) -> float:
        return self.now


EVALUATION_SECONDS = 1_000.0


def whole_and_resumed(
    config: DQNConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[train_module.TrainResult, train_module.TrainResult]:
    """The run never stopped, in tmp_path/whole, and stopped at STOP_AT then resumed, in
    tmp_path/resumed, each train() (resume's included) on a StoppedClock of its own. The
    checkpoint it resumed from is kept as tmp_path/stopped.pt."""
    clocks: list[StoppedClock] = []
    real_train = train_module.train

    def train_on_a_stopped_clock(*args: Any, **kwargs: Any) -> train_module.TrainResult:
        clocks.append(StoppedClock(origin=1e6 * len(clocks)))
        kwargs["clock"] = clocks[-1]
        return real_train(*args, **kwargs)

    def evaluate_taking_a_while(*args: Any) -> Any:
        clocks[-1].now += EVALUATION_SECONDS
        return evaluate(*args)

    monkeypatch.setattr(train_module, "train", train_on_a_stopped_clock)
    monkeypatch.setattr(train_module, "evaluate", evaluate_taking_a_while)
    monkeypatch.setattr(train_module, "plot_curve", lambda *_: None)  # not compared here
    monkeypatch.setattr(DQNAgent, "act", act_drawing_from_the_global_generators)
    whole = train_module.train(config, tmp_path / "whole", progress=False)
    with pytest.raises(TrainingInterruptedError):
        train_module.train(config, tmp_path / "resumed", progress=False, stop=StopAt(STOP_AT))
    shutil.copy(tmp_path / "resumed" / "checkpoint.pt", tmp_path / "stopped.pt")
    resumed = train_module.resume(tmp_path / "resumed", progress=False)
    assert len(clocks) == 3  # resume went through train() on its own clock
    return whole, resumed


def used_differences(tmp_path: Path) -> set[str]:
    """Where the final checkpoints differ, wall-clock fields included (the clocks stood still)."""
    return differing(tmp_path / "whole", tmp_path / "resumed", wall_clock=True)


def rows(run_dir: Path, leave_out: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """metrics.csv, every column but those `leave_out` names."""
    return [
        {key: value for key, value in row.items() if key not in leave_out}
        for row in read_metrics(run_dir / "metrics.csv")
    ]


def result_fields(result: train_module.TrainResult) -> dict[str, Any]:
    return {key: value for key, value in dataclasses.asdict(result).items() if key != "run_dir"}


def test_a_resumed_run_with_its_buffer_and_environments_ends_as_the_whole_run_in_every_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay and environments saved, on CPU: bit-exact. The final checkpoints agree at every
    path, every generator among them, and so do metrics.csv, the evaluations at 200, 300 and 400
    and the final one included, and the result; on clocks that move only in evaluations, the
    seconds too (the resumed run's continue the stopped one's). The run stops where a copy's next
    step is its autoreset and a loss waits for the next row, so that the resetting flags and the
    loss sum must come back too."""
    whole, resumed = whole_and_resumed(tiny_run(), tmp_path, monkeypatch)
    stopped = load_checkpoint(tmp_path / "stopped.pt")["loop"]
    assert stopped["step"] == STOP_AT and stopped["resetting"].tolist() == [True, False]
    assert stopped["losses_since_row"] > 0 and stopped["loss_sum"] != 0
    leaves = checkpoint_leaves(tmp_path / "whole")
    for generator in GENERATORS:
        assert any(path.startswith(generator) for path in leaves), generator
    assert any(path.startswith("envs.") and "np_random" in path for path in leaves)
    assert used_differences(tmp_path) == set()
    assert rows(tmp_path / "resumed") == rows(tmp_path / "whole")
    assert result_fields(resumed) == result_fields(whole)
    assert resumed.wall_time_s == 4 * EVALUATION_SECONDS  # the evaluations at 100 to 400
    assert resumed.first_solved_time_s == EVALUATION_SECONDS


def test_a_resume_without_the_buffer_differs_only_in_what_the_refill_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """spec/reliability.md#resume, the replay buffer not saved: the buffer refills and the updates
    due meanwhile are skipped, so the buffer, the networks, the optimiser, the loss and the count
    of skipped updates differ from the whole run's. Every action random, in training and in the
    evaluations (epsilon 1), keeps the environments' paths apart from learning: everything else
    must agree: every other field of the loop state, its seconds included (on clocks that move
    only in evaluations), the episodes, every generator saved (the buffer, its sampler with it, is
    in neither checkpoint) and metrics.csv, its loss column aside."""
    config = tiny_run(checkpoint_replay=False, epsilon_start=1.0, epsilon_end=1.0, eval_epsilon=1.0)
    whole, resumed = whole_and_resumed(config, tmp_path, monkeypatch)
    assert groups(used_differences(tmp_path)) == {
        "agent.online_net",
        "agent.target_net",
        "agent.optimizer",
        "loop.loss_sum",
        "loop.updates_skipped",
    }
    assert rows(tmp_path / "resumed", ("loss",)) == rows(tmp_path / "whole", ("loss",))
    assert resumed.updates == whole.updates and resumed.updates_skipped > 0
    assert (resumed.steps, resumed.episodes) == (whole.steps, whole.episodes)

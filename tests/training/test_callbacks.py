"""Callbacks (dqn_ref/training/callbacks.py) through dqn_ref.train: the hooks see what
metrics.csv records, a hook stops the run and the run ends as any run does, and KeepBestPolicy
keeps the best evaluation's network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dqn_ref
from dqn_ref.errors import DQNRefError
from dqn_ref.training.checkpoint import load_checkpoint
from dqn_ref.training.metrics import read_metrics

OBSERVATIONS = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)


def config(**changes: Any) -> dqn_ref.DQNConfig:
    tiny = {
        "num_envs": 2,
        "total_steps": 900,
        "learning_starts": 100,
        "buffer_size": 1_000,
        "eval_interval": 150,
        "eval_episodes": 2,
        "final_eval_episodes": 2,
        "stop_when_solved": False,
        "tensorboard": False,
    }
    return dqn_ref.get_preset("cartpole").replace(**{**tiny, **changes})


class Recorder(dqn_ref.Callback):
    """Records every call; stops at the first episode or evaluation `stop_when` accepts, and
    notes the live policy's Q-values on fixed observations at each evaluation."""

    def __init__(self, stop_episode: int | None = None, stop_evaluation: int | None = None):
        self.episodes: list[dqn_ref.EpisodeEnd] = []
        self.evaluations: list[dqn_ref.EvaluationEnd] = []
        self.q_values: dict[int, np.ndarray] = {}
        self.stop_episode, self.stop_evaluation = stop_episode, stop_evaluation

    def on_episode_end(self, episode: dqn_ref.EpisodeEnd) -> bool | None:
        self.episodes.append(episode)
        return None if self.stop_episode is None or episode.episode < self.stop_episode else False

    def on_evaluation_end(self, evaluation: dqn_ref.EvaluationEnd) -> bool | None:
        self.evaluations.append(evaluation)
        self.q_values[evaluation.step] = evaluation.policy.q_values(OBSERVATIONS)
        # True, like None, goes on: only False stops.
        return self.stop_evaluation is None or len(self.evaluations) < self.stop_evaluation


def test_the_hooks_see_each_episode_and_evaluation_that_metrics_csv_records(
    tmp_path: Path,
) -> None:
    """With 8 copies, several episodes end in some lockstep steps: each gets its own number."""
    recorder = Recorder()
    dqn_ref.train(config(num_envs=8), tmp_path / "run", verbose=0, callbacks=[recorder])
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    train_rows = [row for row in rows if row["kind"] == "train"]
    assert [(e.step, e.episode, e.episode_return, e.length) for e in recorder.episodes] == [
        (int(row["step"]), int(row["episode"]), float(row["return"]), int(row["length"]))
        for row in train_rows
    ]
    assert [e.epsilon for e in recorder.episodes] == pytest.approx(
        [float(row["epsilon"]) for row in train_rows], abs=1e-5  # metrics.csv's rounding
    )
    eval_rows = [row for row in rows if row["kind"] == "eval"]
    assert len(eval_rows) == 6  # steps 150, 300, ..., 900
    assert [(e.step, e.summary.mean) for e in recorder.evaluations] == [
        (int(row["step"]), float(row["return"])) for row in eval_rows
    ]


@pytest.mark.parametrize(
    ("recorder", "ends_with"),
    [(Recorder(stop_episode=7), "episode"), (Recorder(stop_evaluation=2), "evaluation")],
)
def test_a_hook_that_returns_false_ends_the_run_as_any_run_ends(
    tmp_path: Path, recorder: Recorder, ends_with: str
) -> None:
    """Stopped after the step of the 7th episode, or of the 2nd evaluation (step 300): the final
    checkpoint at that step, the final evaluation, summary.json, and nothing after it."""
    result = dqn_ref.train(config(), tmp_path / "run", verbose=0, callbacks=[recorder])
    if ends_with == "episode":
        stopped_at = next(e.step for e in recorder.episodes if e.episode >= 7)
        assert recorder.episodes[-1].step == stopped_at
    else:
        stopped_at = recorder.evaluations[1].step
        assert len(recorder.evaluations) == 2 and stopped_at == 300
    assert result.steps == stopped_at < 900
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["counters"]["step"] == stopped_at
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    assert rows[-1]["kind"] == "final" and int(rows[-1]["step"]) == stopped_at
    assert max(int(row["step"]) for row in rows) == stopped_at
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == stopped_at and summary["final_eval"] is not None


def test_keep_best_policy_keeps_the_best_evaluations_network(tmp_path: Path) -> None:
    """The file holds the network as it was at the evaluation with the highest mean (the first
    such), not the last one."""
    recorder = Recorder()
    best = dqn_ref.KeepBestPolicy(tmp_path / "best.pt")
    dqn_ref.train(config(), tmp_path / "run", verbose=0, callbacks=[recorder, best])
    means = [e.summary.mean for e in recorder.evaluations]
    best_index = int(np.argmax(means))
    assert best.best_mean == means[best_index]
    assert best.best_step == recorder.evaluations[best_index].step
    policy = dqn_ref.load_policy(tmp_path / "best.pt", device="cpu")
    kept = recorder.q_values[best.best_step]
    np.testing.assert_array_equal(policy.q_values(OBSERVATIONS), kept)
    # The run changed the network after its best evaluation, so that the check above can fail.
    assert best_index < len(means) - 1
    assert not np.array_equal(recorder.q_values[recorder.evaluations[-1].step], kept)


def test_a_callback_that_is_not_one_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(DQNRefError, match=r"take dqn_ref\.Callback objects, not int"):
        dqn_ref.train(config(), tmp_path / "run", callbacks=[42])  # type: ignore[list-item]
    assert not (tmp_path / "run").exists()

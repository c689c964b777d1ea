"""Callbacks: a user's code called by a run at each episode's end and each evaluation's end,
which can stop the run; and KeepBestPolicy, which keeps the best evaluation's network.

`dqn_ref.train(..., callbacks=[...])` and `dqn_ref.resume(..., callbacks=[...])` take them. A
hook that returns False stops training after the current lockstep step; the run then ends as
any run does (the final checkpoint, the final evaluation, the curve and summary.json), as
Stable-Baselines3's callbacks stop `learn`. Any other return value (None included) goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dqn_ref.errors import DQNRefError
from dqn_ref.evaluate import EvalSummary
from dqn_ref.training.policy import Policy


@dataclass(frozen=True)
class EpisodeEnd:
    """A training episode that just ended: what its metrics.csv row holds."""

    step: int  # agent steps taken by the run so far
    episode: int  # the run's count of ended episodes, this one included
    episode_return: float  # the raw (unclipped) return
    length: int  # agent steps
    epsilon: float  # the exploration rate of the step that ended it


@dataclass(frozen=True)
class EvaluationEnd:
    """An evaluation during training that just ended (spec/evaluation.md), and the policy it
    evaluated: the run's live online network, which training goes on changing; save_policy
    writes it as it is now."""

    step: int
    episode: int
    summary: EvalSummary
    policy: Policy


class Callback:
    """Override either hook; return False from it to stop training."""

    def on_episode_end(self, episode: EpisodeEnd) -> bool | None:
        return None

    def on_evaluation_end(self, evaluation: EvaluationEnd) -> bool | None:
        return None


class KeepBestPolicy(Callback):
    """Write the policy of the best evaluation so far to `path` (Policy.save_policy's one file),
    after each evaluation whose mean beats every earlier one; dqn_ref.load_policy(path) reads
    it. `best_mean` and `best_step` say which it is."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.best_mean: float | None = None
        self.best_step: int | None = None

    def on_evaluation_end(self, evaluation: EvaluationEnd) -> bool | None:
        if self.best_mean is None or evaluation.summary.mean > self.best_mean:
            self.best_mean, self.best_step = evaluation.summary.mean, evaluation.step
            evaluation.policy.save_policy(self.path)
        return None


class Callbacks:
    """The callbacks of one run, called in the order given; `stop_requested` once any returned
    False."""

    def __init__(self, callbacks: Sequence[Callback]):
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise DQNRefError(
                    f"callbacks take dqn_ref.Callback objects, not {type(callback).__name__}; "
                    "subclass dqn_ref.Callback and override on_episode_end or on_evaluation_end"
                )
        self.callbacks = list(callbacks)
        self.stop_requested = False

    def episode_end(self, episode: EpisodeEnd) -> None:
        for callback in self.callbacks:
            if callback.on_episode_end(episode) is False:
                self.stop_requested = True

    def evaluation_end(self, evaluation: EvaluationEnd) -> None:
        for callback in self.callbacks:
            if callback.on_evaluation_end(evaluation) is False:
                self.stop_requested = True

"""LoopState: everything the training loop carries from one iteration to the next.

The DQN loop (dqn_ref/loop.py) advances obs, resetting, step, episode, updates_done and
syncs_done; the run around it (dqn_ref/training/train.py) keeps the rest: the episodes in
progress and the learning-curve bookkeeping. All of it lives in one object, so that a checkpoint
saves it whole and a resumed run continues from exactly where the interrupted one stopped
(spec/reliability.md#resume).
The networks, the optimiser, the replay buffer, the environments and the random generators are
saved beside it by dqn_ref/training/checkpoint.py.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

RECENT_EPISODES = 10  # training episodes averaged in the progress bar
ARRAY_FIELDS = ("obs", "episode_return", "episode_length", "resetting")


@dataclass
class LoopState:
    """The training loop's state between two iterations; units as in spec/algorithm.md#units."""

    obs: NDArray[Any]  # the observation each env copy acts on next, (num_envs, *obs_shape)
    episode_return: NDArray[np.float64]  # raw return of each copy's episode so far, (num_envs,)
    episode_length: NDArray[np.int64]  # agent steps of each copy's episode so far, (num_envs,)
    resetting: NDArray[np.bool_]  # this copy's next step is its autoreset, (num_envs,)
    loss_sum: torch.Tensor  # TD losses summed since the last train row, on the learner's device
    losses_since_row: int = 0  # updates summed in loss_sum
    step: int = 0  # agent steps taken (t)
    episode: int = 0  # training episodes ended
    updates_done: int = 0  # updates counted by Alg. step 7, made or skipped on a resume
    updates_skipped: int = 0  # of updates_done, those skipped while a resumed buffer refilled
    syncs_done: int = 0  # target-network syncs (Alg. step 8)
    next_eval_step: int = 0  # the agent step at or after which the next evaluation runs
    eval_time_s: float = 0.0  # wall-clock seconds spent in evaluations during training
    elapsed_s: float = 0.0  # wall-clock seconds of training up to the last checkpoint
    first_solved: tuple[int, float, float] | None = None  # step, seconds, seconds less evaluation
    recent_returns: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_EPISODES))

    @classmethod
    def start(cls, obs: NDArray[Any], device: torch.device, eval_interval: int) -> LoopState:
        """The state before the first step, with the environments' first observations."""
        num_envs = len(obs)
        return cls(
            obs=obs,
            episode_return=np.zeros(num_envs),
            episode_length=np.zeros(num_envs, dtype=np.int64),
            resetting=np.zeros(num_envs, dtype=bool),
            loss_sum=torch.zeros((), device=device),
            next_eval_step=eval_interval,
        )

    def state_dict(self) -> dict[str, Any]:
        """Every field, as types torch.load(weights_only=True) reads back (tensors, not arrays)."""
        state: dict[str, Any] = {
            item.name: getattr(self, item.name) for item in dataclasses.fields(self)
        }
        for name in ARRAY_FIELDS:
            state[name] = torch.from_numpy(np.array(state[name]))
        state["loss_sum"] = self.loss_sum.detach().cpu()
        state["recent_returns"] = list(self.recent_returns)
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: torch.device) -> LoopState:
        fields = dict(state)
        # Written by earlier versions; restore_run now skips those updates up front.
        fields.pop("learning_paused_until", None)
        for name in ARRAY_FIELDS:
            fields[name] = fields[name].numpy()
        fields["loss_sum"] = fields["loss_sum"].to(device)
        fields["recent_returns"] = deque(fields["recent_returns"], maxlen=RECENT_EPISODES)
        if fields["first_solved"] is not None:
            fields["first_solved"] = tuple(fields["first_solved"])
        return cls(**fields)

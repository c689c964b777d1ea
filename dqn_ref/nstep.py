"""n-step returns: the rewards of up to n agent steps summed before the target bootstraps."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray


class NStepReturn(NamedTuple):
    """What eq-nstep gives for a batch of first transitions, (B,) each."""

    reward: NDArray[np.float32]  # R = sum_{j<k} gamma^j r_{t+j}
    steps: NDArray[np.int64]  # k: the bootstrap is discounted by gamma^k and taken at s_{t+k}
    terminated: NDArray[np.bool_]  # s_{t+k} is terminal: no bootstrap
    complete: NDArray[np.bool_]  # False: the episode goes on past the stored transitions


def nstep_return(
    reward: NDArray[np.floating],
    terminated: NDArray[np.bool_],
    episode_end: NDArray[np.bool_],
    stored: NDArray[np.bool_],
    gamma: float,
) -> NStepReturn:
    """R^(k) = sum_{j<k} gamma^j r_{t+j}, with k the first of n steps, or the step that ends the
    episode, whichever comes first.

    Implements: spec/bellman.md#eq-nstep

    Each argument is (B, n): column j describes transition t + j of the same episode's stream
    (the j-th successor of the sampled transition t), valid where `stored` is True. episode_end is
    the game's end (truncated, or terminated at its last life). A termination inside the n steps,
    a lost life included, ends the sum and the bootstrap; a
    truncation ends the sum but the target still bootstraps, from the true last observation. A
    transition whose n steps are not all stored yet, with no episode end among them, is not
    complete: its return would change as the episode goes on, so it is not sampled.
    """
    batch, n = reward.shape
    stored = np.logical_and.accumulate(stored, axis=1)  # a chain ends at its first gap
    total = np.zeros(batch, dtype=np.float64)
    steps = np.zeros(batch, dtype=np.int64)
    ended = np.zeros(batch, dtype=bool)
    terminal = np.zeros(batch, dtype=bool)
    discount = 1.0
    for j in range(n):
        counts = ~ended & stored[:, j]
        total += np.where(counts, discount * reward[:, j], 0.0)
        steps += counts
        terminal |= counts & terminated[:, j]
        # A termination ends the sum even when the episode goes on: a lost life with lives left
        # (terminal_on_life_loss) is terminal for the target, not an episode end.
        ended |= counts & (episode_end[:, j] | terminated[:, j])
        discount *= gamma
    complete = ended | (steps == n)
    return NStepReturn(total.astype(np.float32), steps, terminal, complete)


# n-step sampling redraws incomplete transitions; after this many rounds of redraws in one sample
# it checks, once, that a complete one exists at all (an O(capacity) check, rarely reached).
REDRAW_ROUNDS_BEFORE_CHECK = 64


def nstep_sampling_error(held: int, n_step: int) -> str:
    """Why an n-step sample cannot be drawn: no held transition is complete (eq-nstep)."""
    return (
        f"cannot sample {n_step}-step transitions: none of the {held} held has its {n_step} steps "
        "stored or an episode end sooner; store more transitions before sampling"
    )


class TransitionLinks:
    """Which row of a ring buffer holds each transition's successor in its copy's episode.

    For a buffer whose rows are written in insertion order by several environment copies in turn
    (ReplayBuffer): transition i lives in row i mod capacity, and its successor (the same copy's
    next transition, if the episode went on) is recorded when that transition is added. A link to
    a transition that has since been overwritten is detected by the id kept in each row.
    """

    BYTES_PER_ROW = 8 + 8 + 4 + 1 + 1  # transition_id, successor_id, reward, terminated, end

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.transition_id = np.full(capacity, -1, dtype=np.int64)  # id held in each row
        self.successor_id = np.full(capacity, -1, dtype=np.int64)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=bool)
        self.episode_end = np.zeros(capacity, dtype=bool)
        self.open_episode_id = np.full(0, -1, dtype=np.int64)  # per copy: its latest transition
        self.added = 0

    def record(
        self,
        env_ids: NDArray[np.int64],
        reward: NDArray[np.floating],
        terminated: NDArray[np.bool_],
        episode_end: NDArray[np.bool_],
    ) -> None:
        """Note the len(env_ids) transitions just added, in order, one per listed copy."""
        if env_ids.size and env_ids.max() >= len(self.open_episode_id):
            grown = np.full(env_ids.max() + 1, -1, dtype=np.int64)
            grown[: len(self.open_episode_id)] = self.open_episode_id
            self.open_episode_id = grown
        ids = self.added + np.arange(len(env_ids))
        rows = ids % self.capacity
        previous = self.open_episode_id[env_ids]
        linked = previous >= 0
        self.successor_id[previous[linked] % self.capacity] = ids[linked]
        self.transition_id[rows] = ids
        self.successor_id[rows] = -1
        self.reward[rows] = reward
        self.terminated[rows] = terminated
        self.episode_end[rows] = episode_end
        self.open_episode_id[env_ids] = np.where(episode_end, -1, ids)
        self.added += len(env_ids)

    def chains(
        self, rows: NDArray[np.int64], n: int
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Rows (B, n) of each sampled transition and its n - 1 successors, and which are stored."""
        chain_rows = np.zeros((len(rows), n), dtype=np.int64)
        stored = np.zeros((len(rows), n), dtype=bool)
        ids = self.transition_id[rows]
        for j in range(n):
            current = np.where(ids >= 0, ids, 0) % self.capacity
            stored[:, j] = (ids >= 0) & (self.transition_id[current] == ids)
            chain_rows[:, j] = current
            ids = np.where(stored[:, j], self.successor_id[current], -1)
        return chain_rows, stored

    def end_episodes(self) -> None:
        """Link nothing to the transitions added so far (the envs were reset outside the loop)."""
        self.open_episode_id[:] = -1

    LINK_ARRAYS = ("transition_id", "successor_id", "reward", "terminated", "episode_end")

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            name: torch.from_numpy(getattr(self, name).copy())
            for name in (*self.LINK_ARRAYS, "open_episode_id")
        }
        state["added"] = self.added
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self.LINK_ARRAYS:
            getattr(self, name)[...] = state[name].numpy()
        self.open_episode_id = state["open_episode_id"].numpy().copy()
        self.added = state["added"]

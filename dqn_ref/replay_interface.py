"""Replay: what the loop and a checkpoint ask of a replay buffer, whichever stores the frames.

dqn_ref/replay.py (one row per transition) and dqn_ref/frame_replay.py (every Atari frame once)
both implement it. Both draw their samples from a numpy Generator on the host, so a saved sampler
state restores on any device.
"""

from __future__ import annotations

from typing import Any, Protocol

from numpy.typing import ArrayLike

from dqn_ref.batch import Batch


class Replay(Protocol):
    """A replay buffer of transitions, stored by add and drawn uniformly by sample."""

    capacity: int  # transitions held at most

    @property
    def nbytes(self) -> int:
        """Bytes the storage takes, all of it allocated up front."""
        ...

    def __len__(self) -> int:
        """Transitions that can be sampled now."""
        ...

    def add(
        self,
        obs: ArrayLike,
        action: ArrayLike,
        reward: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
        *,
        episode_end: ArrayLike,
        env_ids: ArrayLike | None = None,
    ) -> None:
        """Store one transition per environment copy in env_ids (default: every copy), each
        field leading (n, ...). episode_end (terminated or truncated) says the copy's next
        transition starts a new episode."""
        ...

    def sample(self, batch_size: int) -> Batch:
        """batch_size transitions drawn uniformly, with replacement (eq-replay-uniform)."""
        ...

    def end_episodes(self) -> None:
        """No later transition continues an episode stored so far."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything stored and the sampler's state, as torch.load(weights_only=True) reads."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refill from state_dict()'s output."""
        ...

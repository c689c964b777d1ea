"""A CartPole-shaped replay buffer filled with random transitions, for timing updates alone."""

from __future__ import annotations

import numpy as np
import torch

from dqn_ref.replay import ReplayBuffer


def random_replay(count: int = 10_000, device: torch.device | str = "cpu") -> ReplayBuffer:
    """count random CartPole-shaped transitions (obs (4,), 2 actions, about 5% terminal); what an
    update computes does not depend on the values, only on the sizes."""
    buffer = ReplayBuffer(count, (4,), np.float32, device)
    rng = np.random.default_rng(0)
    terminated = rng.random(count) < 0.05
    buffer.add(
        rng.normal(size=(count, 4)).astype(np.float32),
        rng.integers(0, 2, count),
        np.ones(count, np.float32),
        rng.normal(size=(count, 4)).astype(np.float32),
        terminated,
        episode_end=terminated,
    )
    return buffer

"""Evaluation: the return of whole episodes played by a fixed Q-network (spec/evaluation.md)."""

from __future__ import annotations

import numpy as np
import torch
from gymnasium.vector import VectorEnv
from numpy.typing import NDArray
from torch import nn

from dqn_ref.agent import epsilon_greedy


def evaluate(
    q_network: nn.Module,
    envs: VectorEnv,
    epsilon: float,
    generator: torch.Generator,
    device: torch.device,
    seed: int | None = None,
) -> NDArray[np.float64]:
    """Play exactly one episode in each copy of `envs` and return their undiscounted raw returns.

    Actions follow eq-eps-greedy with `epsilon` (0 is greedy). Rewards are summed unclipped, and an
    episode ends at termination or truncation (CartPole-v1's 500-step limit). The copies run in
    lockstep, so one forward pass serves every episode; a copy whose episode ended keeps stepping
    until the others finish, but what it collects is discarded.
    """
    obs, _ = envs.reset(seed=seed)
    num_envs = envs.num_envs
    returns = np.zeros(num_envs)
    finished = np.zeros(num_envs, dtype=bool)
    while not finished.all():
        with torch.inference_mode():
            q_values = q_network(torch.as_tensor(obs, device=device))
            actions = epsilon_greedy(q_values, epsilon, generator).cpu().numpy()
        obs, reward, terminated, truncated, _ = envs.step(actions)
        returns += np.where(finished, 0.0, reward)
        finished |= terminated | truncated
    return returns

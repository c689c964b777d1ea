"""Evaluation: the return of whole episodes played by a fixed Q-network (spec/evaluation.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from gymnasium.vector import VectorEnv
from numpy.typing import NDArray
from torch import nn

from dqn_ref.agent import epsilon_greedy
from dqn_ref.config import DQNConfig
from dqn_ref.env_source import env_kwargs_of
from dqn_ref.envs import atari_options, make_env

# Evaluation environments draw from seed ranges disjoint from training's (seed, seed + 1, ...), so
# that no evaluation episode replays a training episode's start state: seed + EVAL_SEED_OFFSET for
# the evaluations during training, seed + 2 * EVAL_SEED_OFFSET for the final one.
EVAL_SEED_OFFSET = 1_000_003


@dataclass(frozen=True)
class EvalSummary:
    """Mean, spread and count of one evaluation's episode returns."""

    mean: float
    std: float
    min: float
    max: float
    episodes: int

    @classmethod
    def of(cls, returns: np.ndarray) -> EvalSummary:
        return cls(
            float(returns.mean()),
            float(returns.std()),
            float(returns.min()),
            float(returns.max()),
            len(returns),
        )


def evaluation_envs(config: DQNConfig, final: bool) -> VectorEnv:
    """One environment copy per evaluation episode, seeded as spec/evaluation.md says: the
    evaluations during training (final=False) or the final evaluation (final=True)."""
    episodes = config.final_eval_episodes if final else config.eval_episodes
    time_limit = config.eval_max_episode_steps or config.max_episode_steps
    envs = make_env(
        config.env_id,
        episodes,
        time_limit,
        atari_options(config, training=False),
        env_kwargs_of(config.env_kwargs),
    )
    envs.reset(seed=config.seed + (2 if final else 1) * EVAL_SEED_OFFSET)
    return envs


def final_evaluation_generator(config: DQNConfig, device: torch.device) -> torch.Generator:
    """The exploration generator of a final evaluation, seeded afresh (seed + 2 x
    EVAL_SEED_OFFSET), so that `eval RUN_DIR` draws the same actions the run's own final
    evaluation drew, at any eval_epsilon."""
    generator = torch.Generator(device=device)
    generator.manual_seed(config.seed + 2 * EVAL_SEED_OFFSET)
    return generator


def evaluate(
    q_network: nn.Module,
    envs: VectorEnv,
    epsilon: float,
    generator: torch.Generator,
    device: torch.device,
) -> NDArray[np.float64]:
    """Play exactly one episode in each copy of `envs` and return their undiscounted raw returns.

    Actions follow eq-eps-greedy with `epsilon` (0 is greedy). Rewards are summed unclipped, and an
    episode ends at termination or truncation (CartPole-v1's 500-step limit). The copies run in
    lockstep, so one forward pass serves every episode; a copy whose episode ended keeps stepping
    until the others finish, but what it collects is discarded. Each call resets `envs` without a
    seed, so successive evaluations continue the seeded streams and start from new states.
    """
    obs, _ = envs.reset()
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

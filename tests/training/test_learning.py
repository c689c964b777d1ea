"""Learning itself: a few thousand agent steps of the default preset beat the untrained network by
a clear margin on the real CartPole-v1, in every one of three seeds."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import torch

from dqn_ref.agent import DQNAgent
from dqn_ref.evaluate import evaluate, evaluation_envs
from dqn_ref.presets import cartpole
from dqn_ref.schedule import learning_rate_at
from dqn_ref.training.train import train

SEEDS = (0, 1, 2)
STEPS = 5_000
EPISODES = 20


def untrained_greedy_mean(seed: int) -> float:
    """The greedy return of the same preset's network before any update, on the same eval seeds."""
    torch.manual_seed(seed)
    agent = DQNAgent(cartpole.replace(seed=seed), (4,), 2, torch.device("cpu"))
    envs = evaluation_envs(cartpole.replace(seed=seed, final_eval_episodes=EPISODES), final=True)
    returns = evaluate(agent.online_net, envs, 0.0, torch.Generator(), torch.device("cpu"))
    return float(returns.mean())


@pytest.mark.slow
def test_default_preset_learns_cartpole_within_5000_steps(tmp_path: Path) -> None:
    """After 5,000 agent steps (1,001 updates) the greedy mean over 20 episodes beats the same
    network before training by at least 50 in every seed, and the median over seeds is >= 150.
    An untrained network scores 9-13 here; measured after training on this project's CPU machines:
    seeds 0-2 score 218, 125 and 198."""
    # The first 5,000 steps of a default run: the learning rate follows the 50,000-step run's
    # eq-lr-linear line, not one that reaches its end at 5,000.
    config = cartpole.replace(
        total_steps=STEPS,
        learning_rate_end=learning_rate_at(cartpole, STEPS),
        eval_interval=0,
        final_eval_episodes=EPISODES,
    )
    trained = []
    for seed in SEEDS:
        result = train(config.replace(seed=seed), tmp_path / f"s{seed}", progress=False)
        assert result.final_eval is not None
        before = untrained_greedy_mean(seed)
        assert result.final_eval.mean >= before + 50, (seed, before, result.final_eval.mean)
        trained.append(result.final_eval.mean)
    assert statistics.median(trained) >= 150, trained

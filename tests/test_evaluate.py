"""dqn_ref/evaluate.py on scripted episodes whose returns are known in advance."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dqn_ref.evaluate import evaluate
from tests.scripted_env import ScriptedStep, ScriptedVectorEnv


class PreferAction(nn.Module):
    """Q-values that make `action` greedy whatever the observation."""

    def __init__(self, action: int):
        super().__init__()
        self.action = action

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        q_values = torch.zeros(len(obs), 2)
        q_values[:, self.action] = 1.0
        return q_values


def test_an_evaluation_sums_each_copys_first_episode_and_nothing_after() -> None:
    """spec/evaluation.md: one episode per copy, its raw rewards summed (3 + 2 + 1.5 = 6.5, never
    clipped), ended by termination or truncation (copy 1: 10 then truncated); what a copy collects
    after its episode ended, while the others finish, is discarded (the 100s)."""
    envs = ScriptedVectorEnv(
        [
            [ScriptedStep(3.0), ScriptedStep(2.0), ScriptedStep(1.5, terminated=True)],
            [ScriptedStep(10.0, truncated=True), ScriptedStep(100.0), ScriptedStep(100.0)],
        ]
    )
    returns = evaluate(PreferAction(1), envs, 0.0, torch.Generator(), torch.device("cpu"))
    assert returns.tolist() == [6.5, 10.0]
    assert len(envs.actions) == 3  # stepped until the longest episode ended


def test_an_evaluation_acts_with_its_epsilon() -> None:
    """eq-eps-greedy with the evaluation's epsilon: at 0 every action is the greedy one, at 1
    about half of them (two actions) are the other."""
    long_episode = [[ScriptedStep(1.0)] * 199 + [ScriptedStep(1.0, terminated=True)]]
    greedy = ScriptedVectorEnv(long_episode)
    evaluate(PreferAction(1), greedy, 0.0, torch.Generator(), torch.device("cpu"))
    assert all(int(actions[0]) == 1 for actions in greedy.actions)
    random = ScriptedVectorEnv(long_episode)
    evaluate(PreferAction(1), random, 1.0, torch.Generator().manual_seed(0), torch.device("cpu"))
    share = np.mean([int(actions[0]) == 0 for actions in random.actions])
    assert 0.35 < share < 0.65

"""start_step against step (spec/algorithm.md#overlapped-stepping): stepping in two halves gives
what one step gives, for ale-py's Atari vector env, gymnasium's async one, and the rest."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv

from dqn_ref.envs import make_env
from dqn_ref.overlapped_envs import StepResult, start_step
from tests.scripted_env import ScriptedStep, ScriptedVectorEnv


def assert_same_step(expected: StepResult, actual: StepResult) -> None:
    for expected_array, actual_array in zip(expected[:4], actual[:4], strict=True):
        assert np.array_equal(expected_array, actual_array)


def play(envs: Any, actions: np.ndarray, halves: bool) -> list[StepResult]:
    results = []
    for step_actions in actions:
        results.append(start_step(envs, step_actions)() if halves else envs.step(step_actions))
    return results


@pytest.mark.parametrize("kind", ["atari", "async", "scripted"])
def test_starting_then_finishing_a_step_returns_what_step_returns(kind: str) -> None:
    """Overlapped stepping P4: the same seeds and actions give the same observations, rewards,
    terminations and truncations, step by step, through start_step as through step; Pong's
    copies run the emulators on ale-py's threads, one per core up to one per copy."""

    def build() -> Any:
        if kind == "atari":
            return make_env("ALE/Pong-v5", 2)
        if kind == "async":
            return AsyncVectorEnv([lambda: gym.make("CartPole-v1")] * 2)
        return ScriptedVectorEnv([[ScriptedStep(1.0, terminated=True)] * 3] * 2)

    num_actions = 6 if kind == "atari" else 2  # Pong's paddle moves with actions 2 to 5
    actions = np.random.default_rng(0).integers(0, num_actions, (60, 2))
    results = []
    for halves in (False, True):
        envs = build()
        envs.reset(seed=3)
        results.append(play(envs, actions, halves))
        envs.close()
    for expected, actual in zip(*results, strict=True):
        assert_same_step(expected, actual)

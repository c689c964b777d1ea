"""A vector environment whose every reward, termination, truncation and life count is scripted,
for driving the DQN loop (dqn_ref/loop.py) and the evaluation step by step.

Each copy plays its script, one ScriptedStep per real step, with gymnasium's next-step autoreset:
the step after a copy's episode ends ignores the action and returns the reset observation with
reward 0. Observations are (copy, clock), where clock counts the copy's steps, autoreset steps
included, so a stored observation says which copy and which step it came from.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

NUM_ACTIONS = 2


class ScriptedStep(NamedTuple):
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    lives: int = 0  # lives left after the step; with lives > 0 a termination is a lost life


class ScriptedVectorEnv(VectorEnv):
    """Copies that play their scripts; past its end a copy takes steps of reward 0 that never end.

    With `report_lives`, info["lives"] holds each copy's lives, as ale-py's vector env reports
    them, and an episode (the game) ends at truncation or at a termination with no lives left.
    """

    def __init__(self, scripts: list[list[ScriptedStep]], report_lives: bool = False):
        self.num_envs = len(scripts)
        self.scripts = scripts
        self.report_lives = report_lives
        self.single_observation_space = spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.single_action_space = spaces.Discrete(NUM_ACTIONS)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.position = np.zeros(self.num_envs, dtype=np.int64)  # next script entry per copy
        self.clock = np.zeros(self.num_envs, dtype=np.int64)
        self.resetting = np.zeros(self.num_envs, dtype=bool)
        self.actions: list[NDArray[np.int64]] = []  # every action array the env was given

    def observations(self) -> NDArray[np.float32]:
        return np.stack([np.arange(self.num_envs), self.clock], axis=1).astype(np.float32)

    def reset(
        self, *, seed: Any = None, options: Any = None
    ) -> tuple[NDArray[Any], dict[str, Any]]:
        self.position[:] = 0
        self.clock[:] = 0
        self.resetting[:] = False
        return self.observations(), {}

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        self.actions.append(np.asarray(actions).copy())
        reward = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        lives = np.zeros(self.num_envs, dtype=np.int64)
        for copy in range(self.num_envs):
            self.clock[copy] += 1
            if self.resetting[copy]:
                self.resetting[copy] = False
                continue
            script = self.scripts[copy]
            entry = (
                script[self.position[copy]] if self.position[copy] < len(script) else ScriptedStep()
            )
            self.position[copy] += 1
            reward[copy], terminated[copy], truncated[copy] = entry[:3]
            lives[copy] = entry.lives
            game_over = entry.truncated or (entry.terminated and entry.lives == 0)
            self.resetting[copy] = game_over if self.report_lives else entry[1] or entry[2]
        info = {"lives": lives} if self.report_lives else {}
        return self.observations(), reward, terminated, truncated, info

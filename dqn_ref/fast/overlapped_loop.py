"""The DQN loop with its updates made while the environments step: a speed-up for Atari.

ale-py's AtariVectorEnv runs its emulators on its own C++ threads between `send(actions)` and
`recv()` (its `step` is exactly the two in a row); gymnasium's AsyncVectorEnv does the same with
`step_async` and `step_wait`. The overlapped loop starts a step, makes the updates that are due, and
then collects the step's result (spec/algorithm.md#overlapped-stepping). It is dqn_ref.loop's
dqn_loop itself, handed an environment whose `step` does that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AsyncVectorEnv, VectorEnv
from numpy.typing import NDArray

from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.loop import LoopReport, dqn_loop, learn
from dqn_ref.loop_state import LoopState
from dqn_ref.replay_interface import Replay
from dqn_ref.update import UpdateOutcome

StepResult = tuple[NDArray[Any], NDArray[Any], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]


def start_step(envs: VectorEnv, actions: NDArray[np.int64]) -> Callable[[], StepResult]:
    """Start stepping every copy with `actions`; the returned function waits for the result,
    which is what `envs.step(actions)` returns.

    An environment that cannot step in the background (a SyncVectorEnv, CartPole's native vector
    env) steps here, before this returns: the same result, without the overlap.
    """
    if isinstance(envs, AtariVectorEnv):
        envs.send(actions)
        return envs.recv
    if isinstance(envs, AsyncVectorEnv):
        envs.step_async(actions)
        return envs.step_wait
    result = envs.step(actions)
    return lambda: result


class OverlappedSteps:
    """A vector environment whose `step` makes Alg. step 7's updates while the copies step.

    `step(actions)` starts the copies stepping, makes the updates that will be due once this
    step's real transitions are counted (the rule of dqn_ref.loop.learn, at that step's rate),
    then waits for the result. The plain loop's own `learn` after storing then finds none due.
    """

    def __init__(
        self,
        envs: VectorEnv,
        config: DQNConfig,
        agent: DQNAgent,
        state: LoopState,
        update: Callable[[], UpdateOutcome],
    ):
        self.envs, self.config, self.agent, self.state, self.update = (
            envs, config, agent, state, update
        )  # fmt: skip
        self.made: list[UpdateOutcome] = []  # the updates made during the last step

    def step(self, actions: NDArray[np.int64]) -> StepResult:
        real_steps = int((~self.state.resetting).sum())
        finish_step = start_step(self.envs, actions)
        self.made = learn(self.config, self.agent, self.state, self.state.step + real_steps,
                          self.update)  # fmt: skip
        return finish_step()


def overlapped_dqn_loop(
    config: DQNConfig,
    agent: DQNAgent,
    envs: VectorEnv,
    replay: Replay,
    state: LoopState,
    update: Callable[[], UpdateOutcome],
) -> Iterator[LoopReport]:
    """dqn_loop with each lockstep step's updates made while the copies step
    (spec/algorithm.md#overlapped-stepping): the same loop, given an environment that learns as it
    steps; each report lists the updates made during its step."""
    stepping = OverlappedSteps(envs, config, agent, state, update)
    for report in dqn_loop(config, agent, stepping, replay, state, update):
        yield dataclasses.replace(report, updates=[*stepping.made, *report.updates])

"""Stepping a vector environment in two halves, so that the learner works while the copies step.

ale-py's AtariVectorEnv runs its emulators on its own C++ threads between `send(actions)` and
`recv()` (its `step` is exactly the two in a row); gymnasium's AsyncVectorEnv does the same with
`step_async` and `step_wait`. The DQN loop starts a step, runs the updates that are due, and then
collects the step's result (spec/algorithm.md#overlapped-stepping).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AsyncVectorEnv, VectorEnv
from numpy.typing import NDArray

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

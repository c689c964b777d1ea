"""dqn_ref/loop.py's target syncs with several environment copies (spec/algorithm.md, Alg. step 8):
the syncs due after one lockstep step are made as one, of weight 1 - (1 - tau)^k (eq-soft P4).
Driven by scripted environments (tests/scripted_env.py) and no learning, so theta stays fixed
between syncs and each sync's weight shows in theta^-."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.loop import dqn_loop
from dqn_ref.loop_state import LoopState
from dqn_ref.replay import ReplayBuffer
from tests.scripted_env import NUM_ACTIONS, ScriptedStep, ScriptedVectorEnv
from tests.test_loop import CPU, QUIET

# Acting and storing only: no update moves theta, so only syncs move theta^-.
NO_LEARNING = QUIET.replace(target_update_interval=DQNConfig().target_update_interval)


def distance_after_each_lockstep(config: DQNConfig, copies: int, locksteps: int) -> list[float]:
    """|theta^- - theta| (summed over every weight) before the first lockstep step and after each:
    theta is moved away from theta^- once, at the start, and then only the syncs move theta^-."""
    config = config.replace(num_envs=copies)
    envs = ScriptedVectorEnv([[ScriptedStep(1.0)] * locksteps] * copies)
    torch.manual_seed(0)
    agent = DQNAgent(config, (2,), NUM_ACTIONS, CPU)
    with torch.no_grad():
        for parameter in agent.online_parameters:
            parameter.add_(torch.randn_like(parameter))
    replay = ReplayBuffer(config.buffer_size, (2,), np.float32)
    obs, _ = envs.reset()
    state = LoopState.start(obs, CPU, 0)

    def distance() -> float:
        pairs = zip(agent.target_parameters, agent.online_parameters, strict=True)
        with torch.no_grad():
            return sum(float((target - online).abs().sum()) for target, online in pairs)

    distances = [distance()]
    for _ in itertools.islice(dqn_loop(config, agent, envs, replay, state), locksteps):
        distances.append(distance())
    return distances


@pytest.mark.parametrize(("copies", "interval"), [(3, 1), (3, 2), (4, 3)])
def test_the_syncs_due_after_a_lockstep_step_are_one_sync_of_weight_one_minus_their_product(
    copies: int, interval: int
) -> None:
    """Alg. step 8, eq-soft P4: with tau 0.25, the k syncs due after a lockstep step (k =
    floor(t / interval) minus the syncs made) scale theta^- - theta by 0.75^k. Worked out for 3
    copies and interval 1: t = 3, 6, 9, so k = 3 each time and the distance shrinks by 0.421875
    per lockstep, not by 0.75 (one sync of weight tau). For 3 copies and interval 2: t = 3, 6, 9,
    12, so k = 1, 2, 1, 2."""
    config = NO_LEARNING.replace(tau=0.25, target_update_interval=interval)
    locksteps = 4
    distances = distance_after_each_lockstep(config, copies, locksteps)
    steps = [copies * lockstep for lockstep in range(locksteps + 1)]
    syncs_made = [t // interval for t in steps]
    due = np.diff(syncs_made)
    assert due.max() > 1, "some lockstep step must make several syncs due"
    ratios = np.array(distances[1:]) / np.array(distances[:-1])
    np.testing.assert_allclose(ratios, 0.75**due, rtol=1e-5)


def test_the_syncs_due_with_several_copies_end_where_one_copy_syncing_each_step_ends() -> None:
    """eq-soft P4 seen from outside: 3 copies for 4 lockstep steps (12 agent steps, interval 1)
    leave theta^- where one copy's 12 lockstep steps of one sync each leave it."""
    config = NO_LEARNING.replace(tau=0.1, target_update_interval=1)
    three_copies = distance_after_each_lockstep(config, 3, 4)
    one_copy = distance_after_each_lockstep(config, 1, 12)
    assert three_copies[-1] == pytest.approx(one_copy[-1], rel=1e-5)
    assert three_copies[-1] == pytest.approx(three_copies[0] * 0.9**12, rel=1e-5)

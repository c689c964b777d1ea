"""The overlapped loop against the plain one (spec/algorithm.md#overlapped-stepping).

Stepping in two halves gives what one step gives (P4); the overlapped loop stores, updates and
syncs as the plain loop does (P1), each update sampling the buffer as it stood before its own
step's transitions (P2); and it is, bit for bit, the plain loop run with a replay that stores
each lockstep step's transitions one step late (P5): the same networks, losses and evaluation.
"""

from __future__ import annotations

import itertools
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AsyncVectorEnv
from hypothesis import given
from hypothesis import strategies as st

from dqn_ref.agent import DQNAgent
from dqn_ref.batch import Batch
from dqn_ref.config import DQNConfig
from dqn_ref.envs import atari_options, env_spaces, make_env
from dqn_ref.errors import DQNRefError
from dqn_ref.evaluate import evaluate, evaluation_envs
from dqn_ref.fast.overlapped_loop import StepResult, overlapped_dqn_loop, start_step
from dqn_ref.loop import dqn_loop
from dqn_ref.loop_state import LoopState
from dqn_ref.presets import PRESETS
from dqn_ref.replay_interface import Replay
from dqn_ref.training.build import make_replay_buffer
from tests.scripted_env import ScriptedStep, ScriptedVectorEnv
from tests.test_loop import QUIET, drive, steps_strategy, stored_transitions


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


@given(
    scripts=st.lists(st.lists(steps_strategy, min_size=1, max_size=12), min_size=1, max_size=3),
    train_frequency=st.integers(1, 3),
)
def test_the_overlapped_loop_stores_what_the_plain_loop_stores(
    scripts: list[list[ScriptedStep]], train_frequency: int
) -> None:
    """Overlapped stepping P1: with every action random (epsilon 1, the agent's own generator),
    the overlapped loop stores the same transitions, makes the same number of updates at the same
    lockstep steps with the same step sizes, and syncs as the plain loop does."""
    config = QUIET.replace(
        learning_starts=2 * len(scripts),
        train_frequency=train_frequency,
        batch_size=2,
        target_update_interval=3,
        epsilon_start=1.0,
        epsilon_end=1.0,
        learning_rate_end=1e-4,
        total_steps=30,
    )
    plain = drive(config, scripts, 15)
    overlapped = drive(config, scripts, 15, loop=overlapped_dqn_loop)
    assert stored_transitions(overlapped) == stored_transitions(plain)
    assert [len(r.losses) for r in overlapped.reports] == [len(r.losses) for r in plain.reports]
    assert overlapped.agent.learning_rates == plain.agent.learning_rates
    assert overlapped.agent.syncs == plain.agent.syncs and overlapped.state.step == plain.state.step


@pytest.mark.parametrize("copies", [1, 3])
def test_overlapped_updates_sample_before_their_steps_transitions_are_stored(copies: int) -> None:
    """Overlapped stepping P2, worked out for learning_starts 6, one update every 2 agent steps:
    the updates due once lockstep i's transitions are counted run while it steps, so each samples
    the buffer as it was after lockstep i - 1 (the plain loop's sample after lockstep i)."""
    config = QUIET.replace(learning_starts=6, train_frequency=2, batch_size=2)
    scripts = [[ScriptedStep(1.0)] * 12] * copies
    for overlap in (False, True):
        loop = overlapped_dqn_loop if overlap else dqn_loop
        run = drive(config, scripts, 12 // copies, loop=loop)
        stored_before = [0, *run.steps]  # transitions stored before lockstep i
        expected = []
        for lockstep, report in enumerate(run.reports):
            held = stored_before[lockstep] if overlap else run.steps[lockstep]
            expected += [(held, 2)] * len(report.losses)
        assert run.replay.sampled == expected
        assert run.state.updates_done == (12 - 6) // 2 + 1


def test_overlap_needs_a_lockstep_steps_more_before_learning() -> None:
    """Overlapped stepping P3: the first update samples before its step's transitions are
    stored, so learning_starts must leave (n_step + 1) x num_envs of them (one-line error)."""
    with pytest.raises(DQNRefError, match="raise learning_starts to at least 16"):
        QUIET.replace(overlap_env_step=True, num_envs=8, learning_starts=15)
    QUIET.replace(overlap_env_step=True, num_envs=8, learning_starts=16)


class LateReplay:
    """A replay that stores each add one add late: the plain loop's update after lockstep i then
    samples the buffer as it stood after lockstep i - 1, as an overlapped update does."""

    def __init__(self, replay: Replay):
        self.replay = replay
        self.pending: tuple[tuple[Any, ...], dict[str, Any]] | None = None

    def add(self, *args: Any, **kwargs: Any) -> None:
        if self.pending is not None:
            self.replay.add(*self.pending[0], **self.pending[1])
        self.pending = (args, kwargs)

    def sample(self, batch_size: int) -> Batch:
        return self.replay.sample(batch_size)


def run_both(config: DQNConfig, locksteps: int) -> tuple[DQNAgent, DQNAgent, list[Any]]:
    """The overlapped loop on the config's replay, and the plain loop on a LateReplay of it, from
    the same seeds; both agents, and each report's losses side by side."""
    agents, losses = [], []
    for overlapped in (True, False):
        torch.manual_seed(config.seed)
        envs = make_env(config.env_id, config.num_envs, 0, atari_options(config, training=True))
        spaces = env_spaces(envs, config.env_id)
        agent = DQNAgent(config, spaces.obs_shape, spaces.num_actions, torch.device("cpu"))
        replay: Any = make_replay_buffer(config, spaces, torch.device("cpu"))
        replay = replay if overlapped else LateReplay(replay)
        obs, _ = envs.reset(seed=config.seed)
        state = LoopState.start(obs, torch.device("cpu"), 0)
        update = lambda agent=agent, replay=replay: agent.update(  # noqa: E731
            replay.sample(config.batch_size)
        )
        loop = overlapped_dqn_loop if overlapped else dqn_loop
        reports = itertools.islice(loop(config, agent, envs, replay, state, update), locksteps)
        losses.append([loss.item() for report in reports for loss in report.losses])
        envs.close()
        agents.append(agent)
    assert losses[0] == losses[1] and len(losses[0]) > 5
    return agents[0], agents[1], losses


def assert_same_parameters(expected: DQNAgent, actual: DQNAgent) -> None:
    for name, value in expected.online_net.state_dict().items():
        assert torch.equal(actual.online_net.state_dict()[name], value), name
    for name, value in expected.target_net.state_dict().items():
        assert torch.equal(actual.target_net.state_dict()[name], value), name


def same_evaluation(config: DQNConfig, first: DQNAgent, second: DQNAgent) -> None:
    returns = []
    for agent in (first, second):
        generator = torch.Generator().manual_seed(5)
        envs = evaluation_envs(config.replace(eval_episodes=2), final=False)
        returns.append(evaluate(agent.online_net, envs, 0.05, generator, agent.device).tolist())
        envs.close()
    assert returns[0] == returns[1]


def test_the_overlapped_loop_is_the_plain_loop_with_its_stores_one_step_late() -> None:
    """P5 on CartPole (a gymnasium vector env, stepped at once): the overlapped loop's networks,
    losses and evaluation equal, bit for bit, those of the plain loop whose replay stores each
    lockstep step's transitions one step late."""
    config = PRESETS["cartpole"].replace(
        num_envs=4, learning_starts=64, batch_size=16, train_frequency=2, seed=3
    )
    overlapped, reference, _ = run_both(config, 120)
    assert_same_parameters(reference, overlapped)
    same_evaluation(config, overlapped, reference)


def test_the_overlapped_pong_loop_is_the_plain_loop_with_its_stores_one_step_late() -> None:
    """P5 on Pong, where ale-py's emulators step on their own threads during the updates."""
    config = PRESETS["pong-cpu"].replace(
        num_envs=2, learning_starts=32, batch_size=4, buffer_size=400, train_frequency=4,
        torch_threads=1, seed=1,
    )  # fmt: skip
    overlapped, reference, _ = run_both(config, 40)
    assert_same_parameters(reference, overlapped)

"""CartPole step-loop throughput: the environment alone (the floor), act + step + store, one update,
and the whole training loop. Compare the loop figures with the env-only figure of the same run.

pytest bench --benchmark-only   (or: tox -e bench)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from bench.conftest import benchmark_train, devices
from bench.random_replay import random_replay
from dqn_ref.agent import DQNAgent
from dqn_ref.envs import make_vector_env
from dqn_ref.presets import cartpole
from dqn_ref.replay import ReplayBuffer

STEPS = 1_000


@pytest.mark.parametrize("num_envs", [1, cartpole.num_envs], ids=["single", "preset-vector"])
def test_env_step_only(benchmark: BenchmarkFixture, num_envs: int) -> None:
    """gymnasium CartPole-v1 with random actions, one copy (a SyncVectorEnv) or the preset's
    number of copies (gymnasium's native vector CartPole): the loop's floor. STEPS agent steps a
    round either way."""
    envs = make_vector_env("CartPole-v1", num_envs)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, size=(STEPS // num_envs, num_envs))

    def run() -> int:
        episodes = 0
        for action in actions:
            _, _, terminated, truncated, _ = envs.step(action)
            episodes += int((terminated | truncated).sum())
        return episodes

    episodes = benchmark(run)
    assert episodes > 0  # random play ends CartPole episodes within a few dozen steps
    benchmark.extra_info["agent_steps_per_round"] = len(actions) * num_envs


@pytest.mark.parametrize("device", devices())
def test_act_step_store(benchmark: BenchmarkFixture, device: str) -> None:
    """epsilon-greedy act on the online network, env step, replay add: everything but learning,
    with the preset's number of environment copies."""
    num_envs = cartpole.num_envs
    envs = make_vector_env("CartPole-v1", num_envs)
    agent = DQNAgent(cartpole, (4,), 2, torch.device(device))
    buffer = ReplayBuffer(STEPS * 10, (4,), np.float32, device)
    obs, _ = envs.reset(seed=0)

    def run() -> None:
        nonlocal obs
        for _ in range(STEPS // num_envs):
            actions = agent.act(obs, 0.1)
            next_obs, reward, terminated, truncated, _ = envs.step(actions)
            buffer.add(
                obs, actions, reward, next_obs, terminated, episode_end=terminated | truncated
            )
            obs = next_obs

    benchmark.pedantic(run, rounds=5, iterations=1)
    assert len(buffer) == 5 * (STEPS // num_envs) * num_envs
    benchmark.extra_info["agent_steps_per_round"] = (STEPS // num_envs) * num_envs


@pytest.mark.parametrize("device", devices())
def test_update_only(benchmark: BenchmarkFixture, device: str) -> None:
    """100 gradient updates at the default preset's sizes (its batch and MLP widths)."""
    agent = DQNAgent(cartpole, (4,), 2, torch.device(device))
    buffer = random_replay(10_000, device)

    def run() -> torch.Tensor:
        loss = torch.zeros((), device=device)
        for _ in range(100):
            loss = agent.update(buffer.sample(cartpole.batch_size)).loss
        return loss

    loss = benchmark(run)
    assert torch.isfinite(loss).item()
    benchmark.extra_info["updates_per_round"] = 100


@pytest.mark.parametrize("device", devices())
def test_full_train_loop(benchmark: BenchmarkFixture, device: str, tmp_path: Path) -> None:
    """dqn_ref.training.train.train for 2,000 agent steps at the default preset's settings, no
    evaluation."""
    steps = 2_000
    config = cartpole.replace(
        total_steps=steps,
        learning_starts=100,
        eval_interval=0,
        final_eval_episodes=0,
        device=device,
    )
    inside = benchmark_train(benchmark, config, tmp_path, rounds=3)
    benchmark.extra_info["agent_steps_per_round"] = steps
    benchmark.extra_info["steps_per_s_inside_train"] = inside

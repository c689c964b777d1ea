"""dqn_ref against its two baselines, like with like, in one pytest-benchmark run:

- cartpole-update: 100 updates at plain DQN settings (bench/naive_dqn.py PLAIN_CARTPOLE: the
  earlier default preset's batch, MLP widths, Adam, Huber and grad-norm clipping) from a
  10,000-transition replay memory, by the seed paper's loop (bench/naive_dqn.py), by dqn_ref
  (DQNAgent.update on ReplayBuffer.sample) and by SB3's DQN (`model.train`, bench/sb3_dqn.py).
- cartpole-train-loop: 2,000 agent steps of the whole training loop at the same plain
  settings, setup included, by the same three (dqn_ref.training.train.train without evaluation;
  SB3's `learn`).

dqn_ref aims to be at least 3 times faster than the naive loop, per agent step and per
update, and faster than SB3. bench/speed_ratios.py prints those ratios from interleaved repeats.
SB3's cases skip when stable-baselines3 is not installed (`pip install -e .[peers]`).

pytest bench/test_vs_baselines.py --benchmark-only
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from bench.naive_dqn import (
    PLAIN_CARTPOLE,
    NaiveAgent,
    NaiveResult,
    fill_memory,
    naive_train_steps,
    naive_update,
)
from bench.random_replay import random_replay
from bench.sb3_dqn import fill_replay, make_dqn, matched_kwargs
from bench.speed_ratios import loop_config
from dqn_ref.agent import DQNAgent
from dqn_ref.loop import updates_due
from dqn_ref.training.train import TrainResult, train

UPDATES = 100  # per round of the update group
MEMORY = 10_000  # transitions in the replay memory the updates sample from
LOOP_STEPS = 2_000  # agent steps per round of the loop group
# The plain settings for 2,000 steps without evaluation, with its epsilon schedule compressed with
# the run and a warm-up of 200 steps: at least a batch, since the paper's optimize_model skips
# updates until the deque holds batch_size transitions, where dqn_ref samples what it has.
LOOP_LEARNING_STARTS = 200
LOOP_CONFIG = loop_config(PLAIN_CARTPOLE, LOOP_STEPS, LOOP_LEARNING_STARTS)
LOOP_UPDATES = (LOOP_STEPS - LOOP_LEARNING_STARTS) // PLAIN_CARTPOLE.train_frequency + 1


def require_sb3() -> None:
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 is not installed")


# --- cartpole-update ----------------------------------------------------------------------------


@pytest.mark.benchmark(group="cartpole-update")
def test_update_naive(benchmark: BenchmarkFixture) -> None:
    """The paper's optimize_model: random.sample from a deque, torch.cat per field."""
    torch.manual_seed(0)
    agent = NaiveAgent(PLAIN_CARTPOLE, 4, 2)
    fill_memory(agent, MEMORY)

    def run() -> torch.Tensor | None:
        loss = None
        for _ in range(UPDATES):
            loss = naive_update(agent)
        return loss

    loss = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    assert loss is not None and torch.isfinite(loss).item()
    benchmark.extra_info["updates_per_round"] = UPDATES


@pytest.mark.benchmark(group="cartpole-update")
def test_update_dqn_ref(benchmark: BenchmarkFixture) -> None:
    """DQNAgent.update on ReplayBuffer.sample, as bench/test_cartpole_loop.py::test_update_only."""
    agent = DQNAgent(PLAIN_CARTPOLE, (4,), 2, torch.device("cpu"))
    buffer = random_replay(MEMORY, "cpu")

    def run() -> torch.Tensor:
        loss = torch.zeros(())
        for _ in range(UPDATES):
            loss = agent.update(buffer.sample(PLAIN_CARTPOLE.batch_size)).loss
        return loss

    loss = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    assert torch.isfinite(loss).item()
    benchmark.extra_info["updates_per_round"] = UPDATES


@pytest.mark.benchmark(group="cartpole-update")
def test_update_sb3(benchmark: BenchmarkFixture) -> None:
    """SB3's DQN.train(gradient_steps=100) at the preset's batch size, network and optimiser."""
    require_sb3()
    model = make_dqn(matched_kwargs(PLAIN_CARTPOLE, PLAIN_CARTPOLE.total_steps))
    fill_replay(model, MEMORY)

    def run() -> None:
        model.train(gradient_steps=UPDATES, batch_size=PLAIN_CARTPOLE.batch_size)

    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    assert model._n_updates == 6 * UPDATES
    benchmark.extra_info["updates_per_round"] = UPDATES


# --- cartpole-train-loop ------------------------------------------------------------------------


class LoopResult(Protocol):
    """What the naive loop's and dqn_ref's results both report."""

    @property
    def steps(self) -> int: ...
    @property
    def updates(self) -> int: ...
    @property
    def wall_time_s(self) -> float: ...


def check_and_record_loops(benchmark: BenchmarkFixture, results: Sequence[LoopResult]) -> None:
    """Every round ran the loop's steps and the preset's update schedule; record them."""
    # With several env copies the last lockstep step can pass LOOP_STEPS by up to num_envs - 1.
    assert all(LOOP_STEPS <= r.steps < LOOP_STEPS + LOOP_CONFIG.num_envs for r in results)
    assert all(r.updates == updates_due(LOOP_CONFIG, r.steps) for r in results)
    benchmark.extra_info["agent_steps_per_round"] = LOOP_STEPS
    benchmark.extra_info["updates_per_round"] = LOOP_UPDATES
    benchmark.extra_info["loop_s"] = [r.wall_time_s for r in results]


@pytest.mark.benchmark(group="cartpole-train-loop")
def test_train_loop_naive(benchmark: BenchmarkFixture) -> None:
    """The paper's main loop for 2,000 agent steps at the preset's settings."""
    results: list[NaiveResult] = []

    def run() -> None:
        results.append(naive_train_steps(LOOP_CONFIG, LOOP_STEPS, seed=len(results)))

    benchmark.pedantic(run, rounds=3, iterations=1)
    check_and_record_loops(benchmark, results)


@pytest.mark.benchmark(group="cartpole-train-loop")
def test_train_loop_dqn_ref(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    """dqn_ref.training.train.train for 2,000 agent steps, no evaluation (run folder and plot
    included)."""
    results: list[TrainResult] = []

    def run() -> None:
        config = LOOP_CONFIG.replace(seed=len(results))
        results.append(train(config, tmp_path / f"run{len(results)}", progress=False))

    benchmark.pedantic(run, rounds=3, iterations=1)
    check_and_record_loops(benchmark, results)


@pytest.mark.benchmark(group="cartpole-train-loop")
def test_train_loop_sb3(benchmark: BenchmarkFixture) -> None:
    """SB3's DQN built and `learn`ed for 2,000 agent steps at the same settings."""
    require_sb3()
    updates: list[int] = []

    def run() -> None:
        kwargs = matched_kwargs(LOOP_CONFIG, LOOP_STEPS)
        model = make_dqn(kwargs, seed=len(updates), num_envs=LOOP_CONFIG.num_envs)
        model.learn(LOOP_STEPS)
        assert model.num_timesteps == LOOP_STEPS
        updates.append(model._n_updates)

    benchmark.pedantic(run, rounds=3, iterations=1)
    # SB3 trains after each 4-step rollout once past learning_starts: one update fewer than dqn_ref.
    assert all(abs(count - LOOP_UPDATES) <= 1 for count in updates)
    benchmark.extra_info["agent_steps_per_round"] = LOOP_STEPS
    benchmark.extra_info["updates_per_round"] = updates[0]

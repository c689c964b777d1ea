"""Benchmarks run with one torch thread, as training does by default (config.torch_threads)."""

from pathlib import Path

import pytest
import torch
from pytest_benchmark.fixture import BenchmarkFixture

from dqn_ref.config import DQNConfig
from dqn_ref.loop import updates_due
from dqn_ref.training.train import TrainResult, train


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    torch.set_num_threads(1)


def devices() -> list[object]:
    """cpu, and cuda where present; a cuda case without a GPU is reported as skipped."""
    return [
        "cpu",
        pytest.param(
            "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
        ),
    ]


def benchmark_train(
    benchmark: BenchmarkFixture, config: DQNConfig, folder: Path, rounds: int
) -> list[float]:
    """Time train() on `config` for `rounds` rounds (set-up included), check that each round ran
    its steps and the updates due, and return each round's agent steps/s inside train()."""
    results: list[TrainResult] = []
    # The baselines log nothing, so neither does the loop measured against them.
    config = config.replace(tensorboard=False)

    def run() -> None:
        results.append(train(config, folder / f"run{len(results)}", progress=False))

    benchmark.pedantic(run, rounds=rounds, iterations=1)
    steps = config.total_steps
    # With several copies the last lockstep step can pass total_steps by up to num_envs - 1.
    assert all(steps <= r.steps < steps + config.num_envs for r in results)
    assert all(r.updates == updates_due(config, r.steps) for r in results)
    return [r.steps / r.wall_time_s for r in results]

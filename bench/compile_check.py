"""Does torch.compile speed up the CartPole update? Prints eager against compiled, same run.

python -m bench.compile_check [--updates 400] [--repeats 6] [--mode default]

The compiled variant compiles what autograd can see as one graph: target network, Bellman target,
online network and TD loss (forward and backward, through AOTAutograd); the optimiser step and
clipping stay eager, as compiling the fused Adam step measured slower on CPU. dqn_ref keeps the
eager update unless this shows a win (docs/results.md, "Benchmarks").
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TypeVar, cast

import torch

from bench.random_replay import random_replay
from dqn_ref.agent import DQNAgent
from dqn_ref.presets import cartpole
from dqn_ref.update import LossFunction, dqn_update, td_loss_of_batch

Variant = TypeVar("Variant")  # what update_with is handed: here, a TD-loss function


def interleaved_seconds(
    variants: dict[str, Variant],
    update_with: Callable[[Variant], None],
    repeats: int,
    updates: int,
) -> dict[str, list[float]]:
    """Seconds per update of each variant, one figure per round; the rounds interleave the
    variants, so that drift on a noisy machine hits them alike."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, loss_fn in variants.items():
            start = time.perf_counter()
            for _ in range(updates):
                update_with(loss_fn)
            samples[name].append((time.perf_counter() - start) / updates)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--mode", default="default", help="torch.compile mode")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = cartpole
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    buffer = random_replay()

    def update_with(loss_of_batch: LossFunction) -> None:
        batch = buffer.sample(config.batch_size)
        dqn_update(
            agent.online_net, agent.target_net, agent.optimizer, batch, config, loss_of_batch
        )
        agent.sync_target()

    compiled = cast(LossFunction, torch.compile(td_loss_of_batch, mode=args.mode, dynamic=False))
    variants: dict[str, LossFunction] = {
        "eager": td_loss_of_batch,
        f"compiled ({args.mode})": compiled,
    }
    for name, loss_fn in variants.items():
        start = time.perf_counter()
        update_with(loss_fn)
        update_with(loss_fn)
        print(f"{name:>20}: first two updates (compilation) {time.perf_counter() - start:.2f} s")
    samples = interleaved_seconds(variants, update_with, args.repeats, args.updates)
    samples = {name: [seconds * 1e6 for seconds in values] for name, values in samples.items()}
    eager = statistics.median(samples["eager"])
    for name, values in samples.items():
        median = statistics.median(values)
        print(
            f"{name:>20}: median {median:.0f} us per update (min {min(values):.0f}), "
            f"{eager / median:.2f}x eager's speed"
        )


if __name__ == "__main__":
    main()

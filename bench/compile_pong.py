"""Does torch.compile speed up the pong-cpu update on this CPU? Eager against compiled, same run.

python -m bench.compile_pong [--updates 20] [--repeats 5] [--threads 1 2] [--mode default]

The pong-cpu update (bf16 autocast, channels-last Nature CNN with the dueling head, Double DQN on
3-step returns, Huber loss, batch 32): dqn_update with the eager TD loss against the same with the
compiled one, as the compile option runs it (dqn_ref/fast/compiled_update.py: both networks'
forward passes, the Double DQN target and the loss, forward and backward through AOTAutograd;
gradient clipping and the fused Adam step stay eager). Interleaved rounds on a fixed random
batch; medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import cast

import torch

from bench.compile_check import interleaved_seconds
from bench.machine import machine
from bench.update_options import make_agent, random_batch
from dqn_ref.presets import pong_cpu
from dqn_ref.update import LossFunction, dqn_update, td_loss_of_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20, help="updates timed per round")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--mode", default="default", help="torch.compile mode")
    args = parser.parse_args()
    config = pong_cpu
    agent = make_agent(config.precision, channels_last=True)
    batch = random_batch(config.batch_size)
    assert batch.discount is not None

    def update_with(loss_of_batch: LossFunction) -> None:
        dqn_update(
            agent.online_net, agent.target_net, agent.optimizer, batch, config, loss_of_batch
        )

    compiled = cast(LossFunction, torch.compile(td_loss_of_batch, mode=args.mode, dynamic=False))
    variants: dict[str, LossFunction] = {
        "eager": td_loss_of_batch,
        f"compiled ({args.mode})": compiled,
    }
    info = machine()
    print(f"{info['cpu']}, {info['cpu_count']} cores, torch {info['torch']}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, loss_fn in variants.items():
            start = time.perf_counter()
            update_with(loss_fn)
            update_with(loss_fn)
            seconds = time.perf_counter() - start
            print(f"{threads} thread(s), {name}: first two updates {seconds:.1f} s")
        samples = interleaved_seconds(variants, update_with, args.repeats, args.updates)
        samples = {name: [seconds * 1e3 for seconds in values] for name, values in samples.items()}
        eager = statistics.median(samples["eager"])
        for name, values in samples.items():
            median = statistics.median(values)
            print(
                f"{threads} thread(s), {name:>18}: median {median:.1f} ms per update "
                f"(min {min(values):.1f}), {eager / median:.2f}x eager's speed"
            )


if __name__ == "__main__":
    main()

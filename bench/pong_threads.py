"""How should one pong-cpu run use a 2-core CPU? The training loop's agent steps/s and updates/s
for each way of spending the cores, from interleaved rounds in one process, quiet or busy.

python -m bench.pong_threads [--rounds 5] [--window 400] [--busy-process] [--json OUT]

Each variant is a real pong-cpu loop (its 8 ALE copies, FrameReplayBuffer, the bf16 Double DQN
update) built once and filled to learning_starts untimed; then every round times the next
--window agent steps of each variant in turn, so all variants see the same machine state. The
figures are the medians over the rounds, with each variant's ratio against the preset as it was
(one thread, no overlap), measured in the same rounds. --busy-process keeps one process spinning
beside the timings: a machine whose other core is taken by other work, made repeatable.

Variants: torch threads 1 or 2, with and without overlap_env_step (the ALE steps while the update
runs), and torch_threads=-1 (adaptive: the loop times both counts and keeps the faster one,
spec/algorithm.md#adaptive-threads).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from bench.machine import add_busy_process_flag, busy_process, machine
from dqn_ref.config import DQNConfig
from dqn_ref.envs import atari_options, env_spaces, make_env
from dqn_ref.loop import LoopReport
from dqn_ref.loop_state import LoopState
from dqn_ref.presets import pong_cpu
from dqn_ref.training.build import make_agent, make_replay_buffer, make_update, run_loop
from dqn_ref.training.seeding import seed_everything
from dqn_ref.training.thread_choice import ThreadChoice

VARIANTS: dict[str, dict[str, Any]] = {
    "1 thread (before)": {"torch_threads": 1, "overlap_env_step": False},
    "1 thread, overlap": {"torch_threads": 1, "overlap_env_step": True},
    "2 threads": {"torch_threads": 2, "overlap_env_step": False},
    "2 threads, overlap": {"torch_threads": 2, "overlap_env_step": True},
    "adaptive, overlap": {"torch_threads": -1, "overlap_env_step": True},
}
LEARNING_STARTS = 2_000
BUFFER_SIZE = 20_000


class Variant:
    """One built loop, advanced a window at a time, with the thread count it wants set around it."""

    def __init__(self, config: DQNConfig):
        self.config = config
        seed_everything(config.seed)
        device = torch.device("cpu")
        envs = make_env(config.env_id, config.num_envs, 0, atari_options(config, training=True))
        spaces = env_spaces(envs, config.env_id)
        replay = make_replay_buffer(config, spaces, device)
        agent = make_agent(config, spaces.obs_shape, spaces.num_actions, device)
        obs, _ = envs.reset(seed=config.seed)
        self.state = LoopState.start(obs, device, 0)
        self.threads = ThreadChoice(config.torch_threads)
        update = make_update(config, agent, replay)
        self.loop: Iterator[LoopReport] = run_loop(
            config, agent, envs, replay, self.state, self.threads.timed(update)
        )
        self.advance(LEARNING_STARTS)

    def advance(self, steps: int) -> tuple[float, int, int]:
        """Run `steps` agent steps; (seconds, steps done, updates done)."""
        self.threads.apply()
        start_step, start_updates = self.state.step, self.state.updates_done
        start = time.perf_counter()
        while self.state.step < start_step + steps:
            next(self.loop)
        seconds = time.perf_counter() - start
        return seconds, self.state.step - start_step, self.state.updates_done - start_updates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per variant")
    parser.add_argument("--window", type=int, default=400, help="agent steps timed per round")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--precision",
        choices=["bfloat16", "float32"],
        default=None,
        help="override pong-cpu's precision (float32 on a CPU without native bf16)",
    )
    parser.add_argument(
        "--variants",
        type=lambda text: [label.strip() for label in text.split(";")],
        default=list(VARIANTS),
        help="the variants to time, separated by ';' (the first is the baseline of the ratios)",
    )
    add_busy_process_flag(parser)
    args = parser.parse_args(argv)
    with busy_process(args.busy_process):
        measure(args)


def measure(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()[0]
    total = LEARNING_STARTS + args.window * (args.rounds + 2)
    variants = {
        label: Variant(
            pong_cpu.replace(
                total_steps=total,
                learning_starts=LEARNING_STARTS,
                buffer_size=BUFFER_SIZE,
                eval_interval=0,
                final_eval_episodes=0,
                **settings,
                **({"precision": args.precision} if args.precision else {}),
            )
        )
        for label, settings in VARIANTS.items()
        if label in args.variants
    }
    rates: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
    for variant in variants.values():
        variant.advance(args.window)  # warm-up: oneDNN picks its kernels; adaptive makes its choice
    for _ in range(args.rounds):
        for label, variant in variants.items():
            seconds, steps, updates = variant.advance(args.window)
            rates[label].append((steps / seconds, updates / seconds))
    baseline = statistics.median(rate[0] for rate in rates[args.variants[0]])
    results = {}
    for label, rounds in rates.items():
        steps_per_s = statistics.median(rate[0] for rate in rounds)
        results[label] = {
            "agent_steps_per_s": steps_per_s,
            "updates_per_s": statistics.median(rate[1] for rate in rounds),
            "vs_before": steps_per_s / baseline,
            "threads_chosen": variants[label].threads.current,
        }
    info = machine() | {
        "busy_process": args.busy_process,
        "load_average_1min_at_start": load_before,
    }
    print(f"{info['cpu']}, {info['cpu_count']} cores, torch {info['torch']}")
    print(f"busy process: {args.busy_process}; median of {args.rounds} rounds of {args.window}")
    print(f"{'variant':<22} {'agent steps/s':>14} {'updates/s':>10} {'vs before':>10}")
    for label, row in results.items():
        print(
            f"{label:<22} {row['agent_steps_per_s']:>14.1f} {row['updates_per_s']:>10.1f} "
            f"{row['vs_before']:>9.2f}x"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

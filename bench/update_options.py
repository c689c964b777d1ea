"""The Nature-CNN update on a CPU, option by option, against the float32 default-layout update.

python -m bench.update_options [--repeats 5] [--updates 20] [--threads 1 0] [--batch-size 32]
                               [--busy-process]

Each option runs the pong-cpu update (Double DQN, dueling head, 3-step discounts, Huber, Adam) on
the same random minibatch; the options' rounds are interleaved so that a change in the machine's
load hits them all alike, and each figure is the median over rounds. The baseline is the update as
it was before channels-last and bf16: float32, convolutions in torch's default (NCHW) layout.
Threads 0 means every core (torch's default). GFLOP/s counts the update's floating-point
operations with torch's FlopCounterMode; the fp32 peak printed beside it assumes two 512-bit FMA
pipes per core at the clock /proc/cpuinfo reports. Quote figures as ratios to the baseline, with
the load the script prints (a busy other core changes every figure). --busy-process keeps one
spinning process running beside the timings: a machine busy with other work, made repeatable.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from bench.machine import add_busy_process_flag, busy_process, machine
from dqn_ref.agent import DQNAgent
from dqn_ref.batch import Batch
from dqn_ref.network import NatureCNN
from dqn_ref.presets import pong_cpu

OBS_SHAPE = (4, 84, 84)
NUM_ACTIONS = 6
FP32_FLOPS_PER_CYCLE = 64  # two 512-bit FMA pipes: 2 x 16 lanes x 2 FLOP


class DefaultLayoutCNN(NatureCNN):
    """The Nature CNN as it ran before channels-last: NCHW weights and activations."""

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.convolutions.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]

    def forward(self, obs: Tensor) -> Tensor:
        features = self.convolutions(obs.float() / 255.0)
        q_values: Tensor = self.output_layer(torch.relu(self.hidden_layer(features)))
        return q_values


def make_agent(precision: str, channels_last: bool, device: str = "cpu") -> DQNAgent:
    config = pong_cpu.replace(precision=precision, device=device)
    agent = DQNAgent(config, OBS_SHAPE, NUM_ACTIONS, torch.device(device))
    if not channels_last:
        if precision != "float32":
            raise ValueError("the default-layout variant is the float32 baseline only")
        for name in ("online_net", "target_net"):
            network = DefaultLayoutCNN(OBS_SHAPE, NUM_ACTIONS, dueling=config.dueling).to(device)
            network.load_state_dict(getattr(agent, name).state_dict())
            setattr(agent, name, network)
        agent.target_net.requires_grad_(False)
        agent.online_parameters = list(agent.online_net.parameters())
        agent.target_parameters = list(agent.target_net.parameters())
        agent.optimizer = type(agent.optimizer)(agent.online_parameters, **agent.optimizer.defaults)
    return agent


def random_batch(batch_size: int, seed: int = 0, device: str = "cpu") -> Batch:
    generator = torch.Generator().manual_seed(seed)
    frames = torch.randint(0, 256, (batch_size, *OBS_SHAPE), dtype=torch.uint8, generator=generator)
    batch = Batch(
        obs=frames,
        action=torch.randint(0, NUM_ACTIONS, (batch_size,), generator=generator),
        reward=torch.randn(batch_size, generator=generator).clamp(-1, 1),
        next_obs=frames.roll(1, dims=0),
        terminated=torch.zeros(batch_size, dtype=torch.bool),
        discount=torch.full((batch_size,), pong_cpu.gamma**pong_cpu.n_step),
    )
    return Batch(
        obs=batch.obs.to(device),
        action=batch.action.to(device),
        reward=batch.reward.to(device),
        next_obs=batch.next_obs.to(device),
        terminated=batch.terminated.to(device),
        discount=None if batch.discount is None else batch.discount.to(device),
    )


OPTIONS: dict[str, tuple[str, bool]] = {
    "float32, NCHW (baseline)": ("float32", False),
    "float32, channels-last": ("float32", True),
    "bfloat16, channels-last": ("bfloat16", True),
}


def update_flops(agent: DQNAgent, batch: Batch) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        agent.update(batch)
    return int(counter.get_total_flops())


def clock_hz() -> float | None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return None
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":", 1)[1]) * 1e6
    return None


def time_updates(update: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        update()
    return (time.perf_counter() - start) / count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds per option")
    parser.add_argument("--updates", type=int, default=20, help="updates timed per round")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 0], help="torch threads (0: all)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    add_busy_process_flag(parser)
    args = parser.parse_args(argv)
    with busy_process(args.busy_process):
        measure(args)


def measure(args: argparse.Namespace) -> None:

    batch = random_batch(args.batch_size)
    agents = {label: make_agent(*option) for label, option in OPTIONS.items()}
    flops = {label: update_flops(agent, batch) for label, agent in agents.items()}
    results: dict[str, dict[str, float]] = {}
    load_before = os.getloadavg()[0]
    for threads in args.threads:
        torch.set_num_threads(threads or os.cpu_count() or 1)
        seconds: dict[str, list[float]] = {label: [] for label in agents}
        for agent in agents.values():
            agent.update(batch)  # warm-up: oneDNN picks its kernels on the first call
        for _ in range(args.repeats):
            for label, agent in agents.items():
                seconds[label].append(time_updates(partial(agent.update, batch), args.updates))
        for label, rounds in seconds.items():
            results[f"{label}, {threads or 'all'} thread(s)"] = {
                "ms_per_update": statistics.median(rounds) * 1e3,
                "gflops": flops[label] / statistics.median(rounds) / 1e9,
            }
    baseline_key = f"{next(iter(OPTIONS))}, {args.threads[0] or 'all'} thread(s)"
    baseline = results[baseline_key]["ms_per_update"]
    hz = clock_hz()
    peak = FP32_FLOPS_PER_CYCLE * hz / 1e9 if hz else None
    info = machine() | {
        "load_average_1min_at_start": load_before,
        "batch_size": args.batch_size,
        "busy_process": args.busy_process,
    }
    print(json.dumps(info))
    print(f"update: pong-cpu (Double DQN, dueling, n-step), batch {args.batch_size}")
    if peak and hz:
        print(f"fp32 peak of one core, assumed: {peak:.0f} GFLOP/s ({hz / 1e9:.2f} GHz x 64)")
    print(f"{'option':52} {'ms/update':>10} {'speed-up':>9} {'GFLOP/s':>8}")
    for label, figures in results.items():
        print(
            f"{label:52} {figures['ms_per_update']:10.1f} "
            f"{baseline / figures['ms_per_update']:8.2f}x {figures['gflops']:8.0f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2))


if __name__ == "__main__":
    main()

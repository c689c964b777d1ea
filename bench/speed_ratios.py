"""Speed ratios of dqn_ref against the naive loop of the seed paper and SB3's DQN, from repeats
interleaved in one process, so that all three see the same machine state.

The full training loop, at plain DQN settings (bench/naive_dqn.py PLAIN_CARTPOLE, the earlier
default preset's network, batch and update ratio; neither baseline has DQN's later options), aims
to be at least 3 times
faster than the naive loop (bench/naive_dqn.py) per agent step and per update, and faster than
SB3's DQN at the same network, batch and update ratio (bench/sb3_dqn.py). Each repeat runs, in a
rotating order: each implementation's training loop for --steps agent steps (setup excluded:
dqn_ref's TrainResult.wall_time_s, the naive loop's own timer, SB3's `learn` call), then --updates
updates alone from a 10,000-transition memory. The table gives the median over the repeats.

python -m bench.speed_ratios [--steps 3000] [--updates 200] [--repeats 5] [--out ratios.json]

SB3 is left out, with a note, when stable-baselines3 is not installed (`pip install -e .[peers]`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.machine import machine as base_machine
from bench.naive_dqn import (
    PLAIN_CARTPOLE,
    NaiveAgent,
    fill_memory,
    naive_train_steps,
    naive_update,
    refuse_options,
)
from bench.random_replay import random_replay
from bench.sb3_dqn import fill_replay, make_dqn, matched_kwargs, sb3_available
from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.presets import PRESETS
from dqn_ref.training.train import train

MEMORY = 10_000  # transitions the update-alone timings sample from
NAMES = ("naive", "dqn_ref", "sb3")


def loop_config(preset: DQNConfig, steps: int, learning_starts: int = 200) -> DQNConfig:
    """`preset` for a short timed loop: `steps` agent steps, no evaluation, a short warm-up, and the
    epsilon schedule compressed with the run, so that the share of greedy steps (a forward pass in
    every implementation) is the full run's, not that of its first `steps` steps."""
    return preset.replace(
        total_steps=steps,
        total_episodes=0,
        learning_starts=learning_starts,
        epsilon_duration=max(1, steps * preset.epsilon_duration // preset.total_steps),
        eval_interval=0,
        final_eval_episodes=0,
        device="cpu",
    )


def machine() -> dict[str, Any]:
    """What the figures were measured on, SB3's version included."""
    info = base_machine()
    if sb3_available():
        info["stable_baselines3"] = importlib.metadata.version("stable-baselines3")
    return info


def loop_naive(config: DQNConfig, seed: int) -> tuple[float, int]:
    result = naive_train_steps(config, config.total_steps, seed)
    return result.wall_time_s, result.updates


def loop_dqn_ref(config: DQNConfig, seed: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        # No TensorBoard file: the loops it is compared with log nothing.
        run_config = config.replace(seed=seed, tensorboard=False)
        result = train(run_config, Path(folder) / "run", progress=False)
    return result.wall_time_s, result.updates


def loop_sb3(config: DQNConfig, seed: int) -> tuple[float, int]:
    model = make_dqn(
        matched_kwargs(config, config.total_steps), config.env_id, seed, config.num_envs
    )
    start = time.perf_counter()
    model.learn(config.total_steps)
    return time.perf_counter() - start, int(model._n_updates)


def updater_naive(config: DQNConfig) -> Callable[[int], None]:
    agent = NaiveAgent(config, 4, 2)
    fill_memory(agent, MEMORY)

    def run(count: int) -> None:
        for _ in range(count):
            naive_update(agent)

    return run


def updater_dqn_ref(config: DQNConfig) -> Callable[[int], None]:
    agent = DQNAgent(config, (4,), 2, torch.device("cpu"))
    buffer = random_replay(MEMORY, "cpu")

    def run(count: int) -> None:
        for _ in range(count):
            agent.update(buffer.sample(config.batch_size))

    return run


def updater_sb3(config: DQNConfig) -> Callable[[int], None]:
    model = make_dqn(matched_kwargs(config, config.total_steps), config.env_id)
    fill_replay(model, MEMORY)

    def run(count: int) -> None:
        model.train(gradient_steps=count, batch_size=config.batch_size)

    return run


LOOPS: dict[str, Callable[[DQNConfig, int], tuple[float, int]]] = {
    "naive": loop_naive,
    "dqn_ref": loop_dqn_ref,
    "sb3": loop_sb3,
}
UPDATERS: dict[str, Callable[[DQNConfig], Callable[[int], None]]] = {
    "naive": updater_naive,
    "dqn_ref": updater_dqn_ref,
    "sb3": updater_sb3,
}


def measure(
    preset: DQNConfig, steps: int, updates: int, repeats: int, names: list[str]
) -> dict[str, dict[str, list[float]]]:
    """Per implementation: loop seconds, updates made in the loop, and seconds per update alone,
    one entry per repeat."""
    config = loop_config(preset, steps)
    torch.set_num_threads(config.torch_threads or torch.get_num_threads())
    updaters = {name: UPDATERS[name](preset) for name in names}
    for run in updaters.values():
        run(10)  # warm-up: first-call allocations and lazy initialisation
    samples: dict[str, dict[str, list[float]]] = {
        name: {"loop_s": [], "loop_updates": [], "update_s": []} for name in names
    }
    for repeat in range(repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            seconds, made = LOOPS[name](config, repeat)
            samples[name]["loop_s"].append(seconds)
            samples[name]["loop_updates"].append(made)
            start = time.perf_counter()
            updaters[name](updates)
            samples[name]["update_s"].append((time.perf_counter() - start) / updates)
        print(
            f"repeat {repeat + 1}/{repeats}: "
            + ", ".join(f"{name} loop {samples[name]['loop_s'][-1]:.2f} s" for name in order),
            flush=True,
        )
    return samples


def summarise(
    samples: dict[str, dict[str, list[float]]], steps: int
) -> dict[str, dict[str, float]]:
    """Medians per implementation: us per agent step, ms per update in the loop and alone."""
    summary = {}
    for name, values in samples.items():
        per_step = [s / steps for s in values["loop_s"]]
        per_update = [s / u for s, u in zip(values["loop_s"], values["loop_updates"], strict=True)]
        summary[name] = {
            "loop_us_per_step": statistics.median(per_step) * 1e6,
            "loop_ms_per_update": statistics.median(per_update) * 1e3,
            "update_alone_ms": statistics.median(values["update_s"]) * 1e3,
            "loop_updates": statistics.median(values["loop_updates"]),
        }
    return summary


COLUMNS = (  # key, title, format of the value
    ("loop_us_per_step", "loop per agent step (us)", ".0f"),
    ("loop_ms_per_update", "loop per update (ms)", ".2f"),
    ("update_alone_ms", "update alone (ms)", ".3f"),
)


def report(summary: dict[str, dict[str, float]], info: dict[str, Any], args: Any) -> str:
    lines = [
        f"machine: {info['cpu'] or 'unknown CPU'}, {info['cpu_count']} CPUs, torch "
        f"{info['torch']}, {info['torch_threads']} torch thread(s)"
        + (
            f", stable-baselines3 {info['stable_baselines3']}"
            if "stable_baselines3" in info
            else ""
        ),
        f"preset {args.preset}: loop of {args.steps:,} agent steps (learning_starts 200, epsilon "
        f"schedule compressed with the run, no evaluation); {args.updates} updates alone from "
        f"{MEMORY:,} transitions; median of {args.repeats} interleaved repeats",
        "",
        "| implementation | "
        + " | ".join(title for _, title, _ in COLUMNS)
        + " | updates in loop |",
        "| --- | " + " | ".join("---" for _ in COLUMNS) + " | --- |",
    ]
    for name, values in summary.items():
        lines.append(
            f"| {name} | "
            + " | ".join(f"{values[key]:{spec}}" for key, _, spec in COLUMNS)
            + f" | {values['loop_updates']:.0f} |"
        )
    lines += [
        "",
        "| ratio (time, against dqn_ref) | " + " | ".join(title for _, title, _ in COLUMNS) + " |",
        "| --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    targets = {"naive": 3.0, "sb3": 1.0}
    for name, target in targets.items():
        if name not in summary:
            continue
        ratios = [summary[name][key] / summary["dqn_ref"][key] for key, _, _ in COLUMNS]
        lines.append(
            f"| {name} / dqn_ref (target > {target:g}) | "
            + " | ".join(f"{ratio:.2f}x{'' if ratio > target else ' (misses)'}" for ratio in ratios)
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    configs = {"plain-cartpole": PLAIN_CARTPOLE, **PRESETS}
    parser.add_argument(
        "--preset",
        default="plain-cartpole",
        choices=sorted(configs),
        help="settings timed (plain-cartpole: PLAIN_CARTPOLE; a preset with Double DQN, dueling, "
        "n-step, layer norm or a decaying rate is refused: the baselines lack them)",
    )
    parser.add_argument("--steps", type=int, default=3_000, help="agent steps per timed loop")
    parser.add_argument("--updates", type=int, default=200, help="updates per update-alone timing")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats")
    parser.add_argument("--no-sb3", action="store_true", help="leave SB3 out even if installed")
    parser.add_argument("--out", type=Path, help="also write the samples and medians as JSON")
    args = parser.parse_args(argv)

    preset = configs[args.preset]
    try:
        refuse_options(preset, "the seed paper's loop")
    except ValueError as error:
        parser.error(str(error))
    names = ["naive", "dqn_ref"]
    if args.no_sb3:
        pass
    elif not sb3_available():
        print("stable-baselines3 is not installed (pip install -e .[peers]): SB3 left out")
    else:
        try:
            matched_kwargs(preset, preset.total_steps)
            names.append("sb3")
        except ValueError as error:
            print(f"SB3 left out: {error}")
    samples = measure(preset, args.steps, args.updates, args.repeats, names)
    summary = summarise(samples, args.steps)
    info = machine()
    print()
    print(report(summary, info, args))
    if args.out:
        payload = {"machine": info, "args": vars(args) | {"out": str(args.out)}}
        payload |= {"medians": summary, "samples": samples}
        args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Pong step-loop throughput against gymnasium's own single-env pipeline, from repeats interleaved
in one process, so that every figure and its baseline see the same machine state.

Measured, each on the CPU and on CUDA where torch sees a GPU (the env-only rows have no device):

- env only, random actions: the baseline, one `ALE/Pong-v5` env with gymnasium's wrappers
  (AtariPreprocessing: no-op starts, max-and-skip 4, 84x84 grayscale; FrameStackObservation of 4),
  stepped one agent step at a time and reset when an episode ends; then dqn_ref's `make_env`
  (ale-py's C++ vector env, the same pipeline) with 1 copy and with the pong preset's 8;
- act + step + store with the preset's 8 copies: the online NatureCNN picks epsilon-greedy actions,
  the envs step, FrameReplayBuffer stores (the training loop's Alg. steps 3-5, without learning);
- the whole training loop: `train()` on the pong preset shortened to --loop-steps agent steps,
  learning from --learning-starts, a 10,000-transition buffer, no evaluation (setup excluded:
  TrainResult.wall_time_s);
- one update by batch size: FrameReplayBuffer.sample then DQNAgent.update, as Alg. step 7 does;
- replay sampling alone from --replay-size random transitions: FrameReplayBuffer (each frame once)
  against the naive buffer that keeps obs and next_obs as whole (4, 84, 84) uint8 stacks.

An agent step moves every copy's game on by 4 emulator frames (frame skip 4), so frames/s is
4 x agent steps/s: the unit Atari results count (Nature's 50M frames). The table gives the
median over the repeats; "vs gymnasium" is a row's throughput over the baseline's.

python -m bench.pong_figures [--repeats 3] [--steps 400] [--loop-steps 800] [--out pong.json]

Torch runs --torch-threads threads (default 1, as bench/conftest.py sets for pytest-benchmark;
0 keeps torch's default, which is what the pong preset's torch_threads=0 asks for).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ale_py
import gymnasium as gym
import numpy as np
import torch
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation
from numpy.typing import NDArray

from bench.machine import machine as base_machine
from bench.random_frames import (
    NUM_ACTIONS,
    OBS_SHAPE,
    allocated_bytes,
    filled_frame_replay,
    filled_stack_replay,
)
from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.envs import (
    ATARI_FRAME_SKIP,
    ATARI_FRAME_STACK,
    ATARI_SCREEN_SIZE,
    atari_options,
    game_over,
    make_env,
)
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.preprocessing import clip_reward
from dqn_ref.presets import pong
from dqn_ref.replay import ReplayBuffer
from dqn_ref.replay_interface import Replay
from dqn_ref.training.train import train

gym.register_envs(ale_py)

FRAMES_PER_AGENT_STEP = ATARI_FRAME_SKIP
ACT_EPSILON = 0.1  # act always runs the online network; epsilon only picks which action is kept
LOOP_BUFFER_SIZE = 10_000  # transitions of replay in the shortened training loop
UPDATE_BUFFER_SIZE = 10_000  # transitions the update-alone timings sample from
UPDATE_BATCH_SIZES = (32, 64, 128)
SAMPLE_BATCH_SIZES = (32, 256)


# --- what is timed (bench/test_pong_loop.py times the same functions) -----------------------------


def gymnasium_pong() -> gym.Env[Any, Any]:
    """The baseline: one Pong env built with gymnasium's own Atari wrappers, the same protocol as
    dqn_ref's pipeline (no-op starts, max-and-skip 4, 84x84 grayscale, a zero-padded stack of 4)."""
    env = gym.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0)
    env = AtariPreprocessing(
        env,
        noop_max=30,
        frame_skip=ATARI_FRAME_SKIP,
        screen_size=ATARI_SCREEN_SIZE,
        grayscale_obs=True,
    )
    return FrameStackObservation(env, stack_size=ATARI_FRAME_STACK, padding_type="zero")


def step_gymnasium(env: gym.Env[Any, Any], actions: NDArray[np.int64]) -> int:
    """One agent step per action, reset when an episode ends; returns the points scored (non-zero
    rewards), so a caller can check the game really ran."""
    points = 0
    for action in actions:
        _, reward, terminated, truncated, _ = env.step(int(action))
        points += reward != 0
        if terminated or truncated:
            env.reset()
    return points


def step_vector(envs: gym.vector.VectorEnv, actions: NDArray[np.int64]) -> int:
    """One lockstep per row of actions (locksteps, num_envs); next-step autoreset does the resets.
    Returns the points scored."""
    points = 0
    for row in actions:
        _, reward, _, _, _ = envs.step(row)
        points += int(np.count_nonzero(reward))
    return points


def random_actions(agent_steps: int, num_envs: int, seed: int = 0) -> NDArray[np.int64]:
    """(agent_steps // num_envs, num_envs) uniformly random Pong actions."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, NUM_ACTIONS, (agent_steps // num_envs, num_envs))


class ActStepStore:
    """The training loop without learning (spec/algorithm.md, Alg. steps 3-5) at the pong preset's
    sizes: epsilon-greedy act on the online NatureCNN, step the 8 copies, store the real transitions
    (not the autoreset steps) in a FrameReplayBuffer."""

    def __init__(self, device: torch.device | str, capacity: int, config: DQNConfig = pong):
        self.config = config
        self.envs = make_env(
            config.env_id, config.num_envs, atari=atari_options(config, training=True)
        )
        self.agent = DQNAgent(config, OBS_SHAPE, NUM_ACTIONS, torch.device(device))
        self.buffer = FrameReplayBuffer(capacity, OBS_SHAPE, config.num_envs, device)
        self.obs, _ = self.envs.reset(seed=config.seed)
        self.resetting = np.zeros(config.num_envs, dtype=bool)

    def run(self, locksteps: int) -> int:
        """Step every copy `locksteps` times; returns the transitions stored."""
        stored = 0
        for _ in range(locksteps):
            actions = self.agent.act(self.obs, ACT_EPSILON)
            next_obs, reward, terminated, truncated, info = self.envs.step(actions)
            ended = game_over(terminated, truncated, info)
            real = ~self.resetting
            self.buffer.add(
                self.obs[real],
                actions[real],
                clip_reward(reward)[real],
                next_obs[real],
                terminated[real],
                episode_end=ended[real],
                env_ids=np.flatnonzero(real),
            )
            stored += int(real.sum())
            self.resetting = ended
            self.obs = next_obs
        return stored


def loop_config(steps: int, learning_starts: int, device: str) -> DQNConfig:
    """The pong preset shortened for a timed run: `steps` agent steps, a 10,000-transition buffer,
    no evaluation. Past learning_starts it makes one update every 2 agent steps, as a full run does
    for all but its first 0.5% of steps."""
    return pong.replace(
        total_steps=steps,
        learning_starts=learning_starts,
        buffer_size=LOOP_BUFFER_SIZE,
        eval_interval=0,
        final_eval_episodes=0,
        device=device,
    )


def synchronize(device: torch.device | str) -> None:
    """Wait for queued CUDA work, so that a timer stopped after this has timed it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


# --- interleaved repeats ------------------------------------------------------------------------

# A measurement runs once and returns (seconds, units done): agent steps, updates or transitions.
Measurement = Callable[[], tuple[float, float]]


def timed(
    work: Callable[[], object], units: float, device: torch.device | str = "cpu"
) -> Measurement:
    def measure() -> tuple[float, float]:
        start = time.perf_counter()
        work()
        synchronize(device)
        return time.perf_counter() - start, units

    return measure


def devices_here(requested: str) -> list[str]:
    if requested == "all":
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    if requested == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device")
    return [requested]


def build(args: argparse.Namespace) -> tuple[dict[str, Measurement], dict[str, dict[str, float]]]:
    """Every measurement, keyed by row name, and the replay buffers' bytes per transition."""
    measurements: dict[str, Measurement] = {}
    baseline = gymnasium_pong()
    baseline.reset(seed=0)
    baseline_actions = random_actions(args.steps, 1)[:, 0]
    measurements["env: gymnasium, 1 env (baseline)"] = timed(
        functools.partial(step_gymnasium, baseline, baseline_actions), len(baseline_actions)
    )
    for num_envs in (1, pong.num_envs):
        envs = make_env(pong.env_id, num_envs)
        envs.reset(seed=0)
        actions = random_actions(args.steps, num_envs)
        measurements[f"env: dqn_ref make_env, {num_envs} env(s)"] = timed(
            functools.partial(step_vector, envs, actions), actions.size
        )
    replay_bytes: dict[str, dict[str, float]] = {}
    for device in devices_here(args.device):
        locksteps = args.steps // pong.num_envs
        actor = ActStepStore(device, capacity=LOOP_BUFFER_SIZE)  # a ring: it wraps if it must
        actor.run(2)  # warm-up: first forward pass, first allocations
        measurements[f"act + step + store, 8 envs, {device}"] = timed(
            functools.partial(actor.run, locksteps),
            locksteps * pong.num_envs,
            device,
        )
        config = loop_config(args.loop_steps, args.learning_starts, device)

        def loop(config: DQNConfig = config) -> tuple[float, float]:
            with tempfile.TemporaryDirectory() as folder:
                # No TensorBoard file: the loops it is compared with log nothing.
                result = train(
                    config.replace(tensorboard=False), Path(folder) / "run", progress=False
                )
            return result.wall_time_s, result.steps

        measurements[f"training loop, {device}"] = loop
        update_buffer = filled_frame_replay(UPDATE_BUFFER_SIZE, pong.num_envs, device)
        for batch_size in UPDATE_BATCH_SIZES:
            agent = DQNAgent(pong, OBS_SHAPE, NUM_ACTIONS, torch.device(device))
            agent.update(update_buffer.sample(batch_size))  # warm-up

            def updates(
                agent: DQNAgent = agent,
                buffer: FrameReplayBuffer = update_buffer,
                batch: int = batch_size,
            ) -> None:
                for _ in range(args.updates):
                    agent.update(buffer.sample(batch))

            measurements[f"update: batch {batch_size}, {device}"] = timed(
                updates, args.updates, device
            )
        buffers: dict[str, ReplayBuffer | FrameReplayBuffer] = {
            "FrameReplayBuffer": filled_frame_replay(args.replay_size, pong.num_envs, device),
            "naive full-stack ReplayBuffer": filled_stack_replay(
                args.replay_size, pong.num_envs, device
            ),
        }
        for name, buffer in buffers.items():
            replay_bytes[name] = {
                "per_slot": allocated_bytes(buffer) / buffer.capacity,
                "per_held": allocated_bytes(buffer) / len(buffer),
            }
            for batch_size in SAMPLE_BATCH_SIZES:
                count = max(1, args.sample_transitions // batch_size)

                def samples(
                    buffer: Replay = buffer,
                    batch: int = batch_size,
                    count: int = count,
                ) -> None:
                    for _ in range(count):
                        buffer.sample(batch)

                samples()  # warm-up
                measurements[f"sample: {name}, batch {batch_size}, {device}"] = timed(
                    samples, count * batch_size, device
                )
    return measurements, replay_bytes


def measure(measurements: dict[str, Measurement], repeats: int) -> dict[str, list[float]]:
    """Units per second of every measurement, one entry per repeat, in a rotating order."""
    names = list(measurements)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat * len(names) // repeats
        start = time.perf_counter()
        for name in names[shift:] + names[:shift]:
            seconds, units = measurements[name]()
            rates[name].append(units / seconds)
        print(f"repeat {repeat + 1}/{repeats}: {time.perf_counter() - start:.1f} s", flush=True)
    return rates


def machine() -> dict[str, Any]:
    """What the figures were measured on, the Atari libraries' versions included."""
    return {**base_machine(), "ale_py": ale_py.__version__, "gymnasium": gym.__version__}


def report(
    rates: dict[str, list[float]],
    replay_bytes: dict[str, dict[str, float]],
    info: dict[str, Any],
    args: argparse.Namespace,
) -> str:
    median = {name: statistics.median(values) for name, values in rates.items()}
    baseline = median["env: gymnasium, 1 env (baseline)"]
    lines = [
        f"machine: {info['cpu'] or 'unknown CPU'}, {info['cpu_count']} CPUs"
        + (f", {info['gpu']}" if "gpu" in info else ", no GPU")
        + f"; torch {info['torch']} ({info['torch_threads']} thread(s)), gymnasium "
        f"{info['gymnasium']}, ale-py {info['ale_py']}",
        f"median of {args.repeats} interleaved repeats; env and act loops {args.steps} agent "
        f"steps; training loop {args.loop_steps} agent steps, learning from step "
        f"{args.learning_starts}; {args.updates} updates per timing",
        "",
        "| step loop | agent steps/s | frames/s | per agent step | vs gymnasium 1 env |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, rate in median.items():
        if name.startswith(("env:", "act", "training")):
            lines.append(
                f"| {name} | {rate:,.0f} | {rate * FRAMES_PER_AGENT_STEP:,.0f} | "
                f"{1e6 / rate:,.0f} us | {rate / baseline:.2f}x |"
            )
    lines += [
        "",
        "| update (sample + update) | updates/s | per update | transitions/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, rate in median.items():
        if name.startswith("update:"):
            batch = int(name.split("batch ")[1].split(",")[0])
            lines.append(
                f"| {name.removeprefix('update: ')} | {rate:,.1f} | {1e3 / rate:,.1f} ms | "
                f"{rate * batch:,.0f} |"
            )
    lines += [
        "",
        f"| replay sample, {args.replay_size:,} transitions | transitions/s | per sample |",
        "| --- | ---: | ---: |",
    ]
    for name, rate in median.items():
        if name.startswith("sample:"):
            batch = int(name.split("batch ")[1].split(",")[0])
            lines.append(
                f"| {name.removeprefix('sample: ')} | {rate:,.0f} | {1e3 * batch / rate:,.2f} ms |"
            )
    lines += [
        "",
        "| replay buffer | bytes per transition of capacity | bytes per transition held |",
        "| --- | ---: | ---: |",
    ]
    for name, values in replay_bytes.items():
        lines.append(f"| {name} | {values['per_slot']:,.0f} | {values['per_held']:,.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    parser.add_argument(
        "--steps", type=int, default=400, help="agent steps per env-only and act+step+store timing"
    )
    parser.add_argument(
        "--loop-steps", type=int, default=800, help="agent steps per training-loop timing"
    )
    parser.add_argument(
        "--learning-starts", type=int, default=200, help="the training loop's first update step"
    )
    parser.add_argument("--updates", type=int, default=5, help="updates per update timing")
    parser.add_argument(
        "--replay-size", type=int, default=50_000, help="transitions in the sampled buffers"
    )
    parser.add_argument(
        "--sample-transitions",
        type=int,
        default=4_096,
        help="transitions drawn per sample timing (in batches of 32 or 256)",
    )
    parser.add_argument("--device", default="all", choices=["all", "cpu", "cuda"])
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="torch intra-op threads (0: torch's default)"
    )
    parser.add_argument("--out", type=Path, help="also write the rates and medians as JSON")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("cv2") is None:
        raise SystemExit(
            "the gymnasium baseline's AtariPreprocessing needs OpenCV: "
            "pip install opencv-python-headless"
        )
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)

    start = time.perf_counter()
    measurements, replay_bytes = build(args)
    print(f"set-up: {time.perf_counter() - start:.1f} s", flush=True)
    rates = measure(measurements, args.repeats)
    info = machine()
    print()
    print(report(rates, replay_bytes, info, args))
    if args.out:
        payload: dict[str, Any] = {"machine": info, "args": vars(args) | {"out": str(args.out)}}
        payload |= {
            "units_per_s": rates,
            "replay_bytes_per_transition": replay_bytes,
            "frames_per_agent_step": FRAMES_PER_AGENT_STEP,
        }
        args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()

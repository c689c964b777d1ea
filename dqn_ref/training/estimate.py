"""How long a run will take here, measured before it starts, so a CPU user knows what they face."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from dqn_ref.agent import DQNAgent
from dqn_ref.batch import Batch
from dqn_ref.config import DQNConfig
from dqn_ref.env_source import env_kwargs_of
from dqn_ref.envs import EnvSpaces, atari_options, make_env

WARN_ABOVE_S = 600.0  # runs estimated shorter than this start without a word
CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}
TIMED_UPDATES = 5
TIMED_LOCKSTEPS = 20


def seconds_per_update(config: DQNConfig, spaces: EnvSpaces, device: torch.device) -> float:
    """Time of one update of a scratch agent on a minibatch of zeros (after one warm-up)."""
    with torch.random.fork_rng(devices=[]):  # the run's own weights and draws stay as seeded
        agent = DQNAgent(config, spaces.obs_shape, spaces.num_actions, device)
    zeros = torch.zeros((config.batch_size, *spaces.obs_shape), dtype=torch.float32)
    obs = zeros.to(torch.uint8) if spaces.obs_dtype == np.uint8 else zeros
    batch = Batch(
        obs=obs.to(device),
        action=torch.zeros(config.batch_size, dtype=torch.int64, device=device),
        reward=torch.zeros(config.batch_size, device=device),
        next_obs=obs.to(device),
        terminated=torch.zeros(config.batch_size, dtype=torch.bool, device=device),
    )
    agent.update(batch)
    start = time.perf_counter()
    for _ in range(TIMED_UPDATES):
        agent.update(batch)
    return (time.perf_counter() - start) / TIMED_UPDATES


def seconds_per_lockstep(config: DQNConfig, spaces: EnvSpaces) -> float:
    """Time of one step of all copies of a scratch environment, with random actions."""
    envs = make_env(
        config.env_id,
        config.num_envs,
        0,
        atari_options(config, training=True),
        env_kwargs_of(config.env_kwargs),
    )
    try:
        envs.reset(seed=config.seed)
        actions = np.zeros(config.num_envs, dtype=np.int64)
        start = time.perf_counter()
        for _ in range(TIMED_LOCKSTEPS):
            envs.step(actions)
        return (time.perf_counter() - start) / TIMED_LOCKSTEPS
    finally:
        envs.close()


def cpu_has_native_bf16() -> bool | None:
    """Whether the CPU multiplies bf16 natively (AVX512-BF16 or AMX); None where unknown."""
    cpuinfo = CPUINFO
    if not cpuinfo.exists():
        return None
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return bool(NATIVE_BF16_FLAGS & set(line.split(":", 1)[1].split()))
    return None


def print_cpu_estimate(config: DQNConfig, spaces: EnvSpaces, device: torch.device) -> None:
    """Print one line with the run's estimated length when it will take more than ten minutes,
    and one when bf16 was asked for on a CPU that would emulate it."""
    if config.precision == "bfloat16" and cpu_has_native_bf16() is False:
        print(
            "note: this CPU has no native bf16 (avx512_bf16 or amx_bf16), so --precision "
            "bfloat16 runs slower than float32 here; use --precision float32",
            flush=True,
        )
    updates = max(0, config.total_steps - config.learning_starts) // config.train_frequency
    update_s = seconds_per_update(config, spaces, device)
    if updates * update_s < WARN_ABOVE_S / 2:
        return  # a small update (CartPole's MLP) needs no environment timing to be dismissed
    lockstep_s = seconds_per_lockstep(config, spaces)
    total_s = updates * update_s + config.total_steps / config.num_envs * lockstep_s
    if total_s < WARN_ABOVE_S:
        return
    print(
        f"note: on this CPU this run will take about {total_s / 3600:.1f} h "
        f"({updates:,} updates at {update_s * 1e3:.0f} ms, {config.total_steps:,} agent steps); "
        "a CUDA GPU is far faster (docs/guides/install.md, 'With a GPU'), or shorten it with "
        "--steps N",
        flush=True,
    )

"""Stable-Baselines3's DQN, built two ways for the comparisons in bench/: matched to a dqn_ref
config (the speed benchmarks) and with RL-Zoo's presets for CartPole-v1, Acrobot-v1, MountainCar-v0
and LunarLander-v3 (bench/peers.py).

stable-baselines3 is an optional extra (`pip install -e .[peers]`); it is imported only inside the
functions here, so importing this module never needs it. Not part of the dqn_ref package.

How a DQNConfig maps onto SB3's DQN (`matched_kwargs`), field by field:

- hidden_sizes: policy_kwargs net_arch (a ReLU MLP, as dqn_ref's).
- batch_size, buffer_size, gamma, learning_starts: the same names. SB3 always acts uniformly at
  random until learning_starts; dqn_ref does with random_warmup (eq-eps-warmup), and otherwise
  follows its epsilon schedule from the start.
- num_envs: SB3's n_envs (a DummyVecEnv of that many copies, built by `make_dqn`). SB3 counts
  train_freq in steps of the vector env, each num_envs agent steps.
- train_frequency, gradient_steps: with gradient_steps set (eq-update-rounds), SB3's own
  schedule: train_freq = train_frequency / num_envs steps of the vector env, gradient_steps the
  same (-1 included). Without it, one update per train_frequency agent steps, as
  train_freq=(vector steps, "step") with gradient_steps updates each: (train_frequency, 1) with
  one copy, (1, 1) for 4 copies and 1 update per 4 agent steps.
- target_update_interval, tau: SB3 applies Polyak averaging of weight tau every
  target_update_interval env steps (tau 1 is a hard copy), as eq-soft/eq-hard do, but at most
  once per vector step: with num_envs copies and an interval below num_envs, tau becomes
  1 - (1 - tau)^(num_envs / interval), the same averaging horizon in agent steps.
- optimizer, learning_rate, optimizer_eps, weight_decay, amsgrad: policy_kwargs optimizer_class
  (Adam or AdamW) and optimizer_kwargs, and learning_rate.
- max_grad_norm: max_grad_norm (None becomes infinity, which clips nothing).
- the linear epsilon schedule: exploration_initial_eps, exploration_final_eps, and
  exploration_fraction = epsilon_fraction where set (eq-eps-fraction), else epsilon_duration /
  the run's length in agent steps.

SB3's loss is always smooth L1 (Huber with delta 1), it clips no gradient values, its schedule is
linear only and time-limit truncation always bootstraps (its replay buffer handles timeouts, as
dqn_ref does by default): a config asking otherwise raises ValueError. SB3 never clips rewards;
that is left unmapped, since CartPole's rewards are all 1 and clipping changes nothing there.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.naive_dqn import refuse_options
from dqn_ref.config import DQNConfig

if TYPE_CHECKING:
    from stable_baselines3 import DQN

# RL-Baselines3-Zoo's CartPole-v1 hyperparameters for DQN ("Almost Tuned"), as in
# https://github.com/DLR-RM/rl-baselines3-zoo/blob/master/hyperparams/dqn.yml, with SB3's defaults
# for everything it leaves out (tau 1: hard copies; exploration from 1.0; max_grad_norm 10; Adam).
RL_ZOO_CARTPOLE_STEPS = 50_000  # n_timesteps: 5e4
RL_ZOO_CARTPOLE: dict[str, Any] = {
    "learning_rate": 2.3e-3,
    "batch_size": 64,
    "buffer_size": 100_000,
    "learning_starts": 1_000,
    "gamma": 0.99,
    "target_update_interval": 10,
    "train_freq": 256,
    "gradient_steps": 128,
    "exploration_fraction": 0.16,
    "exploration_final_eps": 0.04,
    "policy_kwargs": {"net_arch": [256, 256]},
}

# RL Zoo's "Tuned" Acrobot-v1 and LunarLander-v3 presets (the same numbers for both) and its
# "Tuned" MountainCar-v0 preset, from the same file (commit 22e3ff2); dqn_ref's acrobot,
# lunarlander and mountaincar presets are these in dqn_ref's fields (spec/presets.md#control), and
# matched_kwargs turns them back into these (tests/test_bench_sb3_dqn.py).
RL_ZOO_ACROBOT_STEPS = 100_000  # n_timesteps: 1e5
RL_ZOO_ACROBOT: dict[str, Any] = {
    "learning_rate": 6.3e-4,
    "batch_size": 128,
    "buffer_size": 50_000,
    "learning_starts": 0,
    "gamma": 0.99,
    "target_update_interval": 250,
    "train_freq": 4,
    "gradient_steps": -1,
    "exploration_fraction": 0.12,
    "exploration_final_eps": 0.1,
    "policy_kwargs": {"net_arch": [256, 256]},
}
RL_ZOO_MOUNTAINCAR_STEPS = 120_000  # n_timesteps: 1.2e5
RL_ZOO_MOUNTAINCAR: dict[str, Any] = {
    "learning_rate": 4e-3,
    "batch_size": 128,
    "buffer_size": 10_000,
    "learning_starts": 1_000,
    "gamma": 0.98,
    "target_update_interval": 600,
    "train_freq": 16,
    "gradient_steps": 8,
    "exploration_fraction": 0.2,
    "exploration_final_eps": 0.07,
    "policy_kwargs": {"net_arch": [256, 256]},
}
# dqn_ref's preset name -> RL Zoo's (n_timesteps, hyperparameters) for the same environment.
RL_ZOO: dict[str, tuple[int, dict[str, Any]]] = {
    "cartpole": (RL_ZOO_CARTPOLE_STEPS, RL_ZOO_CARTPOLE),
    "acrobot": (RL_ZOO_ACROBOT_STEPS, RL_ZOO_ACROBOT),
    "lunarlander": (RL_ZOO_ACROBOT_STEPS, RL_ZOO_ACROBOT),
    "mountaincar": (RL_ZOO_MOUNTAINCAR_STEPS, RL_ZOO_MOUNTAINCAR),
}


def sb3_available() -> bool:
    """Whether stable-baselines3 can be imported here."""
    return importlib.util.find_spec("stable_baselines3") is not None


def matched_kwargs(config: DQNConfig, total_steps: int) -> dict[str, Any]:
    """SB3 DQN keyword arguments for the same network, batch and update ratio as `config`, for a
    run of `total_steps` agent steps (SB3's exploration schedule is a fraction of the run)."""
    unmappable = [
        (config.loss != "huber" or config.huber_delta != 1.0, "a loss other than Huber delta 1"),
        (config.max_grad_value is not None, "gradient clipping by value"),
        (config.epsilon_schedule != "linear", "an exponential epsilon schedule"),
        (config.network != "mlp", "a network other than the MLP"),
        (config.target_hard_copy_episodes != 0, "episodic target copies"),
        (
            config.train_frequency % config.num_envs != 0
            and config.num_envs % config.train_frequency != 0,
            "a train_frequency that neither divides nor is a multiple of num_envs",
        ),
        (config.truncation_as_terminal, "masking the bootstrap on time-limit truncation"),
        (
            config.gradient_steps != 0 and config.train_frequency % config.num_envs != 0,
            "rounds of updates that end part-way through a step of its vector env",
        ),
    ]
    refuse_options(config, "SB3's DQN (as matched here)")
    for problem, what in unmappable:
        if problem:
            raise ValueError(f"SB3's DQN has no equivalent of {what}")
    optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    vector_steps_per_update = max(config.train_frequency // config.num_envs, 1)
    updates_per_vector_step = max(config.num_envs // config.train_frequency, 1)
    if config.gradient_steps != 0:  # SB3's rounds, as they are (eq-update-rounds)
        vector_steps_per_update = config.train_frequency // config.num_envs
        updates_per_vector_step = config.gradient_steps
    exploration_fraction = config.epsilon_fraction
    if exploration_fraction is None:
        # Above 1 when the schedule outlasts the run: SB3's LinearSchedule then stops part way too.
        exploration_fraction = config.epsilon_duration / total_steps
    syncs_per_vector_step = config.num_envs / config.target_update_interval
    tau = config.tau
    if syncs_per_vector_step > 1:
        tau = 1 - (1 - config.tau) ** syncs_per_vector_step
    return {
        "learning_rate": config.learning_rate,
        "buffer_size": config.buffer_size,
        "learning_starts": config.learning_starts,
        "batch_size": config.batch_size,
        "tau": tau,
        "gamma": config.gamma,
        "train_freq": (vector_steps_per_update, "step"),
        "gradient_steps": updates_per_vector_step,
        "target_update_interval": config.target_update_interval,
        "exploration_initial_eps": config.epsilon_start,
        "exploration_final_eps": config.epsilon_end,
        "exploration_fraction": exploration_fraction,
        "max_grad_norm": config.max_grad_norm if config.max_grad_norm is not None else np.inf,
        "policy_kwargs": {
            "net_arch": list(config.hidden_sizes),
            "optimizer_class": optimizer_class,
            "optimizer_kwargs": {
                "eps": config.optimizer_eps,
                "weight_decay": config.weight_decay,
                "amsgrad": config.amsgrad,
            },
        },
    }


def make_dqn(
    kwargs: dict[str, Any], env_id: str = "CartPole-v1", seed: int = 0, num_envs: int = 1
) -> DQN:
    """SB3's DQN with an MLP policy on the CPU over num_envs copies of env_id, seeded, logging
    nowhere (no temporary folders)."""
    from stable_baselines3 import DQN
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import Logger

    envs = make_vec_env(env_id, n_envs=num_envs, seed=seed)
    model = DQN("MlpPolicy", envs, seed=seed, device="cpu", verbose=0, **kwargs)
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


def fill_replay(model: DQN, count: int, seed: int = 0) -> None:
    """Store `count` random 4-dimensional transitions (5% terminal) in the model's replay buffer."""
    rng = np.random.default_rng(seed)
    buffer = model.replay_buffer
    assert buffer is not None
    for _ in range(count):
        buffer.add(
            rng.normal(size=(1, 4)).astype(np.float32),
            rng.normal(size=(1, 4)).astype(np.float32),
            rng.integers(0, 2, size=(1, 1)),
            np.ones(1, np.float32),
            np.array([rng.random() < 0.05]),
            [{}],
        )

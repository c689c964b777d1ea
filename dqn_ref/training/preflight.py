"""Checks that need the environment or the machine, made before a run builds anything.

DQNConfig refuses what no environment or machine could run (spec/reliability.md#input-validation);
these refuse what this environment or this machine cannot: a network that does not suit the
observations, a graphed update without frame stacks to draw on the device, an Atari replay buffer
too small for its frame stacks, networks or a replay buffer larger than memory. Each is one line,
naming the value to change, and each comes before the run's folder is made
(spec/reliability.md#input-validation): a run builds its parts only after these pass, so that
nothing it builds can refuse the config with files already written.
"""

from __future__ import annotations

import torch

from dqn_ref.config import DQNConfig
from dqn_ref.env_source import env_kwargs_of
from dqn_ref.envs import (
    ATARI_FRAME_SKIP,
    ATARI_MAX_EPISODE_FRAMES,
    EnvSpaces,
    atari_options,
    env_spaces,
    is_atari,
    make_env,
)
from dqn_ref.errors import DQNRefError
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.loop import updates_due
from dqn_ref.memory import check_buffer_fits, check_networks_fit
from dqn_ref.nstep import TransitionLinks
from dqn_ref.replay import ReplayBuffer
from dqn_ref.training.build import resolve_device, uses_frame_replay
from dqn_ref.training.wandb_log import check_wandb


def environment_spaces(config: DQNConfig) -> EnvSpaces:
    """One copy of the config's environment, made and closed: an unknown id, a missing extra or a
    continuous action space fails here, once, with its one-line message."""
    envs = make_env(
        config.env_id,
        1,
        config.max_episode_steps,
        atari_options(config, True),
        env_kwargs_of(config.env_kwargs),
    )
    try:
        return env_spaces(envs, config.env_id)
    finally:
        envs.close()


def check_config_suits(config: DQNConfig, spaces: EnvSpaces) -> None:
    """The network must read the observations, and a frame buffer must hold two stacks per copy."""
    if config.network == "mlp" and len(spaces.obs_shape) != 1:
        raise DQNRefError(
            f"network mlp needs flat observations, but {config.env_id} gives shape "
            f"{spaces.obs_shape}; use --network nature_cnn"
        )
    if config.network == "nature_cnn" and len(spaces.obs_shape) != 3:
        raise DQNRefError(
            f"network nature_cnn needs stacked frames (K, H, W), but {config.env_id} gives shape "
            f"{spaces.obs_shape}; use --network mlp"
        )
    if config.graphed_update and not uses_frame_replay(spaces):
        # The graphed update draws its minibatch inside the graph, from the device replay of
        # stacked uint8 frames (dqn_ref/training/build.py, make_update).
        raise DQNRefError(
            "graphed_update draws minibatches with the device replay, which holds stacked Atari "
            f"frames; {config.env_id} gives observations of shape {spaces.obs_shape}, so drop "
            "--graphed-update"
        )
    if is_atari(config.env_id):
        check_noops_fit(config)
    if uses_frame_replay(spaces):
        stack = spaces.obs_shape[0]
        smallest = 2 * (stack + 1) * config.num_envs
        if config.buffer_size // config.num_envs < 2 * (stack + 1):
            raise DQNRefError(
                f"buffer_size={config.buffer_size} is too small for {config.num_envs} copies of "
                f"{stack}-frame stacks; raise buffer_size to at least {smallest}"
            )


def check_noops_fit(config: DQNConfig) -> None:
    """Atari resets play up to noop_max no-op frames; as many as an episode holds would end every
    episode before the agent acts, and the run would never progress."""
    for name, steps in [
        ("max_episode_steps", config.max_episode_steps),
        ("eval_max_episode_steps", config.eval_max_episode_steps or config.max_episode_steps),
    ]:
        frames = steps * ATARI_FRAME_SKIP if steps else ATARI_MAX_EPISODE_FRAMES
        if config.noop_max >= frames:
            raise DQNRefError(
                f"noop_max={config.noop_max} no-op frames fill a whole episode of {frames} "
                f"frames ({name}={steps}), so the agent would never act; lower noop_max"
            )


def check_replay_fits(config: DQNConfig, spaces: EnvSpaces, device: torch.device) -> None:
    """The replay buffer's memory check, made by its constructor before it allocates, made here
    before any folder: a study's or a search's refusal would otherwise come from its first seed,
    with the study's folder made. The same sums as ReplayBuffer's and FrameReplayBuffer's."""
    capacity = config.buffer_size
    if uses_frame_replay(spaces):
        slots = capacity // config.num_envs * config.num_envs
        frames, metadata = FrameReplayBuffer.bytes_needed(
            capacity, spaces.obs_shape, config.num_envs
        )
        if device.type == "cpu":
            check_buffer_fits(frames + metadata, device, slots)
        else:
            check_buffer_fits(frames, device, slots)
            check_buffer_fits(metadata, torch.device("cpu"), slots)
        return
    needed = ReplayBuffer.bytes_needed(capacity, spaces.obs_shape, spaces.obs_dtype)
    if config.n_step > 1 and device.type == "cpu":
        needed += capacity * TransitionLinks.BYTES_PER_ROW
    check_buffer_fits(needed, device, capacity)


def check_run_can_start(config: DQNConfig, device: torch.device) -> None:
    """Everything a run needs from this environment and this machine, checked before it starts."""
    check_wandb(config.wandb)
    spaces = environment_spaces(config)
    check_config_suits(config, spaces)
    check_networks_fit(config.network, config.hidden_sizes, config.batch_size, device)
    check_replay_fits(config, spaces, device)


def check_can_run_here(config: DQNConfig) -> torch.device:
    """check_run_can_start on the device the config resolves to here, which it returns."""
    device = resolve_device(config.device)
    check_run_can_start(config, device)
    return device


def run_warnings(config: DQNConfig) -> list[str]:
    """What a config allows but a user would not want, each a line said before the run starts."""
    warnings = []
    if updates_due(config, config.total_steps) == 0 and config.gradient_steps != 0:
        warnings.append(
            f"total_steps={config.total_steps} ends before the first round of updates (rounds of "
            f"train_frequency={config.train_frequency} agent steps, the first ending after "
            f"learning_starts={config.learning_starts}), so this run makes no update and its "
            "network stays as initialised; raise --steps or lower --train-frequency"
        )
    elif updates_due(config, config.total_steps) == 0:
        warnings.append(
            f"total_steps={config.total_steps} ends before learning_starts="
            f"{config.learning_starts}, so this run makes no update and its network stays as "
            "initialised; raise --steps or lower --learning-starts"
        )
    return warnings

"""Building a run's parts from its config: the device and the replay buffer."""

from __future__ import annotations

import numpy as np
import torch

from dqn_ref.config import DQNConfig
from dqn_ref.envs import EnvSpaces
from dqn_ref.errors import DQNRefError
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.replay import ReplayBuffer
from dqn_ref.replay_interface import Replay

# The replay sampler gets its own seed so that its index stream is not the stream the agent's
# exploration draws from (both are seeded from config.seed).
REPLAY_SEED_OFFSET = 7_919


def resolve_device(requested: str) -> torch.device:
    """cpu, cuda, or for auto whichever is best here; a one-line error when cuda is absent."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise DQNRefError(
            "--device cuda asked for, but this torch sees no CUDA device; use --device cpu, "
            "or install a CUDA build of torch (README, 'GPU install')"
        )
    return torch.device(requested)


def check_first_update_can_sample(config: DQNConfig) -> None:
    """An n-step minibatch needs a complete transition: n stored steps of one copy's episode, or
    fewer that end it. Once min(learning_starts, buffer_size) >= n_step x num_envs transitions are
    stored, some copy holds n of its own, so the first update finds one; below that it might
    redraw forever."""
    needed = config.n_step * config.num_envs
    if config.n_step > 1 and min(config.learning_starts, config.buffer_size) < needed:
        raise DQNRefError(
            f"n_step={config.n_step} with num_envs={config.num_envs} needs learning_starts and "
            f"buffer_size of at least {needed} (n_step x num_envs) so that the first update finds "
            f"a complete n-step transition; raise --learning-starts to {needed}"
        )


def make_replay_buffer(config: DQNConfig, spaces: EnvSpaces, device: torch.device) -> Replay:
    """Frame-deduplicated replay for stacked uint8 frames (Atari), the plain buffer otherwise."""
    check_first_update_can_sample(config)
    seed = config.seed + REPLAY_SEED_OFFSET
    if len(spaces.obs_shape) == 3 and spaces.obs_dtype == np.uint8:
        return FrameReplayBuffer(
            config.buffer_size,
            spaces.obs_shape,
            config.num_envs,
            device,
            seed,
            n_step=config.n_step,
            gamma=config.gamma,
        )
    return ReplayBuffer(
        config.buffer_size,
        spaces.obs_shape,
        spaces.obs_dtype,
        device,
        seed,
        n_step=config.n_step,
        gamma=config.gamma,
    )

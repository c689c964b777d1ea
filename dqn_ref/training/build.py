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


def uses_frame_replay(spaces: EnvSpaces) -> bool:
    """Stacked uint8 frames (Atari) go to the frame-deduplicated buffer, anything else to the
    plain one."""
    return len(spaces.obs_shape) == 3 and spaces.obs_dtype == np.uint8


def make_replay_buffer(config: DQNConfig, spaces: EnvSpaces, device: torch.device) -> Replay:
    """Frame-deduplicated replay for stacked uint8 frames (Atari), the plain buffer otherwise."""
    seed = config.seed + REPLAY_SEED_OFFSET
    if uses_frame_replay(spaces):
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

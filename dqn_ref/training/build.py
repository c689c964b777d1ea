"""Building a run's parts from its config: the device, the agent, the replay buffer, its update
and the loop; here the config's speed-ups (dqn_ref/fast/) take the reference's place."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from gymnasium.vector import VectorEnv

from dqn_ref.agent import DQNAgent, make_optimizer
from dqn_ref.config import DQNConfig
from dqn_ref.envs import EnvSpaces
from dqn_ref.errors import DQNRefError
from dqn_ref.fast.compiled_update import CompiledUpdate
from dqn_ref.fast.device_replay import DeviceFrameReplay
from dqn_ref.fast.graphed_update import GraphedUpdate, capturable_optimizer
from dqn_ref.fast.overlapped_loop import overlapped_dqn_loop
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.loop import LoopReport, dqn_loop
from dqn_ref.loop_state import LoopState
from dqn_ref.replay import ReplayBuffer
from dqn_ref.replay_interface import Replay
from dqn_ref.training.wording import count
from dqn_ref.update import UpdateOutcome

# The replay sampler gets its own seed so that its index stream is not the stream the agent's
# exploration draws from (both are seeded from config.seed).
REPLAY_SEED_OFFSET = 7_919


def resolve_device(requested: str) -> torch.device:
    """cpu, cuda, cuda:N (the Python API's choice of GPU), or for auto whichever is best here;
    a one-line error for any other name, and for a GPU this machine does not have."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind, colon, index = requested.partition(":") if isinstance(requested, str) else ("", "", "")
    if kind not in ("cpu", "cuda") or (colon and not (kind == "cuda" and index.isdigit())):
        raise DQNRefError(
            f"device {requested!r} is not one dqn_ref runs on; use auto, cpu, cuda, or cuda:N "
            "for the GPU numbered N"
        )
    if kind == "cuda" and not torch.cuda.is_available():
        raise DQNRefError(
            f"--device {requested} asked for, but this torch sees no CUDA device; use --device "
            "cpu, or install a CUDA build of torch (docs/guides/install.md, 'With a GPU')"
        )
    if colon and int(index) >= torch.cuda.device_count():
        raise DQNRefError(
            f"device {requested} asked for, but this machine has "
            f"{count(torch.cuda.device_count(), 'CUDA device')}, numbered from 0; use cuda for "
            "the first"
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
        frame_replay = DeviceFrameReplay if config.device_replay else FrameReplayBuffer
        return frame_replay(
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


def make_agent(
    config: DQNConfig, obs_shape: tuple[int, ...], num_actions: int, device: torch.device
) -> DQNAgent:
    """The agent, with a capturable optimiser when its update is to be graphed."""
    optimizer = capturable_optimizer if config.graphed_update else make_optimizer
    return DQNAgent(config, obs_shape, num_actions, device, optimizer)


def make_update(config: DQNConfig, agent: DQNAgent, replay: Replay) -> Callable[[], UpdateOutcome]:
    """One update from the replay: captured as a CUDA graph with graphed_update, compiled with
    compile, else agent.update on replay.sample(batch_size) (the loop's default)."""
    if config.compile:
        return CompiledUpdate(agent, replay, config.batch_size)
    if not config.graphed_update:
        return lambda: agent.update(replay.sample(config.batch_size))
    if not isinstance(replay, DeviceFrameReplay):
        raise DQNRefError(
            "graphed_update draws minibatches with the device replay, which holds stacked Atari "
            f"frames; {config.env_id} has none, so drop --graphed-update"
        )
    return GraphedUpdate(agent, replay, config.batch_size)


def run_loop(
    config: DQNConfig,
    agent: DQNAgent,
    envs: VectorEnv,
    replay: Replay,
    state: LoopState,
    update: Callable[[], UpdateOutcome],
) -> Iterator[LoopReport]:
    """The DQN loop of dqn_ref/loop.py, or with overlap_env_step its overlapped form."""
    loop = overlapped_dqn_loop if config.overlap_env_step else dqn_loop
    return loop(config, agent, envs, replay, state, update)

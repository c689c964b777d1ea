"""Atari-shaped replay buffers filled with random frames, for timing updates and sampling alone.

The frames are random, but they arrive as an environment's frame stacks do: per copy, each next
observation is the observation shifted by one frame plus one new frame, and an episode's first
observation is a fresh stack. That is what FrameReplayBuffer stores frame by frame (it refuses
anything else), so the buffer is laid out as in a real run; what an update or a sample computes
does not depend on the pixel values, only on the sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray

from dqn_ref.envs import ATARI_FRAME_STACK, ATARI_SCREEN_SIZE
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.replay import ReplayBuffer
from dqn_ref.replay_interface import Replay

OBS_SHAPE = (ATARI_FRAME_STACK, ATARI_SCREEN_SIZE, ATARI_SCREEN_SIZE)  # (K, H, W) uint8
NUM_ACTIONS = 6  # Pong's action set in ALE v5
# Agent steps per episode of the random streams: about a game of Pong under random play (21 points
# lost, some 800-1,000 agent steps). Copies are staggered so that episodes do not end together.
EPISODE_STEPS = 900


class FrameTransitions(NamedTuple):
    """One lockstep of num_envs copies: the fields of FrameReplayBuffer.add, each (n, ...)."""

    obs: NDArray[np.uint8]  # (n, K, H, W)
    action: NDArray[np.int64]  # (n,)
    reward: NDArray[np.float32]  # (n,), clipped as stored: -1, 0 or 1
    next_obs: NDArray[np.uint8]  # (n, K, H, W): obs shifted by one frame, then a new frame
    terminated: NDArray[np.bool_]  # (n,)
    episode_end: NDArray[np.bool_]  # (n,): the copy's next obs is a fresh stack


def random_frame_transitions(
    num_envs: int, locksteps: int, seed: int = 0, episode_steps: int = EPISODE_STEPS
) -> Iterator[FrameTransitions]:
    """locksteps steps of num_envs copies that play random frames; an episode of copy c ends
    (terminated) every episode_steps agent steps, offset by c * episode_steps // num_envs."""
    rng = np.random.default_rng(seed)
    frame_shape = OBS_SHAPE[1:]
    obs = rng.integers(0, 256, (num_envs, *OBS_SHAPE), dtype=np.uint8)
    offsets = np.arange(num_envs) * episode_steps // num_envs
    for step in range(locksteps):
        new_frames = rng.integers(0, 256, (num_envs, 1, *frame_shape), dtype=np.uint8)
        next_obs = np.concatenate([obs[:, 1:], new_frames], axis=1)
        episode_end = (step + offsets) % episode_steps == episode_steps - 1
        yield FrameTransitions(
            obs=obs,
            action=rng.integers(0, NUM_ACTIONS, num_envs),
            reward=rng.choice(
                np.array([-1.0, 0.0, 1.0], np.float32), num_envs, p=[0.01, 0.98, 0.01]
            ),
            next_obs=next_obs,
            terminated=episode_end,
            episode_end=episode_end,
        )
        obs = next_obs.copy()
        ended = int(episode_end.sum())
        if ended:  # the ended copies start their next episode from a fresh stack
            obs[episode_end] = rng.integers(0, 256, (ended, *OBS_SHAPE), dtype=np.uint8)


def fill_replay(buffer: Replay, transitions: int, num_envs: int, seed: int = 0) -> None:
    """Add `transitions` random transitions (rounded down to whole locksteps of num_envs)."""
    for step in random_frame_transitions(num_envs, transitions // num_envs, seed):
        buffer.add(
            step.obs,
            step.action,
            step.reward,
            step.next_obs,
            step.terminated,
            episode_end=step.episode_end,
        )


def filled_frame_replay(
    capacity: int, num_envs: int = 8, device: torch.device | str = "cpu"
) -> FrameReplayBuffer:
    """dqn_ref's frame-deduplicated buffer of `capacity` frames, filled by one pass of random
    transitions: it then holds a little under `capacity` transitions (each episode's first stack
    takes K slots for one transition, and its last frame starts none)."""
    buffer = FrameReplayBuffer(capacity, OBS_SHAPE, num_envs, device)
    fill_replay(buffer, capacity, num_envs)
    return buffer


def filled_stack_replay(
    capacity: int, num_envs: int = 8, device: torch.device | str = "cpu"
) -> ReplayBuffer:
    """The naive baseline: dqn_ref's plain ReplayBuffer holding obs and next_obs as whole (K, H, W)
    uint8 stacks, filled with the same random transitions."""
    buffer = ReplayBuffer(capacity, OBS_SHAPE, np.uint8, device)
    fill_replay(buffer, capacity, num_envs)
    return buffer


def allocated_bytes(buffer: Replay) -> int:
    """Bytes the buffer allocates: its device storage and, for FrameReplayBuffer, host metadata.
    Divided by buffer.capacity, the cost of one more transition of capacity; by len(buffer), what
    each transition held now costs."""
    if isinstance(buffer, FrameReplayBuffer):
        frame_bytes, metadata_bytes = FrameReplayBuffer.bytes_needed(
            buffer.capacity, buffer.obs_shape, buffer.num_envs
        )
        return frame_bytes + metadata_bytes
    assert isinstance(buffer, ReplayBuffer), f"no byte count for {type(buffer).__name__}"
    fields = (buffer.obs, buffer.next_obs, buffer.action, buffer.reward, buffer.terminated)
    return sum(field.nbytes for field in fields)

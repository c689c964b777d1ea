"""Experience replay: a preallocated ring buffer of transitions, sampled uniformly by index."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import ArrayLike, DTypeLike, NDArray
from torch import Tensor


class Batch(NamedTuple):
    """A minibatch of transitions (s, a, r, s', terminated), (B, ...) each, on the device."""

    obs: Tensor  # s, (B, *obs_shape)
    action: Tensor  # a, (B,) int64
    reward: Tensor  # r, (B,) float32, already clipped if the config clips
    next_obs: Tensor  # s', (B, *obs_shape): the true next observation, also after truncation
    terminated: Tensor  # (B,) bool: s' is terminal, so eq-target does not bootstrap


def as_torch_dtype(dtype: torch.dtype | DTypeLike) -> torch.dtype:
    """torch.float32 for torch.float32, np.float32 or "float32" alike."""
    if isinstance(dtype, torch.dtype):
        return dtype
    return torch.from_numpy(np.empty(0, dtype=np.dtype(dtype))).dtype


class ReplayBuffer:
    """A ring buffer of the last `capacity` transitions, preallocated on `device`.

    Implements: spec/replay.md#eq-replay-capacity, spec/replay.md#eq-replay-fifo,
    spec/replay.md#eq-replay-alignment, spec/replay.md#eq-replay-uniform

    Each field lives in one tensor of `capacity` rows; transition i is row i of every tensor.
    Sampling draws row indices and gathers, so nothing is copied per transition and nothing is
    read back to the host.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: torch.dtype | DTypeLike = torch.float32,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ):
        if capacity < 1:
            raise ValueError(f"capacity={capacity} must be >= 1")
        self.capacity = capacity
        self.obs_shape = tuple(obs_shape)
        self.device = torch.device(device)
        dtype = as_torch_dtype(obs_dtype)
        self.obs = torch.zeros((capacity, *self.obs_shape), dtype=dtype, device=self.device)
        self.next_obs = torch.zeros_like(self.obs)
        self.action = torch.zeros(capacity, dtype=torch.int64, device=self.device)
        self.reward = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.terminated = torch.zeros(capacity, dtype=torch.bool, device=self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.next_index = 0  # row the next transition is written to
        self.size = 0  # rows holding a transition

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: ArrayLike | Tensor,
        action: ArrayLike | Tensor,
        reward: ArrayLike | Tensor,
        next_obs: ArrayLike | Tensor,
        terminated: ArrayLike | Tensor,
        *,
        episode_end: ArrayLike | None = None,
        env_ids: ArrayLike | None = None,
    ) -> None:
        """Store one transition, or n of them when every field has a leading dimension n.

        When the buffer is full the oldest transitions are overwritten first. episode_end and
        env_ids are FrameReplayBuffer's, which rebuilds observations per environment copy; this
        buffer stores whole observations and needs neither.
        """
        batched = np.ndim(obs) == len(self.obs_shape) + 1
        n = len(obs) if batched else 1  # type: ignore[arg-type]
        if n > self.capacity:
            raise ValueError(f"cannot add {n} transitions to a buffer of capacity {self.capacity}")
        rows: slice | NDArray[np.int64] = (
            slice(self.next_index, self.next_index + n)
            if self.next_index + n <= self.capacity
            else np.arange(self.next_index, self.next_index + n) % self.capacity
        )
        fields = (
            (self.obs, obs),
            (self.action, action),
            (self.reward, reward),
            (self.next_obs, next_obs),
            (self.terminated, terminated),
        )
        for storage, values in fields:
            shape = (n, *storage.shape[1:])
            if self.device.type == "cpu":
                # A CPU tensor and its .numpy() view share memory; numpy's assignment skips the
                # per-call overhead of torch indexing, which dominates for one small transition.
                storage.numpy()[rows] = np.asarray(values).reshape(shape)
            else:
                values_t = torch.as_tensor(np.asarray(values), device=self.device)
                index = rows if isinstance(rows, slice) else torch.from_numpy(rows).to(self.device)
                storage[index] = values_t.reshape(shape).to(storage.dtype)
        self.next_index = (self.next_index + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """batch_size transitions drawn uniformly, with replacement, from the filled rows."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        rows = torch.randint(
            0, self.size, (batch_size,), generator=self.generator, device=self.device
        )
        return Batch(
            obs=self.obs[rows],
            action=self.action[rows],
            reward=self.reward[rows],
            next_obs=self.next_obs[rows],
            terminated=self.terminated[rows],
        )

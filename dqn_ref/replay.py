"""Experience replay: a preallocated ring buffer of transitions, sampled uniformly by index."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, DTypeLike, NDArray
from torch import Tensor

from dqn_ref.batch import Batch
from dqn_ref.errors import DQNRefError
from dqn_ref.memory import check_buffer_fits
from dqn_ref.nstep import (
    REDRAW_ROUNDS_BEFORE_CHECK,
    TransitionLinks,
    nstep_return,
    nstep_sampling_error,
)

# Bytes stored per transition beside s and s': action int64, reward float32, terminated bool.
PER_TRANSITION_SCALAR_BYTES = 8 + 4 + 1


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
        n_step: int = 1,
        gamma: float = 0.99,
    ):
        if capacity < 1:
            raise ValueError(f"capacity={capacity} must be >= 1")
        self.n_step, self.gamma = n_step, gamma
        self.capacity = capacity
        self.obs_shape = tuple(obs_shape)
        self.device = torch.device(device)
        dtype = as_torch_dtype(obs_dtype)
        # Before anything of that size is allocated, the n-step links (host memory) included.
        needed = self.bytes_needed(capacity, obs_shape, dtype)
        if n_step > 1 and self.device.type == "cpu":
            needed += capacity * TransitionLinks.BYTES_PER_ROW
        check_buffer_fits(needed, self.device, capacity)
        # n-step sampling follows each transition's successors in its copy's episode.
        self.links = TransitionLinks(capacity) if n_step > 1 else None
        self.obs = torch.zeros((capacity, *self.obs_shape), dtype=dtype, device=self.device)
        self.next_obs = torch.zeros_like(self.obs)
        self.action = torch.zeros(capacity, dtype=torch.int64, device=self.device)
        self.reward = torch.zeros(capacity, dtype=torch.float32, device=self.device)
        self.terminated = torch.zeros(capacity, dtype=torch.bool, device=self.device)
        self.rng = np.random.default_rng(seed)  # the sampler: host-side, as in FrameReplayBuffer
        # Host storage is written through numpy views of the tensors (see add); a test turns
        # this off on the CPU to run the path every other device takes.
        self.write_through_numpy = self.device.type == "cpu"
        self.next_index = 0  # row the next transition is written to
        self.size = 0  # rows holding a transition

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        """Bytes this buffer's storage takes, all of it allocated up front."""
        return self.bytes_needed(self.capacity, self.obs_shape, self.obs.dtype)

    @staticmethod
    def bytes_needed(
        capacity: int, obs_shape: tuple[int, ...], obs_dtype: torch.dtype | DTypeLike
    ) -> int:
        """Bytes the buffer's tensors take: s and s' at the observation dtype, plus a, r and d.

        CartPole (4 float32 numbers per observation): 2 x 16 + 13 = 45 bytes per transition.
        """
        obs_bytes = int(np.prod(obs_shape)) * as_torch_dtype(obs_dtype).itemsize
        return capacity * (2 * obs_bytes + PER_TRANSITION_SCALAR_BYTES)

    def state_dict(self) -> dict[str, Any]:
        """The filled rows, the write position and the sampler's state: what a checkpoint
        needs for a resumed run to sample exactly what an uninterrupted one would.

        Rows beyond `size` are never read, so they are not saved.
        """
        return {
            "capacity": self.capacity,
            "obs_shape": list(self.obs_shape),
            "obs": self.obs[: self.size].cpu(),
            "next_obs": self.next_obs[: self.size].cpu(),
            "action": self.action[: self.size].cpu(),
            "reward": self.reward[: self.size].cpu(),
            "terminated": self.terminated[: self.size].cpu(),
            "next_index": self.next_index,
            "size": self.size,
            "rng": self.rng.bit_generator.state,
            "links": self.links.state_dict() if self.links is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refill this buffer from state_dict()'s output; its capacity and shape must match."""
        if state["capacity"] != self.capacity or tuple(state["obs_shape"]) != self.obs_shape:
            raise DQNRefError(
                f"the saved replay buffer holds {state['capacity']} transitions of shape "
                f"{tuple(state['obs_shape'])}, this run's {self.capacity} of {self.obs_shape}; "
                "resume with the checkpoint's own config"
            )
        size = state["size"]
        for name in ("obs", "next_obs", "action", "reward", "terminated"):
            getattr(self, name)[:size] = state[name].to(self.device)
        self.next_index = state["next_index"]
        self.size = size
        if "rng" in state:  # a checkpoint of an older dqn_ref kept a torch generator instead
            self.rng.bit_generator.state = state["rng"]
        if self.links is not None and state.get("links") is not None:
            self.links.load_state_dict(state["links"])

    def add(
        self,
        obs: ArrayLike | Tensor,
        action: ArrayLike | Tensor,
        reward: ArrayLike | Tensor,
        next_obs: ArrayLike | Tensor,
        terminated: ArrayLike | Tensor,
        *,
        episode_end: ArrayLike,
        env_ids: ArrayLike | None = None,
    ) -> None:
        """Store one transition, or n of them when every field has a leading dimension n.

        When the buffer is full the oldest transitions are overwritten first. episode_end
        (terminated or truncated) and env_ids (which copy each transition is from; default
        0..n-1) link each transition to its successor for n-step sampling.
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
            if self.write_through_numpy:
                # A CPU tensor and its .numpy() view share memory; numpy's assignment skips the
                # per-call overhead of torch indexing, which dominates for one small transition.
                storage.numpy()[rows] = np.asarray(values).reshape(shape)
            else:
                values_t = torch.as_tensor(np.asarray(values), device=self.device)
                index = rows if isinstance(rows, slice) else torch.from_numpy(rows).to(self.device)
                storage[index] = values_t.reshape(shape).to(storage.dtype)
        if self.links is not None:
            copies = np.arange(n) if env_ids is None else np.asarray(env_ids, dtype=np.int64)
            self.links.record(
                copies,
                np.asarray(reward).reshape(n),
                np.asarray(terminated).reshape(n),
                np.asarray(episode_end).reshape(n),
            )
        self.next_index = (self.next_index + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def end_episodes(self) -> None:
        """No later transition continues an episode stored so far (envs reset outside the loop)."""
        if self.links is not None:
            self.links.end_episodes()

    def sample(self, batch_size: int) -> Batch:
        """batch_size transitions drawn uniformly, with replacement, from the filled rows; with
        n_step > 1, from those whose n steps are stored (or whose episode ended sooner)."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if self.links is not None:
            return self._sample_nstep(batch_size, self.links)
        rows = torch.from_numpy(self.rng.integers(0, self.size, batch_size)).to(self.device)
        return Batch(
            obs=self.obs[rows],
            action=self.action[rows],
            reward=self.reward[rows],
            next_obs=self.next_obs[rows],
            terminated=self.terminated[rows],
        )

    def _check_some_nstep_transition_is_complete(self, links: TransitionLinks) -> None:
        """Raise rather than redraw forever when no stored transition has its n steps (or an
        episode end sooner); a run's learning_starts >= n_step x num_envs rules that out, so
        reaching it means the caller sampled too early."""
        chain_rows, stored = links.chains(np.arange(self.size), self.n_step)
        found = nstep_return(
            links.reward[chain_rows],
            links.terminated[chain_rows],
            links.episode_end[chain_rows],
            stored,
            self.gamma,
        )
        if not found.complete.any():
            raise ValueError(nstep_sampling_error(self.size, self.n_step))

    def _sample_nstep(self, batch_size: int, links: TransitionLinks) -> Batch:
        """eq-nstep transitions: drawn as one-step ones are, redrawn while incomplete."""
        rows = np.empty(batch_size, dtype=np.int64)
        reward = np.empty(batch_size, np.float32)
        steps = np.empty(batch_size, np.int64)
        terminated = np.empty(batch_size, bool)
        last_rows = np.empty(batch_size, dtype=np.int64)
        todo = np.arange(batch_size)
        rounds = 0
        while len(todo):
            rounds += 1
            if rounds == REDRAW_ROUNDS_BEFORE_CHECK:
                self._check_some_nstep_transition_is_complete(links)
            drawn = self.rng.integers(0, self.size, len(todo))
            chain_rows, stored = links.chains(drawn, self.n_step)
            found = nstep_return(
                links.reward[chain_rows],
                links.terminated[chain_rows],
                links.episode_end[chain_rows],
                stored,
                self.gamma,
            )
            ok = found.complete
            rows[todo[ok]] = drawn[ok]
            reward[todo[ok]] = found.reward[ok]
            steps[todo[ok]] = found.steps[ok]
            terminated[todo[ok]] = found.terminated[ok]
            last_rows[todo[ok]] = chain_rows[ok, found.steps[ok] - 1]
            todo = todo[~ok]
        device_rows = torch.from_numpy(rows).to(self.device)
        return Batch(
            obs=self.obs[device_rows],
            action=self.action[device_rows],
            reward=torch.from_numpy(reward).to(self.device),
            next_obs=self.next_obs[torch.from_numpy(last_rows).to(self.device)],
            terminated=torch.from_numpy(terminated).to(self.device),
            discount=torch.from_numpy(
                (self.gamma ** steps.astype(np.float64)).astype(np.float32)
            ).to(self.device),
        )

"""Frame replay sampled on its device: minibatches drawn and rebuilt where the frames live.

FrameReplayBuffer keeps its frames on the device but draws its indices and reads its metadata on
the host, so each minibatch waits for numpy and crosses the bus. DeviceFrameReplay stores exactly
the same slots (it is a FrameReplayBuffer and adds with its `add`), mirrors the metadata into
device tensors, and draws with a torch.Generator on the device: `draw` issues device operations
only, of fixed shapes, with no host synchronisation, so a CUDA graph can capture it
(dqn_ref/fast/graphed_update.py).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import Tensor

from dqn_ref.batch import Batch
from dqn_ref.frame_replay import FrameReplayBuffer

# Draws are integers below this bound reduced modulo the number of held transitions: the bias of
# the reduction is below (held transitions) / 2**62, under 1e-12 for any buffer that fits a GPU.
DRAW_BOUND = 2**62

# The metadata FrameReplayBuffer keeps on the host, mirrored on the device: (host array, dtype).
MIRRORED = {
    "action": torch.int64,  # int64 on the device: the update gathers Q-values with it directly
    "reward": torch.float32,
    "terminated": torch.bool,
    "episode_end": torch.bool,
    "starts_transition": torch.bool,
}
DEVICE_BYTES_PER_SLOT = 8 + 4 + 1 + 1 + 1


class DeviceNStepReturn(NamedTuple):
    """eq-nstep's result as device tensors, (B,) each; fields as in dqn_ref.nstep.NStepReturn."""

    reward: Tensor  # float32
    steps: Tensor  # int64
    terminated: Tensor  # bool
    complete: Tensor  # bool


def nstep_return_on_device(
    reward: Tensor, terminated: Tensor, episode_end: Tensor, stored: Tensor, gamma: float
) -> DeviceNStepReturn:
    """R^(k) = sum_{j<k} gamma^j r_{t+j}, with k the first of n steps or the step that ends the
    episode: dqn_ref.nstep.nstep_return in torch, operation for operation (float32 terms, float64
    sums), so that both return the same bits.

    Implements: spec/bellman.md#eq-nstep

    Arguments (B, n) on one device, as nstep_return's: column j is transition t + j of the sampled
    transition's episode, valid where `stored`.
    """
    stored = stored.to(torch.int8).cumprod(dim=1).bool()  # a chain ends at its first gap
    batch, n = reward.shape
    total = torch.zeros(batch, dtype=torch.float64, device=reward.device)
    steps = torch.zeros(batch, dtype=torch.int64, device=reward.device)
    ended = torch.zeros(batch, dtype=torch.bool, device=reward.device)
    terminal = torch.zeros(batch, dtype=torch.bool, device=reward.device)
    discount = 1.0
    for j in range(n):
        counts = ~ended & stored[:, j]
        total += torch.where(counts, discount * reward[:, j], 0.0)  # float32, as numpy does
        steps += counts
        terminal |= counts & terminated[:, j]
        ended |= counts & (episode_end[:, j] | terminated[:, j])
        discount *= gamma
    return DeviceNStepReturn(total.float(), steps, terminal, ended | (steps == n))


class DeviceFrameReplay(FrameReplayBuffer):
    """FrameReplayBuffer whose sampling runs on its device, from a torch.Generator there.

    Implements: spec/replay.md#eq-replay-device

    The slots are FrameReplayBuffer's (eq-replay-frames), written by its `add`; after each add the
    slots it wrote are copied into the device mirror (`device_*`, (M, E) each, and
    `device_written`, (E,)). Those tensors are allocated once and only ever written in place,
    so a captured CUDA graph that reads them sees every later add.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        num_envs: int = 1,
        device: torch.device | str = "cpu",
        seed: int = 0,
        n_step: int = 1,
        gamma: float = 0.99,
    ):
        super().__init__(capacity, obs_shape, num_envs, device, seed, n_step, gamma)
        shape = (self.slots_per_env, num_envs)
        self.mirror = {
            name: torch.zeros(shape, dtype=dtype, device=self.device)
            for name, dtype in MIRRORED.items()
        }
        self.device_written = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.row_of_slot = torch.arange(self.slots_per_env, device=self.device)[:, None]  # (M, 1)
        self.stack_offsets = torch.arange(-(self.stack - 1), 1, device=self.device)  # (K,)
        self.chain_offsets = torch.arange(n_step, device=self.device)  # (n,)
        # gamma^k as FrameReplayBuffer computes it (float64 power, then float32), looked up by k.
        self.discount_of_steps = torch.from_numpy(
            (gamma ** np.arange(n_step + 1, dtype=np.float64)).astype(np.float32)
        ).to(self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    @property
    def nbytes(self) -> int:
        """FrameReplayBuffer's storage plus the metadata's device mirror."""
        return super().nbytes + self.capacity * DEVICE_BYTES_PER_SLOT

    def add(
        self,
        obs: ArrayLike,
        action: ArrayLike,
        reward: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
        *,
        episode_end: ArrayLike,
        env_ids: ArrayLike | None = None,
    ) -> None:
        """FrameReplayBuffer.add, then the slots it wrote copied to the device mirror."""
        written_before = self.written.copy()
        super().add(
            obs, action, reward, next_obs, terminated, episode_end=episode_end, env_ids=env_ids
        )
        self._mirror_slots(written_before)

    def _mirror_slots(self, written_before: NDArray[np.int64]) -> None:
        """Copy the metadata of every slot written since `written_before` to the device.

        An add writes, per copy, logical slots written_before .. written - 1 (frames, and the
        overwritten slots' cleared starts_transition) and the transition's own slot, which is
        written_before - 1 or a slot of the new first stack: slots written_before - 1 .. written - 1
        cover them all.
        """
        columns = np.flatnonzero(self.written != written_before)
        if len(columns):
            counts = self.written[columns] - written_before[columns] + 1
            first = np.repeat(written_before[columns] - 1, counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            rows = (first + offsets) % self.slots_per_env
            cols = np.repeat(columns, counts)
            self._copy_rows(rows, cols)

    def _copy_rows(self, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> None:
        rows_on_device = torch.from_numpy(rows).to(self.device)
        cols_on_device = torch.from_numpy(cols).to(self.device)
        for name, mirrored in self.mirror.items():
            host = torch.from_numpy(getattr(self, name)[rows, cols]).to(self.device)
            mirrored[rows_on_device, cols_on_device] = host.to(mirrored.dtype)
        self.device_written.copy_(torch.from_numpy(self.written))

    def state_dict(self) -> dict[str, Any]:
        """FrameReplayBuffer's state and the device generator's."""
        return {**super().state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refill the slots and the whole mirror, in place; a FrameReplayBuffer's state (no
        generator) loads too, and the generator then keeps its own state."""
        super().load_state_dict(state)
        for name, mirrored in self.mirror.items():
            mirrored.copy_(torch.from_numpy(getattr(self, name)))
        self.device_written.copy_(torch.from_numpy(self.written))
        if "generator" in state:
            self.generator.set_state(state["generator"])

    def sample(self, batch_size: int) -> Batch:
        """batch_size transitions drawn uniformly, with replacement, from those held (draw)."""
        if not self.starts_transition.any():
            raise ValueError("cannot sample from a replay buffer that holds no transition")
        return self.draw(batch_size)

    def held_rows(self) -> Tensor:
        """(M, E) bool: a transition whose frames are all held starts in this row (and, with
        n_step > 1, its n-step return is complete), FrameReplayBuffer's rule on the device."""
        written = self.device_written  # (E,)
        # The logical slot a row holds: the newest l < written with l = row (mod M).
        logical = written - 1 - torch.remainder(written - 1 - self.row_of_slot, self.slots_per_env)
        held = self.mirror["starts_transition"] & (
            logical - (self.stack - 1) >= written - self.slots_per_env
        )
        if self.n_step > 1:
            columns = torch.arange(self.num_envs, device=self.device).expand_as(logical)
            complete = self._nstep_on_device(logical.flatten(), columns.flatten()).complete
            held &= complete.view_as(held)
        return held

    def draw(self, batch_size: int) -> Batch:
        """Like sample, with device operations only: no check that anything is held (an empty
        buffer gives an undefined batch), so that a CUDA graph can capture it.

        Uniform over the held transitions by inversion: the i-th held row in row-major order is
        drawn for a uniform integer i below their count.
        """
        held = self.held_rows().flatten()  # (M * E,), row-major: index = row * E + column
        held_before = torch.cumsum(held, dim=0)  # held rows up to and including each index
        draws = torch.randint(
            0, DRAW_BOUND, (batch_size,), generator=self.generator, device=self.device
        )
        index = torch.searchsorted(held_before, torch.remainder(draws, held_before[-1]), right=True)
        return self.gather_rows(index // self.num_envs, index % self.num_envs)

    def _logical_slots(self, rows: Tensor, columns: Tensor) -> Tensor:
        written = self.device_written[columns]
        return written - 1 - torch.remainder(written - 1 - rows, self.slots_per_env)

    def _nstep_on_device(self, slots: Tensor, columns: Tensor) -> DeviceNStepReturn:
        """eq-nstep for transitions starting at these logical slots (FrameReplayBuffer._nstep)."""
        chain = slots[:, None] + self.chain_offsets  # (B, n) logical slots
        rows = torch.remainder(chain, self.slots_per_env)
        cols = columns[:, None].expand_as(rows)
        stored = (chain < self.device_written[cols]) & self.mirror["starts_transition"][rows, cols]
        return nstep_return_on_device(
            self.mirror["reward"][rows, cols],
            self.mirror["terminated"][rows, cols],
            self.mirror["episode_end"][rows, cols],
            stored,
            self.gamma,
        )

    def gather_rows(self, rows: Tensor, columns: Tensor) -> Batch:
        """The transitions starting in these (row, column) pairs, (B,) int64 device tensors each,
        rebuilt as FrameReplayBuffer.gather rebuilds those of the same slots."""
        action = self.mirror["action"][rows, columns]
        if self.n_step == 1:
            window = torch.cat([rows[:, None] + self.stack_offsets, rows[:, None] + 1], dim=1)
            frames = self.frames[torch.remainder(window, self.slots_per_env), columns[:, None]]
            return Batch(
                obs=frames[:, :-1],  # (B, K, H, W)
                action=action,
                reward=self.mirror["reward"][rows, columns],
                next_obs=frames[:, 1:],
                terminated=self.mirror["terminated"][rows, columns],
            )
        found = self._nstep_on_device(self._logical_slots(rows, columns), columns)
        windows = torch.cat(
            [
                rows[:, None] + self.stack_offsets,
                (rows + found.steps)[:, None] + self.stack_offsets,
            ],
            dim=1,
        )  # (B, 2K): s's frames, then s_{t+k}'s
        frames = self.frames[torch.remainder(windows, self.slots_per_env), columns[:, None]]
        return Batch(
            obs=frames[:, : self.stack],
            action=action,
            reward=found.reward,
            next_obs=frames[:, self.stack :],
            terminated=found.terminated,
            discount=self.discount_of_steps[found.steps],
        )

"""Frame-deduplicated replay for stacked pixel observations: each frame is stored once.

An Atari observation is a stack of the last K frames, and the next observation shares K - 1 of
them, so storing (s, s') as two stacks keeps every frame 2K times. This buffer keeps each frame
once, as uint8, and rebuilds both stacks when a minibatch is sampled.

Longer than 300 lines for a reason: storing, linking n-step transitions across episode ends and
rebuilding stacks at sample time are one invariant (spec/replay.md#eq-replay-frames), and a reader
checks it against the spec in one file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from dqn_ref.batch import Batch
from dqn_ref.errors import DQNRefError
from dqn_ref.memory import check_buffer_fits
from dqn_ref.nstep import (
    REDRAW_ROUNDS_BEFORE_CHECK,
    NStepReturn,
    nstep_return,
    nstep_sampling_error,
)

# Bytes of per-slot metadata kept on the host: action (int32), stored reward (float32),
# terminated, episode end and "this slot starts a transition" (bool each).
METADATA_BYTES_PER_SLOT = 4 + 4 + 1 + 1 + 1


class FrameReplayBuffer:
    """Replay of frame-stacked observations with every frame stored once, per environment copy.

    Implements: spec/replay.md#eq-replay-frames

    Storage is a ring of `slots_per_env` slots per environment copy (a column). A slot holds one
    frame, and, when a transition starts there, that transition's action, reward and terminated
    flag. Column c's frames are written in the order the copy produced them: at an episode's first
    transition the K frames of its first observation, then one new frame per transition (the
    newest frame of the next observation). The transition whose observation ends at slot p reads
    its observation from slots p - K + 1 .. p and its next observation from p - K + 2 .. p + 1,
    so stacks are never built across an episode boundary, and a truncated episode's true last
    observation is kept (it is the slot after its last transition).

    Metadata lives on the host (numpy), frames on `device`; a sample gathers K + 1 frames per
    transition in one indexing operation on the device. With n_step > 1 (eq-nstep) a copy's next
    transitions in an episode start in the next slots, so s_{t+k} ends at slot p + k.
    """

    # The host-side arrays, saved and restored by name.
    HOST_ARRAYS = (
        "action",
        "reward",
        "terminated",
        "episode_end",
        "starts_transition",
        "written",
        "in_episode",
    )

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
        if len(obs_shape) != 3:
            raise ValueError(f"frame stacks have shape (K, H, W), got {obs_shape}")
        self.stack = obs_shape[0]
        self.frame_shape = tuple(obs_shape[1:])
        self.obs_shape = tuple(obs_shape)
        self.num_envs = num_envs
        self.n_step, self.gamma = n_step, gamma
        self.slots_per_env = capacity // num_envs
        if self.slots_per_env < 2 * (self.stack + 1):
            raise ValueError(
                f"capacity={capacity} is too small for {num_envs} copies with {self.stack} "
                f"frames per observation; it needs at least {2 * (self.stack + 1) * num_envs}"
            )
        self.capacity = self.slots_per_env * num_envs
        self.device = torch.device(device)
        frame_bytes, metadata_bytes = self.bytes_needed(self.capacity, obs_shape, num_envs)
        if self.device.type == "cpu":
            check_buffer_fits(frame_bytes + metadata_bytes, self.device, self.capacity)
        else:
            check_buffer_fits(frame_bytes, self.device, self.capacity)
            check_buffer_fits(metadata_bytes, torch.device("cpu"), self.capacity)
        shape = (self.slots_per_env, num_envs)
        self.frames = torch.zeros(
            (*shape, *self.frame_shape), dtype=torch.uint8, device=self.device
        )
        self.action = np.zeros(shape, dtype=np.int32)
        self.reward = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=bool)
        self.episode_end = np.zeros(shape, dtype=bool)  # terminated or truncated, for eq-nstep
        self.starts_transition = np.zeros(shape, dtype=bool)
        self.written = np.zeros(num_envs, dtype=np.int64)  # slots ever written, per column
        self.in_episode = np.zeros(num_envs, dtype=bool)  # the column's last slot continues
        self.rng = np.random.default_rng(seed)
        self.columns = np.arange(num_envs)

    @staticmethod
    def bytes_needed(
        capacity: int, obs_shape: tuple[int, ...], num_envs: int = 1
    ) -> tuple[int, int]:
        """(frame bytes on the device, metadata bytes on the host) for a buffer of `capacity`."""
        slots = (capacity // num_envs) * num_envs
        frame_bytes = int(np.prod(obs_shape[1:]))
        return slots * frame_bytes, slots * METADATA_BYTES_PER_SLOT

    @property
    def nbytes(self) -> int:
        """Bytes this buffer's storage takes (frames and metadata), all allocated up front."""
        return sum(self.bytes_needed(self.capacity, self.obs_shape, self.num_envs))

    def state_dict(self) -> dict[str, Any]:
        """Every slot, the write counters and the sampler's state, for a checkpoint from which a
        resumed run samples exactly what an uninterrupted one would."""
        return {
            "capacity": self.capacity,
            "obs_shape": list(self.obs_shape),
            "num_envs": self.num_envs,
            "frames": self.frames.cpu(),
            **{name: torch.from_numpy(getattr(self, name).copy()) for name in self.HOST_ARRAYS},
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refill this buffer from state_dict()'s output; its sizes must match."""
        saved = (state["capacity"], tuple(state["obs_shape"]), state["num_envs"])
        if saved != (self.capacity, self.obs_shape, self.num_envs):
            raise DQNRefError(
                f"the saved replay buffer (capacity, frame stack, copies) is {saved}, this run's "
                f"{(self.capacity, self.obs_shape, self.num_envs)}; resume with the checkpoint's "
                "own config"
            )
        self.frames.copy_(state["frames"])
        for name in self.HOST_ARRAYS:
            getattr(self, name)[...] = state[name].numpy()
        self.rng.bit_generator.state = state["rng"]

    def __len__(self) -> int:
        """Transitions that can be sampled now."""
        return len(self.held_transitions()[0])

    def held_transitions(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Every transition that can be sampled, as (logical slot, column) pairs; O(capacity)."""
        slots, columns = self._filled_slots()
        valid = self._valid(slots, columns)
        return slots[valid], columns[valid]

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
        """Store one transition for each copy in `env_ids` (default: all), fields leading (n, ...).

        episode_end[i] says the copy's next observation does not continue from next_obs[i]
        (termination or truncation); its next transition then starts a new stack.
        """
        obs_np = np.asarray(obs)
        next_np = np.asarray(next_obs)
        columns = self.columns if env_ids is None else np.asarray(env_ids, dtype=np.int64)
        if len(columns) == 0:
            # A lockstep step in which every copy autoreset (with one copy, every game's end)
            # makes no transition: nothing to store, and no frame to write.
            return
        if obs_np.shape[1:] != self.obs_shape or next_np.shape != obs_np.shape:
            raise ValueError(
                f"expected observations of shape (n, {self.obs_shape}), got {obs_np.shape}"
            )
        if not np.array_equal(next_np[:, :-1], obs_np[:, 1:]):
            raise ValueError(
                "next_obs is not obs shifted by one frame; FrameReplayBuffer needs frame stacks"
            )
        new_episode = ~self.in_episode[columns]
        # Frames to write, in order, per column: the whole first stack at an episode's start,
        # then the newest frame of the next observation.
        rows: list[int] = []
        cols: list[int] = []
        frames: list[NDArray[np.uint8]] = []
        transition_slot = np.empty(len(columns), dtype=np.int64)
        for i, column in enumerate(columns):
            start = self.written[column]
            if new_episode[i]:
                rows.extend(range(start, start + self.stack))
                cols.extend([column] * self.stack)
                frames.append(obs_np[i])
                start += self.stack
            transition_slot[i] = start - 1
            rows.append(start)
            cols.append(column)
            frames.append(next_np[i, -1:])
            self.written[column] = start + 1
        slot_rows = np.asarray(rows) % self.slots_per_env
        slot_cols = np.asarray(cols)
        self.starts_transition[slot_rows, slot_cols] = False  # overwritten slots lose their role
        self.frames[torch.from_numpy(slot_rows), torch.from_numpy(slot_cols)] = torch.from_numpy(
            np.concatenate(frames)
        ).to(self.device)
        transition_rows = transition_slot % self.slots_per_env
        self.action[transition_rows, columns] = np.asarray(action)
        self.reward[transition_rows, columns] = np.asarray(reward)
        self.terminated[transition_rows, columns] = np.asarray(terminated)
        self.episode_end[transition_rows, columns] = np.asarray(episode_end)
        self.starts_transition[transition_rows, columns] = True
        self.in_episode[columns] = ~np.asarray(episode_end, dtype=bool)

    def end_episodes(self) -> None:
        """Close every copy's episode: its next add starts a new stack (after envs are reset
        outside the loop, as a resume without saved environments does)."""
        self.in_episode[:] = False

    def _filled_slots(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Every (logical slot, column) pair currently held: slot numbers count from the column's
        first write, so slot l lives in row l mod slots_per_env."""
        filled = np.minimum(self.written, self.slots_per_env)
        columns = np.repeat(self.columns, filled)
        offsets = np.arange(filled.sum()) - np.repeat(np.cumsum(filled) - filled, filled)
        return self.written[columns] - filled[columns] + offsets, columns

    def _valid(self, slots: NDArray[np.int64], columns: NDArray[np.int64]) -> NDArray[np.bool_]:
        """A transition starts at the slot, and its oldest frame has not been overwritten."""
        oldest_held = self.written[columns] - self.slots_per_env
        return self.starts_transition[slots % self.slots_per_env, columns] & (
            slots - (self.stack - 1) >= oldest_held
        )

    def sample(self, batch_size: int) -> Batch:
        """batch_size transitions drawn uniformly, with replacement, from those held.

        Draws a held slot uniformly and redraws the few that start no transition (a first
        stack's older frames, an episode's last frame, a stack whose oldest frame is overwritten):
        uniform over the held transitions, at a cost that does not grow with the capacity.
        """
        filled = np.minimum(self.written, self.slots_per_env)
        ends = np.cumsum(filled)
        if not self.starts_transition.any():
            raise ValueError("cannot sample from a replay buffer that holds no transition")
        slots = np.empty(batch_size, dtype=np.int64)
        columns = np.empty(batch_size, dtype=np.int64)
        todo = np.arange(batch_size)
        rounds = 0
        while len(todo):
            rounds += 1
            if rounds == REDRAW_ROUNDS_BEFORE_CHECK and self.n_step > 1:
                self._check_some_nstep_transition_is_complete()
            flat = self.rng.integers(0, ends[-1], len(todo))
            column = np.searchsorted(ends, flat, side="right")
            slot = self.written[column] - ends[column] + flat
            ok = self._valid(slot, column)
            if self.n_step > 1:
                ok &= self._nstep(slot, column).complete
            slots[todo[ok]], columns[todo[ok]] = slot[ok], column[ok]
            todo = todo[~ok]
        return self.gather(slots, columns)

    def _check_some_nstep_transition_is_complete(self) -> None:
        """Raise rather than redraw forever when no held transition has its n steps (or an
        episode end sooner); a run's learning_starts >= n_step x num_envs rules that out."""
        slots, columns = self.held_transitions()
        if not self._nstep(slots, columns).complete.any():
            raise ValueError(nstep_sampling_error(len(slots), self.n_step))

    def _nstep(self, slots: NDArray[np.int64], columns: NDArray[np.int64]) -> NStepReturn:
        """eq-nstep for transitions starting at these slots: within an episode a copy's next
        transition starts in the next slot, so the chain is slots p .. p + n - 1."""
        chain = slots[:, None] + np.arange(self.n_step)  # (B, n) logical slots
        rows = chain % self.slots_per_env
        cols = columns[:, None]
        stored = (chain < self.written[cols]) & self.starts_transition[rows, cols]
        return nstep_return(
            self.reward[rows, cols],
            self.terminated[rows, cols],
            self.episode_end[rows, cols],
            stored,
            self.gamma,
        )

    def gather(self, slots: NDArray[np.int64], columns: NDArray[np.int64]) -> Batch:
        """The transitions starting at these (logical slot, column) pairs, stacks rebuilt."""
        if self.n_step > 1:
            return self._gather_nstep(slots, columns)
        window = slots[:, None] + np.arange(-(self.stack - 1), 2)  # (B, K + 1) logical slots
        frame_rows = torch.from_numpy(window % self.slots_per_env).to(self.device)
        frame_cols = torch.from_numpy(np.repeat(columns[:, None], window.shape[1], axis=1)).to(
            self.device
        )
        frames = self.frames[frame_rows, frame_cols]  # (B, K + 1, H, W)
        rows = slots % self.slots_per_env
        return Batch(
            obs=frames[:, :-1],
            action=torch.from_numpy(self.action[rows, columns].astype(np.int64)).to(self.device),
            reward=torch.from_numpy(self.reward[rows, columns]).to(self.device),
            next_obs=frames[:, 1:],
            terminated=torch.from_numpy(self.terminated[rows, columns]).to(self.device),
        )

    def _gather_nstep(self, slots: NDArray[np.int64], columns: NDArray[np.int64]) -> Batch:
        """n-step transitions: s at slot p, s_{t+k} at slot p + k, R^(k) and gamma^k."""
        found = self._nstep(slots, columns)
        stack = np.arange(-(self.stack - 1), 1)
        windows = np.concatenate(
            [slots[:, None] + stack, (slots + found.steps)[:, None] + stack], axis=1
        )  # (B, 2K): s's frames, then s_{t+k}'s
        frame_rows = torch.from_numpy(windows % self.slots_per_env).to(self.device)
        frame_cols = torch.from_numpy(np.repeat(columns[:, None], windows.shape[1], axis=1)).to(
            self.device
        )
        frames = self.frames[frame_rows, frame_cols]  # (B, 2K, H, W)
        rows = slots % self.slots_per_env
        discount = (self.gamma ** found.steps.astype(np.float64)).astype(np.float32)
        return Batch(
            obs=frames[:, : self.stack],
            action=torch.from_numpy(self.action[rows, columns].astype(np.int64)).to(self.device),
            reward=torch.from_numpy(found.reward).to(self.device),
            next_obs=frames[:, self.stack :],
            terminated=torch.from_numpy(found.terminated).to(self.device),
            discount=torch.from_numpy(discount).to(self.device),
        )

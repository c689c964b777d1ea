"""FrameReplayBuffer against a naive buffer storing whole stacks (spec/replay.md, eq-replay-frames).

Random streams of frame-stacked episodes, several copies at once, terminations and truncations
anywhere and buffers small enough to wrap around many times, go into both buffers; whatever the
frame buffer returns must be exactly what the naive buffer stored for the same transition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dqn_ref.errors import DQNRefError
from dqn_ref.frame_replay import FrameReplayBuffer

FRAME_SHAPE = (2, 3)


@dataclass
class NaiveFrameReplay:
    """Every transition as the environment gave it, whole stacks included, keyed by its id."""

    transitions: dict[int, tuple[np.ndarray, int, np.ndarray, bool]] = field(default_factory=dict)
    order_by_column: dict[int, list[int]] = field(default_factory=dict)

    def add(
        self,
        ident: int,
        column: int,
        obs: np.ndarray,
        action: int,
        next_obs: np.ndarray,
        terminated: bool,
    ) -> None:
        self.transitions[ident] = (obs.copy(), action, next_obs.copy(), terminated)
        self.order_by_column.setdefault(column, []).append(ident)


@st.composite
def episode_streams(draw: st.DrawFn) -> dict[str, int]:
    """Sizes and a seed for one random stream of lockstep steps."""
    return {
        "stack": draw(st.integers(2, 4)),
        "num_envs": draw(st.integers(1, 3)),
        "slots_per_env": draw(st.integers(10, 30)),
        "locksteps": draw(st.integers(1, 80)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def fill_both(params: dict[str, int]) -> tuple[FrameReplayBuffer, NaiveFrameReplay]:
    """Play a random stream into a FrameReplayBuffer and a NaiveFrameReplay.

    The reward of transition `id` is `id`, so a sampled row names the transition it claims to be.
    Some copies skip some steps (as an autoreset step is skipped by the training loop).
    """
    rng = np.random.default_rng(params["seed"])
    stack, num_envs = params["stack"], params["num_envs"]
    buffer = FrameReplayBuffer(
        params["slots_per_env"] * num_envs, (stack, *FRAME_SHAPE), num_envs, seed=params["seed"]
    )
    naive = NaiveFrameReplay()

    def first_stack() -> np.ndarray:
        # Like ale-py: zero frames before the first, sometimes; random frames otherwise.
        frames = rng.integers(0, 256, (stack, *FRAME_SHAPE), dtype=np.uint8)
        frames[: rng.integers(0, stack)] = 0
        return frames

    obs = np.stack([first_stack() for _ in range(num_envs)])
    ident = 0
    for _ in range(params["locksteps"]):
        # A copy skips a step as the loop skips an autoreset step; some steps, as every game's
        # end with one copy, have no real transition at all and are added empty, as the loop does.
        real = rng.random(num_envs) < 0.8
        columns = np.flatnonzero(real)
        new_frames = rng.integers(0, 256, (len(columns), 1, *FRAME_SHAPE), dtype=np.uint8)
        next_obs = np.concatenate([obs[columns, 1:], new_frames], axis=1)
        ends = rng.random(len(columns))
        terminated = ends < 0.1
        truncated = (ends >= 0.1) & (ends < 0.2)
        identities = np.arange(ident, ident + len(columns))
        actions = identities % 5
        for row, column in enumerate(columns):
            naive.add(
                int(identities[row]),
                int(column),
                obs[column],
                int(actions[row]),
                next_obs[row],
                bool(terminated[row]),
            )
        buffer.add(
            obs[columns],
            actions,
            identities.astype(np.float32),
            next_obs,
            terminated,
            episode_end=terminated | truncated,
            env_ids=columns if not real.all() else None,
        )
        ident += len(columns)
        for row, column in enumerate(columns):
            obs[column] = first_stack() if terminated[row] or truncated[row] else next_obs[row]
    return buffer, naive


def assert_batch_matches(batch: object, naive: NaiveFrameReplay) -> None:
    for row, ident in enumerate(batch.reward.long().tolist()):  # type: ignore[attr-defined]
        obs, action, next_obs, terminated = naive.transitions[ident]
        assert np.array_equal(batch.obs[row].numpy(), obs)  # type: ignore[attr-defined]
        assert np.array_equal(batch.next_obs[row].numpy(), next_obs)  # type: ignore[attr-defined]
        assert batch.action[row].item() == action  # type: ignore[attr-defined]
        assert batch.terminated[row].item() == terminated  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(episode_streams(), st.integers(1, 64))
def test_sampled_transitions_equal_the_naive_buffers(params: dict[str, int], batch: int) -> None:
    """eq-replay-frames P1: same transitions in, same transitions out, stacks rebuilt exactly."""
    buffer, naive = fill_both(params)
    if not naive.transitions:
        return
    sampled = buffer.sample(batch)
    assert sampled.obs.shape == (batch, params["stack"], *FRAME_SHAPE)
    assert sampled.obs.dtype == torch.uint8 and sampled.action.dtype == torch.int64
    assert_batch_matches(sampled, naive)


@settings(max_examples=60, deadline=None)
@given(episode_streams())
def test_held_transitions_are_each_copys_newest(params: dict[str, int]) -> None:
    """eq-replay-frames P2: every held transition equals the naive one, the held ones are the
    newest of each copy (oldest overwritten first), and each copy's newest is always held."""
    buffer, naive = fill_both(params)
    slots, columns = buffer.held_transitions()
    held = buffer.gather(slots, columns)
    assert_batch_matches(held, naive)
    assert len(buffer) == len(slots) <= buffer.capacity
    held_ids = set(held.reward.long().tolist())
    for column, order in naive.order_by_column.items():
        held_in_column = [ident for ident in order if ident in held_ids]
        assert held_in_column == order[len(order) - len(held_in_column) :]
        assert order[-1] in held_ids, f"copy {column}'s newest transition is not held"


def test_a_transition_costs_at_most_7_2_kb_all_included() -> None:
    """eq-replay-frames P3: 84x84 frames cost at most 7.2 KB per transition, metadata included
    (at Pong's shortest episodes, 4 extra frames per episode), counted on the allocated arrays."""
    capacity, num_envs = 4_000, 8
    buffer = FrameReplayBuffer(capacity, (4, 84, 84), num_envs)
    allocated = buffer.frames.nbytes + sum(
        getattr(buffer, name).nbytes
        for name in FrameReplayBuffer.HOST_ARRAYS
        if name not in ("written", "in_episode")  # per copy, not per slot
    )
    assert allocated == sum(FrameReplayBuffer.bytes_needed(capacity, (4, 84, 84), num_envs))
    per_slot = allocated / buffer.capacity
    shortest_pong_episode = 760  # 21 points lost at about 36 agent steps each
    per_transition = per_slot * (shortest_pong_episode + 4) / shortest_pong_episode
    assert per_transition <= 7_200
    naive_per_transition = 2 * 4 * 84 * 84
    assert per_transition < naive_per_transition / 7


def test_a_buffer_that_will_not_fit_is_refused_before_allocation() -> None:
    """eq-replay-frames P4: asking for more memory than the machine has is a one-line error."""
    with pytest.raises(
        DQNRefError, match=r"needs .* TB but only .* GB is available on cpu; lower --buffer-size"
    ):
        FrameReplayBuffer(10**10, (4, 84, 84), 1)


def test_observations_that_are_not_frame_stacks_are_refused() -> None:
    buffer = FrameReplayBuffer(40, (2, *FRAME_SHAPE), 1)
    obs = np.zeros((1, 2, *FRAME_SHAPE), dtype=np.uint8)
    next_obs = np.ones_like(obs)
    with pytest.raises(ValueError, match="not obs shifted by one frame"):
        buffer.add(obs, [0], [0.0], next_obs, [False], episode_end=[False])


@settings(max_examples=20, deadline=None)
@given(episode_streams())
def test_a_buffer_restored_from_its_state_dict_samples_as_the_original(
    params: dict[str, int],
) -> None:
    """A checkpoint's frame buffer (spec/reliability.md, Resume): a fresh buffer with another
    seed, loaded from state_dict(), holds the same transitions and draws the same minibatch."""
    original, naive = fill_both(params)
    if not naive.transitions:
        return
    stack, num_envs = params["stack"], params["num_envs"]
    restored = FrameReplayBuffer(
        params["slots_per_env"] * num_envs, (stack, *FRAME_SHAPE), num_envs, seed=params["seed"] + 1
    )
    restored.load_state_dict(original.state_dict())
    for name in ("frames", *FrameReplayBuffer.HOST_ARRAYS):
        assert np.array_equal(
            np.asarray(getattr(restored, name)), np.asarray(getattr(original, name))
        )
    got, expected = restored.sample(16), original.sample(16)
    for name in ("obs", "action", "reward", "next_obs", "terminated"):
        assert torch.equal(getattr(got, name), getattr(expected, name)), name


def test_state_dict_of_another_size_is_refused() -> None:
    buffer = FrameReplayBuffer(40, (2, *FRAME_SHAPE), 2)
    with pytest.raises(DQNRefError, match=r"^the saved replay buffer \(capacity, frame stack"):
        FrameReplayBuffer(40, (2, *FRAME_SHAPE), 1).load_state_dict(buffer.state_dict())


def test_after_end_episodes_the_next_transition_starts_a_new_stack() -> None:
    """eq-replay-frames: end_episodes closes every copy's episode (as after environments reset
    outside the loop), so the next transition's s is its own first stack, not built on the last
    frames written."""
    buffer = FrameReplayBuffer(40, (2, *FRAME_SHAPE), 1)
    first = np.zeros((1, 2, *FRAME_SHAPE), dtype=np.uint8)
    buffer.add(first, [0], [0.0], first + 0, [False], episode_end=[False])
    buffer.end_episodes()
    fresh = np.full((1, 2, *FRAME_SHAPE), 7, dtype=np.uint8)
    fresh_next = fresh.copy()
    fresh_next[:, -1] = 9
    buffer.add(fresh, [1], [1.0], fresh_next, [True], episode_end=[True])
    slots, columns = buffer.held_transitions()
    held = buffer.gather(slots, columns)
    assert held.reward.tolist() == [0.0, 1.0]
    assert np.array_equal(held.obs[1].numpy(), fresh[0])
    assert np.array_equal(held.next_obs[1].numpy(), fresh_next[0])


def test_defaults_are_one_copy_one_step_on_the_cpu_with_seed_0() -> None:
    """The constructor's defaults: one environment copy, on the CPU, one-step transitions with
    gamma 0.99, and a sampler seeded with 0; bytes_needed assumes one copy too."""
    buffer = FrameReplayBuffer(40, (2, *FRAME_SHAPE))
    assert (buffer.num_envs, buffer.n_step, buffer.gamma) == (1, 1, 0.99)
    assert buffer.device == torch.device("cpu") and buffer.capacity == 40
    assert FrameReplayBuffer.bytes_needed(40, (2, *FRAME_SHAPE)) == (40 * 6, 40 * 11)
    seeded = FrameReplayBuffer(40, (2, *FRAME_SHAPE), 1, "cpu", seed=0)
    frames = np.arange(12 * 6, dtype=np.uint8).reshape(12, 1, *FRAME_SHAPE)
    for each in (buffer, seeded):
        for t in range(10):
            stack, next_stack = frames[None, t : t + 2, 0], frames[None, t + 1 : t + 3, 0]
            each.add(stack, [t % 3], [float(t)], next_stack, [False], episode_end=[False])
    assert torch.equal(buffer.sample(32).reward, seeded.sample(32).reward)


def test_the_smallest_capacity_holds_two_episodes_of_first_stacks() -> None:
    """eq-replay-frames: a copy's ring needs at least 2 (K + 1) slots; one slot fewer is refused
    with the number needed for all copies."""
    assert FrameReplayBuffer(2 * 3 * 2, (2, *FRAME_SHAPE), 2).slots_per_env == 6
    with pytest.raises(
        ValueError,
        match=r"^capacity=11 is too small for 2 copies with 2 frames per observation; "
        r"it needs at least 12$",
    ):
        FrameReplayBuffer(11, (2, *FRAME_SHAPE), 2)


def test_observations_that_are_not_stacks_of_frames_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^frame stacks have shape \(K, H, W\), got \(2, 3\)$"):
        FrameReplayBuffer(40, (2, 3))
    buffer = FrameReplayBuffer(40, (2, *FRAME_SHAPE))
    obs = np.zeros((1, 3, *FRAME_SHAPE), dtype=np.uint8)
    with pytest.raises(
        ValueError, match=r"^expected observations of shape \(n, \(2, 2, 3\)\), got \(1, 3, 2, 3\)$"
    ):
        buffer.add(obs, [0], [0.0], obs, [False], episode_end=[False])
    shifted = np.zeros((1, 2, *FRAME_SHAPE), dtype=np.uint8)
    with pytest.raises(
        ValueError,
        match=r"^next_obs is not obs shifted by one frame; FrameReplayBuffer needs frame stacks$",
    ):
        buffer.add(shifted, [0], [0.0], shifted + 1, [False], episode_end=[False])


def test_a_step_in_which_no_copy_made_a_transition_stores_nothing() -> None:
    """eq-replay-frames: with one copy every game's end is followed by an autoreset step, and the
    loop adds that step's real transitions: none. The buffer is left as it was, for one copy
    and for several that all reset together, and the next real transition starts a new stack."""
    for num_envs in (1, 3):
        buffer = FrameReplayBuffer(40 * num_envs, (2, *FRAME_SHAPE), num_envs)
        stack = np.zeros((num_envs, 2, *FRAME_SHAPE), dtype=np.uint8)
        next_stack = np.concatenate([stack[:, 1:], stack[:, :1] + 5], axis=1)
        ended = np.ones(num_envs, dtype=bool)
        buffer.add(
            stack, np.zeros(num_envs), np.ones(num_envs), next_stack, ended, episode_end=ended
        )
        before = {
            name: torch.as_tensor(value)
            for name, value in buffer.state_dict().items()
            if name != "rng"
        }
        nobody = np.flatnonzero(np.zeros(num_envs, dtype=bool))  # as dqn_loop computes env_ids
        buffer.add(
            stack[nobody],
            np.zeros(num_envs, dtype=np.int64)[nobody],
            np.zeros(num_envs, dtype=np.float32)[nobody],
            next_stack[nobody],
            ended[nobody],
            episode_end=ended[nobody],
            env_ids=nobody,
        )
        after = buffer.state_dict()
        for name, value in before.items():
            assert torch.equal(value, torch.as_tensor(after[name])), name
        fresh = np.full_like(stack, 9)
        fresh_next = np.concatenate([fresh[:, 1:], fresh[:, :1] + 1], axis=1)
        buffer.add(
            fresh, np.ones(num_envs), np.full(num_envs, 2.0), fresh_next, ~ended, episode_end=~ended
        )
        held = buffer.gather(*buffer.held_transitions())
        assert sorted(held.reward.tolist()) == [1.0] * num_envs + [2.0] * num_envs
        newest = held.reward == 2.0
        assert bool((held.obs[newest] == 9).all())


def test_sampling_a_buffer_without_transitions_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^cannot sample from a replay buffer that holds no transition$"
    ):
        FrameReplayBuffer(40, (2, *FRAME_SHAPE)).sample(1)


def test_nstep_sampling_without_a_complete_transition_is_an_error_not_an_endless_redraw() -> None:
    """eq-nstep: with no held transition complete (two steps of a 3-step episode in progress),
    sampling says so instead of redrawing forever; one step more, and it samples."""
    buffer = FrameReplayBuffer(40, (2, *FRAME_SHAPE), 1, n_step=3)
    frames = np.arange(5 * 6, dtype=np.uint8).reshape(5, *FRAME_SHAPE)
    for t in range(3):
        if t == 2:
            with pytest.raises(
                ValueError, match=r"^cannot sample 3-step transitions: none of the 2 held"
            ):
                buffer.sample(4)
        stack, next_stack = frames[None, t : t + 2], frames[None, t + 1 : t + 3]
        buffer.add(stack, [0], [float(t)], next_stack, [False], episode_end=[False])
    assert buffer.sample(4).reward.tolist() == pytest.approx([0.0 + 0.99 * 1.0 + 0.99**2 * 2.0] * 4)

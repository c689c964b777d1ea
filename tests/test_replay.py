"""spec/replay.md: the ring buffer's capacity, FIFO overwrite, field alignment and uniform sampling.

Transitions are made so that every field can be checked against its index i (counted from 1, so
that a never-written row, all zeros, cannot pass for a transition): obs = i, next_obs = i + 1,
action = i mod 3, reward = i, terminated = (i mod 7 == 0).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dqn_ref import memory
from dqn_ref.errors import DQNRefError
from dqn_ref.replay import ReplayBuffer

NUM_ACTIONS = 3
OBS_SHAPE = (2,)


def transitions(first: int, count: int) -> tuple[np.ndarray, ...]:
    """Transitions first .. first + count - 1, each field with a leading dimension `count`."""
    index = np.arange(first, first + count)
    obs = np.repeat(index[:, None], OBS_SHAPE[0], axis=1).astype(np.float32)
    return obs, index % NUM_ACTIONS, index.astype(np.float32), obs + 1, index % 7 == 0


def add(buffer: ReplayBuffer, first: int, count: int) -> None:
    """Add transitions first .. first + count - 1; each ends its episode where it terminates."""
    obs, action, reward, next_obs, terminated = transitions(first, count)
    buffer.add(obs, action, reward, next_obs, terminated, episode_end=terminated)


def filled(capacity: int, chunks: list[int], seed: int = 0) -> tuple[ReplayBuffer, int]:
    """A buffer after adding transitions 1, 2, ... in chunks of these sizes, and how many."""
    buffer = ReplayBuffer(capacity, OBS_SHAPE, np.float32, seed=seed)
    added = 0
    for chunk in chunks:
        add(buffer, added + 1, chunk)
        added += chunk
    return buffer, added


capacities = st.integers(1, 50)
chunk_lists = st.lists(st.integers(1, 8), min_size=1, max_size=40)


@given(capacities, chunk_lists)
def test_length_is_transitions_added_up_to_capacity(capacity: int, chunks: list[int]) -> None:
    """eq-replay-capacity P1: len(D) = min(transitions added, capacity)."""
    chunks = [min(chunk, capacity) for chunk in chunks]
    buffer, added = filled(capacity, chunks)
    assert len(buffer) == min(added, capacity)


@given(capacities, chunk_lists)
def test_buffer_holds_exactly_the_most_recent_transitions(capacity: int, chunks: list[int]) -> None:
    """eq-replay-fifo P1: D holds the last min(n, capacity) transitions added, the oldest having
    been overwritten first, and row r holds the latest i with (i - 1) mod capacity = r."""
    chunks = [min(chunk, capacity) for chunk in chunks]
    buffer, added = filled(capacity, chunks)
    held = sorted(int(v) for v in buffer.obs[: len(buffer), 0])
    assert held == list(range(max(1, added - capacity + 1), added + 1))
    for row in range(len(buffer)):
        latest = max(i for i in range(1, added + 1) if (i - 1) % capacity == row)
        assert int(buffer.obs[row, 0]) == latest


@given(capacities, chunk_lists)
def test_adding_in_chunks_equals_adding_one_at_a_time(capacity: int, chunks: list[int]) -> None:
    """eq-replay-fifo P2: a batch of n transitions lands exactly where n single adds would, across
    the wrap-around too."""
    chunks = [min(chunk, capacity) for chunk in chunks]
    chunked, added = filled(capacity, chunks)
    single, _ = filled(capacity, [1] * added)
    for name in ("obs", "action", "reward", "next_obs", "terminated"):
        assert torch.equal(getattr(chunked, name), getattr(single, name)), name


@given(capacities, chunk_lists, st.integers(1, 64), st.integers(0, 2**31 - 1))
def test_sampled_fields_belong_to_one_transition(
    capacity: int, chunks: list[int], batch_size: int, seed: int
) -> None:
    """eq-replay-alignment P1: in every sampled row, obs i comes with action i, reward i,
    next_obs i + 1 and terminated i."""
    chunks = [min(chunk, capacity) for chunk in chunks]
    buffer, _ = filled(capacity, chunks, seed)
    batch = buffer.sample(batch_size)
    index = batch.obs[:, 0].long()
    assert torch.equal(batch.action, index % NUM_ACTIONS)
    assert torch.equal(batch.reward, index.float())
    assert torch.equal(batch.next_obs, batch.obs + 1)
    assert torch.equal(batch.terminated, index % 7 == 0)
    assert batch.action.dtype == torch.int64 and batch.terminated.dtype == torch.bool


@given(capacities, chunk_lists, st.integers(1, 64), st.integers(0, 2**31 - 1))
def test_samples_come_only_from_filled_slots(
    capacity: int, chunks: list[int], batch_size: int, seed: int
) -> None:
    """eq-replay-uniform P1: every sampled transition is one the buffer currently holds; no
    never-written row (obs 0) and no overwritten transition is ever drawn."""
    chunks = [min(chunk, capacity) for chunk in chunks]
    buffer, added = filled(capacity, chunks, seed)
    index = buffer.sample(batch_size).obs[:, 0]
    assert bool((index >= max(1, added - capacity + 1)).all())
    assert bool((index <= added).all())


def test_sampling_is_uniform_over_filled_slots() -> None:
    """eq-replay-uniform P2: with 12 of 20 slots filled, 60,000 draws hit each filled slot about
    5,000 times. A chi-square statistic over 12 cells has mean 11 and sd 4.7; 45 is beyond p = 1e-5,
    and with this fixed seed the test is deterministic."""
    buffer, _ = filled(20, [12])
    draws = torch.cat([buffer.sample(1000).obs[:, 0] for _ in range(60)]).long()
    counts = torch.bincount(draws, minlength=13)[1:].double()
    assert int(counts.sum()) == 60_000
    chi_square = float(((counts - 5000) ** 2 / 5000).sum())
    assert chi_square < 45.0, counts


def test_wrap_around_worked_example() -> None:
    """eq-replay-fifo by hand: capacity 4, add 1..6 -> rows hold [5, 6, 3, 4]; 1 and 2 are gone."""
    buffer, _ = filled(4, [3, 3])
    assert buffer.obs[:, 0].tolist() == [5.0, 6.0, 3.0, 4.0]
    assert buffer.next_obs[:, 0].tolist() == [6.0, 7.0, 4.0, 5.0]
    assert len(buffer) == 4


def test_observation_dtype_can_be_given_as_numpy_torch_or_name() -> None:
    """The buffer stores observations in the dtype asked for (uint8 frames stay one byte each)."""
    for dtype in (np.uint8, torch.uint8, "uint8"):
        assert ReplayBuffer(4, (2,), dtype).obs.dtype == torch.uint8


def test_sampling_an_empty_buffer_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(4, (2,)).sample(1)


@given(capacities, chunk_lists, chunk_lists, st.integers(0, 2**31 - 1))
def test_a_buffer_restored_from_its_state_dict_continues_as_the_original(
    capacity: int, chunks: list[int], later_chunks: list[int], seed: int
) -> None:
    """A checkpoint's buffer (spec/reliability.md#resume): a fresh buffer loaded from state_dict()
    holds the same rows, writes the next transitions to the same rows and samples the same
    indices as the buffer it was saved from."""
    chunks = [min(chunk, capacity) for chunk in chunks]
    later_chunks = [min(chunk, capacity) for chunk in later_chunks]
    original, added = filled(capacity, chunks, seed)
    restored = ReplayBuffer(capacity, OBS_SHAPE, np.float32, seed=seed + 1)
    restored.load_state_dict(original.state_dict())
    for buffer in (original, restored):
        first = added + 1
        for chunk in later_chunks:
            add(buffer, first, chunk)
            first += chunk
    assert len(restored) == len(original)
    for name in ("obs", "action", "reward", "next_obs", "terminated"):
        assert torch.equal(getattr(restored, name), getattr(original, name)), name
    assert torch.equal(restored.sample(16).obs, original.sample(16).obs)


def test_state_dict_of_another_shape_is_refused() -> None:
    buffer, _ = filled(8, [3])
    with pytest.raises(DQNRefError, match="resume with the checkpoint's own config"):
        ReplayBuffer(9, OBS_SHAPE).load_state_dict(buffer.state_dict())


def test_bytes_needed_worked_example() -> None:
    """CartPole: s and s' are 4 float32 (16 bytes each), a 8, r 4, d 1: 45 bytes a transition,
    2,250,000 bytes for the default 50,000; Atari 84x84 uint8 frames: 2 x 7,056 + 13 = 14,125."""
    assert ReplayBuffer.bytes_needed(50_000, (4,), np.float32) == 2_250_000
    assert ReplayBuffer.bytes_needed(1, (84, 84), torch.uint8) == 14_125
    buffer, _ = filled(10, [1])
    stored = sum(
        getattr(buffer, name).nbytes
        for name in ("obs", "next_obs", "action", "reward", "terminated")
    )
    assert ReplayBuffer.bytes_needed(10, OBS_SHAPE, np.float32) == stored


def test_a_buffer_larger_than_memory_is_refused_with_its_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "available_memory_bytes", lambda device: 1_000_000)
    memory.check_buffer_fits(1_000_000, torch.device("cpu"), 100)  # exactly fits
    with pytest.raises(DQNRefError) as error:
        memory.check_buffer_fits(4_500_000, torch.device("cpu"), 100_000)
    assert str(error.value) == (
        "the replay buffer of 100000 transitions needs 4.5 MB but only 1.0 MB is available on "
        "cpu; lower --buffer-size (at most about 22222 transitions fit now)"
    )


def test_available_memory_is_known_on_this_machine() -> None:
    available = memory.available_memory_bytes(torch.device("cpu"))
    assert available is not None and available > 0


def test_defaults_are_one_step_float32_on_the_cpu_with_seed_0() -> None:
    """The constructor's defaults: float32 observations on the CPU, one-step transitions (no
    successor links) with gamma 0.99, and a sampler seeded with 0."""
    buffer = ReplayBuffer(8, OBS_SHAPE)
    assert (buffer.n_step, buffer.gamma, buffer.links) == (1, 0.99, None)
    assert buffer.obs.dtype == torch.float32 and buffer.device == torch.device("cpu")
    seeded = ReplayBuffer(8, OBS_SHAPE, np.float32, "cpu", seed=0)
    for each in (buffer, seeded):
        add(each, 1, 8)
    assert torch.equal(buffer.sample(32).obs, seeded.sample(32).obs)


def test_one_unbatched_transition_is_stored_as_a_batch_of_one() -> None:
    """eq-replay-fifo P2 for a single transition given without a leading dimension: it lands in
    the next row, as a batch of one would, and the buffer grows by one."""
    single = ReplayBuffer(4, OBS_SHAPE)
    batched = ReplayBuffer(4, OBS_SHAPE)
    for first in (1, 2):
        obs, action, reward, next_obs, terminated = transitions(first, 1)
        single.add(
            obs[0], action[0], reward[0], next_obs[0], terminated[0], episode_end=terminated[0]
        )
        batched.add(obs, action, reward, next_obs, terminated, episode_end=terminated)
    assert len(single) == len(batched) == 2
    for name in ("obs", "action", "reward", "next_obs", "terminated"):
        assert torch.equal(getattr(single, name), getattr(batched, name)), name


def test_a_capacity_below_one_and_an_oversized_batch_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^capacity=0 must be >= 1$"):
        ReplayBuffer(0, OBS_SHAPE)
    with pytest.raises(ValueError, match=r"^cannot add 5 transitions to a buffer of capacity 4$"):
        add(ReplayBuffer(4, OBS_SHAPE), 1, 5)


def test_sampling_an_empty_buffer_names_the_reason() -> None:
    with pytest.raises(ValueError, match=r"^cannot sample from an empty replay buffer$"):
        ReplayBuffer(4, OBS_SHAPE).sample(1)


def test_a_refused_state_dict_names_both_sizes() -> None:
    buffer, _ = filled(8, [3])
    with pytest.raises(DQNRefError) as error:
        ReplayBuffer(9, OBS_SHAPE).load_state_dict(buffer.state_dict())
    assert str(error.value) == (
        "the saved replay buffer holds 8 transitions of shape (2,), this run's 9 of (2,); "
        "resume with the checkpoint's own config"
    )


def test_nstep_batches_have_the_one_step_batches_dtypes() -> None:
    """eq-nstep: an n-step minibatch has Batch's dtypes (action int64, reward float32,
    terminated bool) and its discount gamma^k is float32, like a one-step one."""
    buffer = ReplayBuffer(8, OBS_SHAPE, n_step=3, gamma=0.5)
    obs, action, reward, next_obs, terminated = transitions(1, 6)
    buffer.add(obs, action, reward, next_obs, terminated, episode_end=terminated, env_ids=[0] * 6)
    obs, action, reward, next_obs, _ = transitions(7, 1)
    buffer.add(obs, action, reward, next_obs, [True], episode_end=[True], env_ids=[0])
    batch = buffer.sample(16)
    assert batch.discount is not None
    assert batch.action.dtype == torch.int64 and batch.terminated.dtype == torch.bool
    assert batch.reward.dtype == torch.float32 and batch.discount.dtype == torch.float32


def test_fields_with_trailing_unit_axes_are_stored_per_transition() -> None:
    """eq-replay-alignment: each field is reshaped to (n, *row shape) before it is written, so a
    reward or flag given as a column (n, 1) lands one value per row, like a flat (n,) one."""
    columns = ReplayBuffer(4, OBS_SHAPE)
    flat = ReplayBuffer(4, OBS_SHAPE)
    obs, action, reward, next_obs, terminated = transitions(1, 3)
    columns.add(
        obs, action[:, None], reward[:, None], next_obs, terminated[:, None],
        episode_end=terminated[:, None],
    )  # fmt: skip
    flat.add(obs, action, reward, next_obs, terminated, episode_end=terminated)
    for name in ("obs", "action", "reward", "next_obs", "terminated"):
        assert torch.equal(getattr(columns, name), getattr(flat, name)), name


def test_the_path_other_devices_take_stores_what_the_cpu_path_stores() -> None:
    """add writes host storage through numpy views, and every other device's storage by torch
    indexing; the second path, forced here on the CPU, stores the same rows, wrap-around
    included, and sampling (indices drawn on the host, then moved) is one path for both."""
    through_numpy, _ = filled(10, [3, 4, 6])
    through_torch = ReplayBuffer(10, OBS_SHAPE, np.float32)
    through_torch.write_through_numpy = False
    added = 0
    for chunk in [3, 4, 6]:
        add(through_torch, added + 1, chunk)
        added += chunk
    for name in ("obs", "next_obs", "action", "reward", "terminated"):
        assert torch.equal(getattr(through_torch, name), getattr(through_numpy, name)), name
    for a, b in zip(through_torch.sample(16), through_numpy.sample(16), strict=True):
        assert (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))


@pytest.mark.parametrize("n_step", [1, 3])
@pytest.mark.parametrize("write_through_numpy", [True, False])
def test_a_step_in_which_no_copy_made_a_transition_stores_nothing(
    n_step: int, write_through_numpy: bool
) -> None:
    """With one copy every episode's end is followed by an autoreset step, and the loop adds that
    step's real transitions: none, with empty env_ids. The buffer, its n-step links included, is
    left as it was, and the next transitions go where they would have gone without it."""
    with_empty = ReplayBuffer(10, OBS_SHAPE, np.float32, n_step=n_step)
    without = ReplayBuffer(10, OBS_SHAPE, np.float32, n_step=n_step)
    with_empty.write_through_numpy = write_through_numpy
    nobody = np.flatnonzero(np.zeros(2, dtype=bool))  # as dqn_loop computes env_ids
    for buffer in (with_empty, without):
        add(buffer, 1, 4)
    obs, action, reward, next_obs, terminated = transitions(5, 2)
    with_empty.add(
        obs[nobody],
        action[nobody],
        reward[nobody],
        next_obs[nobody],
        terminated[nobody],
        episode_end=terminated[nobody],
        env_ids=nobody,
    )
    for buffer in (with_empty, without):
        add(buffer, 5, 3)
    assert len(with_empty) == len(without) == 7
    saved, expected = with_empty.state_dict(), without.state_dict()
    for name in ("obs", "next_obs", "action", "reward", "terminated"):
        assert torch.equal(saved[name], expected[name]), name
    if n_step > 1:
        for name, value in expected["links"].items():
            assert torch.equal(torch.as_tensor(saved["links"][name]), torch.as_tensor(value))


def test_nstep_sampling_without_a_complete_transition_is_an_error_not_an_endless_redraw() -> None:
    """eq-nstep: a transition whose episode goes on past what is stored is redrawn; when no held
    transition is complete (two steps of a 3-step episode in progress, as a buffer refilling
    after a resume holds), sampling says so instead of redrawing forever. One step more and
    the first transition is complete, and sampling returns it."""
    buffer = ReplayBuffer(10, OBS_SHAPE, np.float32, n_step=3)
    obs, action, reward, next_obs, _ = transitions(1, 3)
    going_on = np.zeros(1, dtype=bool)
    for t in range(3):
        if t == 2:
            with pytest.raises(
                ValueError, match=r"^cannot sample 3-step transitions: none of the 2 held"
            ):
                buffer.sample(4)
        step = slice(t, t + 1)
        buffer.add(
            obs[step],
            action[step],
            reward[step],
            next_obs[step],
            going_on,
            episode_end=going_on,
            env_ids=[0],
        )
    assert buffer.sample(4).obs[:, 0].tolist() == [1.0] * 4

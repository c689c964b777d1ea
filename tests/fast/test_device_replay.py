"""DeviceFrameReplay against FrameReplayBuffer (spec/replay.md, eq-replay-device).

The same random streams of frame-stacked episodes (several copies, terminations and truncations
anywhere, skipped autoreset steps, buffers that wrap around, one- and multi-step returns) go into
both buffers; the device one must hold the same transitions and rebuild each exactly as the host
one does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from dqn_ref.batch import Batch
from dqn_ref.fast.device_replay import DeviceFrameReplay, nstep_return_on_device
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.nstep import nstep_return

FRAME_SHAPE = (2, 3)


@st.composite
def streams(draw: st.DrawFn) -> dict[str, int]:
    """Sizes and a seed for one random stream of lockstep steps."""
    return {
        "stack": draw(st.integers(2, 4)),
        "num_envs": draw(st.integers(1, 3)),
        "slots_per_env": draw(st.integers(10, 30)),
        "locksteps": draw(st.integers(1, 80)),
        "n_step": draw(st.integers(1, 3)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def add_calls(params: dict[str, int]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The add calls of one random stream: the reward of transition `id` is `id`."""
    rng = np.random.default_rng(params["seed"])
    stack, num_envs = params["stack"], params["num_envs"]

    def first_stack() -> NDArray[np.uint8]:
        return rng.integers(0, 256, (stack, *FRAME_SHAPE), dtype=np.uint8)

    obs = np.stack([first_stack() for _ in range(num_envs)])
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    ident = 0
    for _ in range(params["locksteps"]):
        real = rng.random(num_envs) < 0.8
        if not real.any():
            continue
        columns = np.flatnonzero(real)
        new_frames = rng.integers(0, 256, (len(columns), 1, *FRAME_SHAPE), dtype=np.uint8)
        next_obs = np.concatenate([obs[columns, 1:], new_frames], axis=1)
        ends = rng.random(len(columns))
        terminated, truncated = ends < 0.1, (ends >= 0.1) & (ends < 0.2)
        identities = np.arange(ident, ident + len(columns))
        calls.append(
            (
                (obs[columns].copy(), identities % 5, identities.astype(np.float32), next_obs),
                {
                    "terminated": terminated,
                    "episode_end": terminated | truncated,
                    "env_ids": columns,
                },
            )
        )
        ident += len(columns)
        for row, column in enumerate(columns):
            obs[column] = first_stack() if terminated[row] or truncated[row] else next_obs[row]
    return calls


def fill_both(params: dict[str, int]) -> tuple[FrameReplayBuffer, DeviceFrameReplay]:
    sizes = (params["slots_per_env"] * params["num_envs"], (params["stack"], *FRAME_SHAPE))
    options = {"num_envs": params["num_envs"], "n_step": params["n_step"], "gamma": 0.9}
    host = FrameReplayBuffer(*sizes, **options)  # type: ignore[arg-type]
    device = DeviceFrameReplay(*sizes, **options)  # type: ignore[arg-type]
    for args, kwargs in add_calls(params):
        host.add(*args, **kwargs)
        device.add(*args, **kwargs)
    return host, device


def held_by_host(host: FrameReplayBuffer) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """FrameReplayBuffer's sampleable transitions: held, and with a complete n-step return."""
    slots, columns = host.held_transitions()
    if host.n_step > 1:
        complete = host._nstep(slots, columns).complete
        slots, columns = slots[complete], columns[complete]
    return slots, columns


def assert_same_batch(expected: Batch, actual: Batch) -> None:
    for name, value in expected._asdict().items():
        other = getattr(actual, name)
        if value is None:
            assert other is None, name
        else:
            assert other.dtype == value.dtype, name
            assert torch.equal(other, value), name


@settings(max_examples=60, deadline=None)
@given(streams())
def test_the_held_transitions_are_frame_replays_and_rebuilt_alike(params: dict[str, int]) -> None:
    """eq-replay-device P1: same transitions in, the same held rows, and every held transition's
    stacks, action, reward (R^(k) for n-step), terminated flag and discount equal
    FrameReplayBuffer.gather's for the same slot."""
    host, device = fill_both(params)
    slots, columns = held_by_host(host)
    held = device.held_rows()
    expected_held = torch.zeros_like(held)
    expected_held[torch.from_numpy(slots % host.slots_per_env), torch.from_numpy(columns)] = True
    assert torch.equal(held, expected_held)
    if len(slots):
        assert_same_batch(
            host.gather(slots, columns),
            device.gather_rows(
                torch.from_numpy(slots % host.slots_per_env), torch.from_numpy(columns)
            ),
        )


@settings(max_examples=40, deadline=None)
@given(streams(), st.integers(1, 64))
def test_every_draw_is_a_held_transition(params: dict[str, int], batch_size: int) -> None:
    """eq-replay-device P2: draws come from the held transitions only (never an unwritten,
    overwritten, first-stack or incomplete n-step slot), with FrameReplayBuffer's fields."""
    host, device = fill_both(params)
    slots, columns = held_by_host(host)
    if not len(slots):
        return
    batch = device.sample(batch_size)
    held_rewards = {float(r) for r in host.gather(slots, columns).reward}
    assert {float(r) for r in batch.reward} <= held_rewards
    assert batch.obs.shape == (batch_size, params["stack"], *FRAME_SHAPE)
    assert torch.equal(batch.next_obs[:, :-1], batch.obs[:, 1:]) or params["n_step"] > 1


def test_draws_are_uniform_over_the_held_transitions() -> None:
    """eq-replay-device P3: counts of 40,000 draws over 3 copies' held transitions pass a
    chi-square test at the 0.1% level (fixed seed); first stacks' older slots are never drawn."""
    params = {"stack": 3, "num_envs": 3, "slots_per_env": 20, "locksteps": 60, "n_step": 1}
    host, device = fill_both({**params, "seed": 3})
    slots, columns = held_by_host(host)
    held_rewards = host.gather(slots, columns).reward.tolist()
    draws = torch.cat([device.sample(1_000).reward for _ in range(40)]).tolist()
    counts = np.array([draws.count(reward) for reward in held_rewards])
    assert counts.sum() == len(draws)
    expected = len(draws) / len(held_rewards)
    chi_square = ((counts - expected) ** 2 / expected).sum()
    # 99.9% quantile of chi-square with len - 1 degrees of freedom (Wilson-Hilferty).
    dof = len(held_rewards) - 1
    bound = dof * (1 - 2 / (9 * dof) + 3.09 * (2 / (9 * dof)) ** 0.5) ** 3
    assert chi_square < bound


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 16),
    st.integers(1, 4),
    st.floats(0.0, 1.0),
    st.integers(0, 2**31 - 1),
)
def test_the_device_n_step_return_is_nstep_returns_bit_for_bit(
    batch: int, n: int, gamma: float, seed: int
) -> None:
    """eq-replay-device P5: the torch twin of nstep_return returns the same R^(k), k,
    terminated and complete, bit for bit, for random chains with gaps, ends and terminations."""
    rng = np.random.default_rng(seed)
    reward = rng.normal(size=(batch, n)).astype(np.float32)
    terminated = rng.random((batch, n)) < 0.2
    episode_end = terminated | (rng.random((batch, n)) < 0.2)
    stored = rng.random((batch, n)) < 0.8
    expected = nstep_return(reward, terminated, episode_end, stored, gamma)
    tensors = [torch.from_numpy(array) for array in (reward, terminated, episode_end, stored)]
    actual = nstep_return_on_device(tensors[0], tensors[1], tensors[2], tensors[3], gamma)
    for name in expected._fields:
        assert np.array_equal(getattr(actual, name).numpy(), getattr(expected, name)), name


def test_storage_the_graph_reads_keeps_its_address_across_adds_and_loads() -> None:
    """eq-replay-device P4: frames, the mirror and the write counters are written in place by
    add and load_state_dict (a captured graph reads them by address), and a restored buffer
    draws what the original draws."""
    params = {"stack": 2, "num_envs": 2, "slots_per_env": 12, "locksteps": 30, "n_step": 2}
    _, device = fill_both({**params, "seed": 5})
    tensors = [device.frames, device.device_written, *device.mirror.values()]
    addresses = [t.data_ptr() for t in tensors]
    saved = device.state_dict()
    expected = device.sample(16)
    _, other = fill_both({**params, "seed": 6})
    other_addresses = [t.data_ptr() for t in (other.frames, other.device_written)]
    other.load_state_dict(saved)
    assert [t.data_ptr() for t in (other.frames, other.device_written)] == other_addresses
    assert_same_batch(expected, other.sample(16))
    for args, kwargs in add_calls({**params, "seed": 7})[:5]:
        device.add(*args, **kwargs)
    assert [t.data_ptr() for t in tensors] == addresses


def test_sampling_a_buffer_without_transitions_is_refused() -> None:
    with pytest.raises(ValueError, match="holds no transition"):
        DeviceFrameReplay(40, (2, *FRAME_SHAPE)).sample(4)

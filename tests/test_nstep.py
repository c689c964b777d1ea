"""eq-nstep (spec/bellman.md): n-step returns, against a slow reference, alone and as both replay
buffers sample them, over random episodes and buffers that wrap around."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dqn_ref.batch import Batch
from dqn_ref.bellman import bellman_target
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.nstep import nstep_return
from dqn_ref.replay import ReplayBuffer

gammas = st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0])


def slow_nstep(
    rewards: list[float], terminated: list[bool], ended: list[bool], n: int, gamma: float
) -> tuple[float, int, bool, bool]:
    """(R, k, terminal, complete) for the first transition of a stored stream, written out."""
    total, discount = 0.0, 1.0
    for k in range(1, n + 1):
        if k > len(rewards):
            return total, k - 1, False, False  # the episode goes on past what is stored
        total += discount * rewards[k - 1]
        discount *= gamma
        if terminated[k - 1]:
            return total, k, True, True
        if ended[k - 1]:
            return total, k, False, True  # truncated: bootstrap from the true last observation
    return total, n, False, True


@st.composite
def chains(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """(B, n) rewards, terminations, episode ends, stored prefixes. A termination that does not
    end the episode is a lost life with lives left (terminal_on_life_loss): the game goes on."""
    batch, n = draw(st.integers(1, 16)), draw(st.integers(1, 6))
    reward = draw(hnp.arrays(np.float32, (batch, n), elements=st.floats(-10, 10, width=32)))
    terminated = draw(hnp.arrays(np.bool_, (batch, n)))
    truncated = draw(hnp.arrays(np.bool_, (batch, n)))
    lives_left = draw(hnp.arrays(np.bool_, (batch, n)))
    stored_count = draw(hnp.arrays(np.int64, batch, elements=st.integers(1, n)))
    stored = np.arange(n)[None, :] < stored_count[:, None]
    return reward, terminated, truncated | (terminated & ~lives_left), stored


@given(chains(), gammas)
def test_nstep_return_equals_the_written_out_sum(
    inputs: tuple[np.ndarray, ...], gamma: float
) -> None:
    """eq-nstep P1: R^(k), k, the terminal flag and completeness, against a slow reference."""
    reward, terminated, ended, stored = inputs
    found = nstep_return(reward, terminated, ended, stored, gamma)
    for row in range(len(reward)):
        count = int(stored[row].sum())
        expected = slow_nstep(
            reward[row, :count].tolist(),
            terminated[row, :count].tolist(),
            ended[row, :count].tolist(),
            reward.shape[1],
            gamma,
        )
        assert found.complete[row] == expected[3]
        if expected[3]:
            assert np.isclose(found.reward[row], expected[0], rtol=1e-5, atol=1e-4)
            assert (found.steps[row], found.terminated[row]) == (expected[1], expected[2])


@given(chains(), gammas)
def test_one_step_is_eq_target(inputs: tuple[np.ndarray, ...], gamma: float) -> None:
    """eq-nstep P2: with n = 1, R = r, k = 1 and the terminal flag is `terminated`, so the target
    R + gamma^k (1 - d) max Q equals eq-target's."""
    reward, terminated, ended, stored = (array[:, :1] for array in inputs)
    found = nstep_return(reward, terminated, ended, stored, gamma)
    assert found.complete.all() and (found.steps == 1).all()
    assert np.array_equal(found.reward, reward[:, 0])
    assert np.array_equal(found.terminated, terminated[:, 0])
    next_q = torch.randn(len(reward), 3)
    one_step = bellman_target(
        torch.from_numpy(reward[:, 0]), next_q, torch.from_numpy(terminated[:, 0]), gamma
    )
    as_nstep = bellman_target(
        torch.from_numpy(found.reward),
        next_q,
        torch.from_numpy(found.terminated),
        torch.full((len(reward),), gamma) ** torch.from_numpy(found.steps),
    )
    assert torch.allclose(one_step, as_nstep)


@dataclass
class EpisodeLog:
    """Every transition added, with its copy and its position in its copy's stream."""

    reward: dict[int, float] = field(default_factory=dict)
    terminated: dict[int, bool] = field(default_factory=dict)
    ended: dict[int, bool] = field(default_factory=dict)
    next_in_episode: dict[int, int] = field(default_factory=dict)
    open_by_copy: dict[int, int] = field(default_factory=dict)

    def add(self, ident: int, copy: int, reward: float, terminated: bool, ended: bool) -> None:
        if copy in self.open_by_copy:
            self.next_in_episode[self.open_by_copy.pop(copy)] = ident
        self.reward[ident], self.terminated[ident], self.ended[ident] = reward, terminated, ended
        if not ended:
            self.open_by_copy[copy] = ident

    def expected(self, ident: int, n: int, gamma: float) -> tuple[float, int, bool, bool, int]:
        """(R, k, terminal, complete, id of the k-th transition) by walking the episode."""
        chain = [ident]
        while len(chain) < n and chain[-1] in self.next_in_episode:
            chain.append(self.next_in_episode[chain[-1]])
        found = slow_nstep(
            [self.reward[i] for i in chain],
            [self.terminated[i] for i in chain],
            [self.ended[i] for i in chain],
            n,
            gamma,
        )
        return (*found, chain[found[1] - 1] if found[1] else ident)


def assert_row_is_the_reference(
    batch: Batch,
    row: int,
    sampled: int,
    log: EpisodeLog,
    n: int,
    gamma: float,
    held: Collection[int],
) -> int:
    """Row `row` of a sampled batch, transition `sampled`, is complete and held, and has the
    reference's R^(k), gamma^k and terminal flag; returns the id of its k-th transition."""
    total, steps, terminal, complete, last = log.expected(sampled, n, gamma)
    assert sampled in held and complete
    assert batch.discount is not None
    assert np.isclose(float(batch.reward[row]), total, rtol=1e-5, atol=1e-4)
    assert np.isclose(float(batch.discount[row]), gamma**steps, rtol=1e-6)
    assert bool(batch.terminated[row]) == terminal
    return last


def random_stream(seed: int, copies: int, locksteps: int):  # type: ignore[no-untyped-def]
    """Lockstep steps of `copies` env copies: (copies stepping, rewards, terminated, truncated);
    some copies skip a step, as an autoreset step is skipped."""
    rng = np.random.default_rng(seed)
    for _ in range(locksteps):
        real = np.flatnonzero(rng.random(copies) < 0.8)
        ends = rng.random(len(real))
        rewards = rng.integers(-3, 4, len(real)).astype(np.float32)
        yield real, rewards, ends < 0.15, (ends >= 0.15) & (ends < 0.3)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 3),
    st.integers(2, 5),
    st.integers(4, 40),
    st.integers(1, 90),
    gammas,
)
def test_replay_buffer_samples_the_nstep_transitions_of_its_episodes(
    seed: int, copies: int, n: int, capacity: int, locksteps: int, gamma: float
) -> None:
    """eq-nstep P3: ReplayBuffer(n_step=n) returns, for every sampled transition, the reference's
    R^(k), gamma^k, terminal flag and s_{t+k} (the true last observation after a truncation),
    never an incomplete transition, across the ring's wrap-around and interleaved copies."""
    buffer = ReplayBuffer(capacity, (2,), np.float32, n_step=n, gamma=gamma, seed=seed)
    log = EpisodeLog()
    ident = 0
    for real, rewards, terminated, truncated in random_stream(seed, copies, locksteps):
        if not len(real):
            continue
        ids = np.arange(ident, ident + len(real))
        # obs names the transition; next_obs names the transition it follows.
        obs = np.stack([ids, np.zeros_like(ids)], axis=1).astype(np.float32)
        next_obs = np.stack([ids, np.ones_like(ids)], axis=1).astype(np.float32)
        buffer.add(
            obs, np.zeros(len(real), np.int64), rewards, next_obs, terminated,
            episode_end=terminated | truncated, env_ids=real,
        )  # fmt: skip
        for row, copy in enumerate(real):
            log.add(
                int(ids[row]), int(copy), float(rewards[row]), bool(terminated[row]),
                bool(terminated[row] | truncated[row]),
            )  # fmt: skip
        ident += len(real)
    held = range(max(0, ident - capacity), ident)
    assume(any(log.expected(i, n, gamma)[3] for i in held))
    batch = buffer.sample(64)
    for row in range(64):
        last = assert_row_is_the_reference(batch, row, int(batch.obs[row, 0]), log, n, gamma, held)
        assert batch.next_obs[row].tolist() == [last, 1]


@settings(max_examples=50, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 3),
    st.integers(2, 5),
    st.integers(12, 30),
    st.integers(1, 90),
    gammas,
)
def test_frame_replay_samples_the_nstep_transitions_of_its_episodes(
    seed: int, copies: int, n: int, slots: int, locksteps: int, gamma: float
) -> None:
    """eq-nstep P4: FrameReplayBuffer(n_step=n) does the same with stacks rebuilt from frames:
    s from the sampled slot, s_{t+k} from k slots later, within the episode."""
    stack = 2
    rng = np.random.default_rng(seed)
    buffer = FrameReplayBuffer(slots * copies, (stack, 1, 3), copies, n_step=n, gamma=gamma)
    log = EpisodeLog()
    by_obs: dict[bytes, int] = {}
    next_obs_of: dict[int, np.ndarray] = {}

    def fresh_stack() -> np.ndarray:
        return rng.integers(0, 256, (stack, 1, 3), dtype=np.uint8)

    obs = np.stack([fresh_stack() for _ in range(copies)])
    ident = 0
    for real, rewards, terminated, truncated in random_stream(seed, copies, locksteps):
        if not len(real):
            continue
        new = rng.integers(0, 256, (len(real), 1, 1, 3), dtype=np.uint8)
        next_obs = np.concatenate([obs[real, 1:], new], axis=1)
        ended = terminated | truncated
        buffer.add(
            obs[real], np.zeros(len(real), np.int64), rewards, next_obs, terminated,
            episode_end=ended, env_ids=real,
        )  # fmt: skip
        for row, copy in enumerate(real):
            key = obs[copy].tobytes()
            assume(key not in by_obs)  # random frames name their transition
            by_obs[key] = ident
            next_obs_of[ident] = next_obs[row]
            log.add(ident, int(copy), float(rewards[row]), bool(terminated[row]), bool(ended[row]))
            obs[copy] = fresh_stack() if ended[row] else next_obs[row]
            ident += 1
    held_slots, held_columns = buffer.held_transitions()
    held = [by_obs[o.tobytes()] for o in buffer.gather(held_slots, held_columns).obs.numpy()]
    assume(any(log.expected(i, n, gamma)[3] for i in held))
    batch = buffer.sample(64)
    for row in range(64):
        sampled = by_obs[batch.obs[row].numpy().tobytes()]
        last = assert_row_is_the_reference(batch, row, sampled, log, n, gamma, held)
        assert np.array_equal(batch.next_obs[row].numpy(), next_obs_of[last])


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.integers(2, 4), st.integers(4, 30))
def test_an_nstep_buffer_restored_from_its_state_dict_continues_as_the_original(
    seed: int, copies: int, n: int, capacity: int
) -> None:
    """eq-nstep P3 across a checkpoint (spec/reliability.md, Resume): a fresh ReplayBuffer(n_step=n)
    loaded from state_dict() keeps the links between each transition and its successors, so
    after the same further transitions both buffers sample the same R^(k), gamma^k and s_{t+k}."""
    buffers = [
        ReplayBuffer(capacity, (2,), np.float32, n_step=n, gamma=0.9, seed=seed + offset)
        for offset in (0, 1)
    ]
    stream = list(random_stream(seed, copies, 40))
    # Every copy's episode ends last, so some transition is complete and sampling terminates.
    everyone = np.arange(copies)
    stream.append((everyone, np.ones(copies, np.float32), everyone >= 0, everyone < 0))

    def play(buffer: ReplayBuffer, steps: list, first: int) -> int:  # type: ignore[type-arg]
        for real, rewards, terminated, truncated in steps:
            if not len(real):
                continue
            ids = np.arange(first, first + len(real), dtype=np.float32)
            obs = np.stack([ids, np.zeros_like(ids)], axis=1)
            buffer.add(
                obs, np.zeros(len(real), np.int64), rewards, obs + 1, terminated,
                episode_end=terminated | truncated, env_ids=real,
            )  # fmt: skip
            first += len(real)
        return first

    original, restored = buffers
    added = play(original, stream[:20], 0)
    restored.load_state_dict(original.state_dict())
    for buffer in buffers:
        play(buffer, stream[20:], added)
    got, expected = restored.sample(32), original.sample(32)
    for name in ("obs", "reward", "next_obs", "terminated", "discount"):
        assert torch.equal(getattr(got, name), getattr(expected, name)), name


def test_after_end_episodes_no_transition_continues_an_earlier_one() -> None:
    """eq-nstep rule "neither yet": after end_episodes (environments reset outside the loop) a
    copy's next transition is not the successor of its last one. Copy 0 adds transitions 0 and 1
    (episode going on), end_episodes, then a terminal transition 2 (n = 2, gamma = 0.5): held
    are 0 (R = 1 + 0.5 * 2 = 2) and 2 (R = 8); 1 stays incomplete and is never sampled."""
    buffer = ReplayBuffer(8, (2,), np.float32, n_step=2, gamma=0.5)

    def add(ident: int, reward: float, ended: bool) -> None:
        obs = np.full((1, 2), ident, np.float32)
        buffer.add(obs, [0], [reward], obs + 1, [ended], episode_end=[ended], env_ids=[0])

    add(0, 1.0, False)
    add(1, 2.0, False)
    buffer.end_episodes()
    add(2, 8.0, True)
    batch = buffer.sample(64)
    assert set(batch.reward.tolist()) == {2.0, 8.0}
    assert batch.discount is not None
    assert set(batch.discount.tolist()) == {0.25, 0.5}


def test_nstep_returns_sum_the_rewards_as_stored_in_float32() -> None:
    """eq-nstep: R^(k) sums the stored rewards, which are float32 like the one-step buffer's. A
    float64 reward a little above half a float32 ulp of 1, 2^-24 (1 + 1e-8), is stored as 2^-24,
    so 1 + 2^-24 is a tie that float32 rounds to 1, not up to 1 + 2^-23."""
    buffer = ReplayBuffer(8, (2,), np.float32, n_step=2, gamma=1.0)
    obs = np.zeros((1, 2), np.float32)
    for reward, ended in ((1.0, False), (2.0**-24 * (1 + 1e-8), True)):
        buffer.add(obs, [0], np.array([reward]), obs, [ended], episode_end=[ended], env_ids=[0])
    assert 1.0 in buffer.sample(64).reward.tolist()  # transition 0: R = 1 + 2^-24 -> 1


@given(chains(), gammas)
def test_nstep_return_has_the_documented_dtypes(
    inputs: tuple[np.ndarray, ...], gamma: float
) -> None:
    """eq-nstep: R^(k) is float32 like the stored rewards (summed in float64), k is int64 and
    the terminal and complete flags are bool, one per row."""
    reward, terminated, ended, stored = inputs
    found = nstep_return(reward, terminated, ended, stored, gamma)
    assert found.reward.dtype == np.float32 and found.steps.dtype == np.int64
    assert found.terminated.dtype == np.bool_ and found.complete.dtype == np.bool_
    assert len(found.reward) == len(inputs[0])


def test_a_copy_seen_for_the_first_time_continues_no_other_copys_transition() -> None:
    """eq-nstep, successors are the copy's own: when copy 1 adds its first transition after copy 0
    has added two, copy 0's open transition 1 does not become copy 1's predecessor. Sampled then:
    transition 0 (R = 1 + 0.5 * 2 = 2, its successor stored) and copy 1's terminal one (R = 100);
    transition 1 waits for copy 0's next step."""
    buffer = ReplayBuffer(8, (2,), np.float32, n_step=2, gamma=0.5)

    def add(copy: int, ident: int, reward: float, terminated: bool) -> None:
        obs = np.full((1, 2), ident, np.float32)
        buffer.add(
            obs, [0], [reward], obs + 1, [terminated], episode_end=[terminated], env_ids=[copy]
        )

    add(0, 0, 1.0, False)
    add(0, 1, 2.0, False)
    add(1, 2, 100.0, True)
    assert set(buffer.sample(64).reward.tolist()) <= {2.0, 100.0}


def test_an_episode_end_closes_the_copys_chain_even_after_its_row_is_reused() -> None:
    """eq-nstep, successors within an episode only: copy 0's episode ends at transition 0, whose
    row copy 1's transition 2 then reuses (capacity 2); copy 0's next transition 3 starts a new
    episode and must not be linked to whatever holds transition 0's row. Held are 2 (successor
    not stored yet: incomplete) and 3 (terminal, R = 16), so every sample is transition 3."""
    buffer = ReplayBuffer(2, (2,), np.float32, n_step=2, gamma=0.5)

    def add(copy: int, ident: int, reward: float, ended: bool) -> None:
        obs = np.full((1, 2), ident, np.float32)
        buffer.add(obs, [0], [reward], obs + 1, [ended], episode_end=[ended], env_ids=[copy])

    add(0, 0, 1.0, True)
    add(1, 1, 2.0, False)
    add(1, 2, 4.0, False)
    add(0, 3, 16.0, True)
    assert buffer.sample(64).reward.tolist() == [16.0] * 64


def test_without_env_ids_the_nth_transition_is_copy_ns() -> None:
    """eq-nstep with several copies in lockstep: env_ids defaults to 0 .. n-1, so adds without it
    link each copy's transitions as adds that name the copies do."""
    named = ReplayBuffer(8, (2,), np.float32, n_step=2, gamma=0.5, seed=1)
    default = ReplayBuffer(8, (2,), np.float32, n_step=2, gamma=0.5, seed=1)
    for step, ended in ((0, False), (1, True)):
        obs = np.array([[step, 0], [step, 1]], np.float32)
        fields = (obs, [0, 0], [1.0 + step, 10.0 * (1 + step)], obs + 1, [ended, ended])
        named.add(*fields, episode_end=[ended, ended], env_ids=[0, 1])
        default.add(*fields, episode_end=[ended, ended])
    got, expected = default.sample(64), named.sample(64)
    assert torch.equal(got.reward, expected.reward)
    assert set(got.reward.tolist()) == {2.0, 1.0 + 0.5 * 2.0, 20.0, 10.0 + 0.5 * 20.0}

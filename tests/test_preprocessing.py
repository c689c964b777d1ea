"""eq-reward-clip (spec/preprocessing.md): rewards stored in replay are clipped to [-1, 1]."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dqn_ref.preprocessing import clip_reward

rewards = hnp.arrays(
    np.float64,
    st.integers(1, 32),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)


@given(rewards)
def test_clipped_rewards_lie_in_minus_one_to_one(reward: np.ndarray) -> None:
    """eq-reward-clip P1: every stored reward is in [-1, 1]."""
    clipped = clip_reward(reward)
    assert clipped.dtype == np.float32
    assert bool(((clipped >= -1.0) & (clipped <= 1.0)).all())


@given(rewards)
def test_clipping_keeps_sign_and_small_rewards(reward: np.ndarray) -> None:
    """eq-reward-clip P2: the sign survives (0 stays 0), and rewards already in [-1, 1] are kept."""
    clipped = clip_reward(reward)
    assert np.array_equal(np.sign(clipped), np.sign(reward.astype(np.float32)))
    inside = np.abs(reward) <= 1.0
    assert np.array_equal(clipped[inside], reward[inside].astype(np.float32))


@given(rewards)
def test_clipping_is_idempotent(reward: np.ndarray) -> None:
    """eq-reward-clip P3: clipping a clipped reward changes nothing."""
    once = clip_reward(reward)
    assert np.array_equal(clip_reward(once), once)


def test_reward_clip_worked_example() -> None:
    """eq-reward-clip by hand: Pong's +1/-1 pass unchanged, Breakout's 7 becomes 1, -3.5 becomes -1,
    CartPole's 1 per step is untouched."""
    clipped = clip_reward(np.array([1.0, -1.0, 7.0, -3.5, 0.0, 0.25]))
    assert clipped.tolist() == [1.0, -1.0, 1.0, -1.0, 0.0, 0.25]

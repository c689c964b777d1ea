"""dqn_ref.envs: which vector env is built, and that the native vector CartPole is CartPole."""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from gymnasium.vector import SyncVectorEnv
from hypothesis import given, settings
from hypothesis import strategies as st

from dqn_ref.config import DQNConfig
from dqn_ref.envs import (
    ATARI,
    NATIVE_VECTOR_MIN_ENVS,
    VECTOR,
    capture_env_state,
    check_env_kind,
    game_over,
    make_vector_env,
    restore_env_state,
    spec_reward_threshold,
    with_env_threshold,
)
from dqn_ref.errors import DQNRefError


def test_cartpole_uses_the_native_vector_env_from_two_copies() -> None:
    assert isinstance(make_vector_env("CartPole-v1", 1), SyncVectorEnv)
    assert isinstance(make_vector_env("CartPole-v1", NATIVE_VECTOR_MIN_ENVS), CartPoleVectorEnv)
    assert isinstance(make_vector_env("Acrobot-v1", 4), SyncVectorEnv)  # no native version


def test_time_limit_reaches_the_native_vector_env() -> None:
    envs = make_vector_env("CartPole-v1", 3, max_episode_steps=7)
    envs.reset(seed=0)
    for step in range(7):
        # Alternating pushes keep the pole up: it cannot fall in 7 steps from within +-0.05.
        _, _, terminated, truncated, _ = envs.step(np.full(3, step % 2))
        assert not terminated.any()
        assert truncated.all() == (step == 6)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 6))
def test_native_vector_cartpole_follows_the_single_env_dynamics(seed: int, copies: int) -> None:
    """Each copy of the native vector env, started from the same state as a gymnasium CartPole-v1,
    gives the same observations, rewards and terminations under the same actions, up to and
    including the step that ends the episode, and then autoresets next-step (reward 0)."""
    vector = make_vector_env("CartPole-v1", copies)
    first_obs, _ = vector.reset(seed=seed)
    singles = [gym.make("CartPole-v1") for _ in range(copies)]
    for index, single in enumerate(singles):
        single.reset(seed=seed)
        single.unwrapped.state = vector.unwrapped.state[:, index].copy()  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    live = np.ones(copies, dtype=bool)
    ended = np.zeros(copies, dtype=bool)
    for _ in range(500):
        actions = rng.integers(0, 2, copies)
        obs, reward, terminated, truncated, _ = vector.step(actions)
        assert np.all(reward[ended] == 0.0)  # the autoreset step after an end carries no reward
        for index in np.flatnonzero(live).tolist():
            single_obs, single_reward, single_term, single_trunc, _ = singles[index].step(
                int(actions[index])
            )
            np.testing.assert_allclose(obs[index], single_obs, rtol=1e-6, atol=1e-6)
            assert reward[index] == single_reward
            assert (terminated[index], truncated[index]) == (single_term, single_trunc)
        ended = (terminated | truncated) & live
        live &= ~ended
        if not live.any():
            break
    assert not live.any()  # random play ends every episode well within 500 steps
    _, reward, _, _, _ = vector.step(np.zeros(copies, dtype=np.int64))
    assert np.all(reward[ended] == 0.0)
    assert first_obs.shape == (copies, 4)


def test_unknown_env_is_a_one_line_error() -> None:
    with pytest.raises(DQNRefError, match="did you mean CartPole-v1"):
        make_vector_env("CartPole-v2", 4)


@pytest.mark.parametrize("num_envs", [1, 4])
def test_restored_env_state_steps_exactly_as_the_original(num_envs: int) -> None:
    """spec/reliability.md#resume: the pickled vector env, restored, continues the same episodes
    (physics, time limit, autoreset) and the same random resets as the original."""
    envs = make_vector_env("CartPole-v1", num_envs, max_episode_steps=20)
    envs.reset(seed=3)
    actions = np.random.default_rng(0).integers(0, 2, (120, num_envs))
    for action in actions[:37]:
        envs.step(action)
    state = capture_env_state(envs)
    assert state is not None
    restored = restore_env_state(state)
    for action in actions[37:]:
        for original_out, restored_out in zip(
            envs.step(action), restored.step(action), strict=True
        ):
            if isinstance(original_out, np.ndarray):
                np.testing.assert_array_equal(original_out, restored_out)


def test_an_env_that_cannot_be_pickled_is_reported_not_raised() -> None:
    """Environments with native handles (an emulator) cannot be captured: capture says so with
    None, and resume then starts fresh environments and reports that it is not bit-exact."""
    envs: Any = make_vector_env("CartPole-v1", 1)  # a SyncVectorEnv, whose copies are .envs
    envs.envs[0].unwrapped.handle = lambda: None  # stands in for a native handle
    assert capture_env_state(envs) is None


def test_garbage_env_state_is_a_one_line_error() -> None:
    with pytest.raises(DQNRefError, match="environment state does not load"):
        restore_env_state(b"not a pickle")


@pytest.mark.parametrize(
    ("env_id", "threshold"),
    [("CartPole-v1", 475.0), ("Acrobot-v1", -100.0), ("MountainCar-v0", -110.0)],
)
def test_the_threshold_comes_from_the_environments_spec(env_id: str, threshold: float) -> None:
    assert spec_reward_threshold(env_id) == threshold
    config = DQNConfig(env_id=env_id)
    assert with_env_threshold(config).solved_threshold == threshold
    # A stated threshold wins over the spec's.
    assert with_env_threshold(config.replace(solved_threshold=7.0)).solved_threshold == 7.0


def test_an_environment_without_a_threshold_measures_no_solve() -> None:
    assert spec_reward_threshold("ALE/Breakout-v5") is None
    config = DQNConfig(env_id="ALE/Breakout-v5", network="nature_cnn")
    assert with_env_threshold(config).solved_threshold is None


@pytest.mark.parametrize(
    ("env_id", "kind", "message"),
    [
        ("Pendulum-v1", VECTOR, "DQN needs a discrete action space, but Pendulum-v1 has Box"),
        ("ALE/Breakout-v5", VECTOR, "ALE/Breakout-v5 is an Atari game, seen as pixels; train it"),
        ("CartPole-v1", ATARI, "CartPole-v1 is not an Atari game; the atari task takes"),
        ("CartPol-v1", VECTOR, "unknown environment id 'CartPol-v1'"),
    ],
)
def test_an_environment_of_the_wrong_kind_is_a_one_line_error(
    env_id: str, kind: str, message: str
) -> None:
    with pytest.raises(DQNRefError, match=re.escape(message)) as error:
        check_env_kind(env_id, kind)
    assert "\n" not in str(error.value)


def test_an_environment_with_image_observations_is_not_a_vector_one() -> None:
    """A discrete-action environment whose observations are images is refused by the control
    kind (registered here for the test: gymnasium ships none without an extra)."""
    gym.register("ImageObservations-v0", entry_point=make_image_observations_env)
    try:
        with pytest.raises(DQNRefError, match=re.escape("shape (8, 8, 3), not a vector")):
            check_env_kind("ImageObservations-v0", VECTOR)
    finally:
        gym.registry.pop("ImageObservations-v0")


class ImageObservationsEnv(gym.Env[Any, Any]):
    observation_space = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)


def make_image_observations_env(**kwargs: Any) -> gym.Env[Any, Any]:
    return ImageObservationsEnv()


def test_vector_environments_of_every_kind_pass() -> None:
    for env_id in ("CartPole-v1", "Acrobot-v1", "MountainCar-v0"):
        check_env_kind(env_id, VECTOR)
    check_env_kind("ALE/Breakout-v5", ATARI)


def test_a_missing_box2d_names_the_extra_that_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Box2D, gymnasium raises DependencyNotInstalled on making LunarLander; dqn_ref says
    which of its extras installs it, in one line."""

    def no_box2d(*args: Any, **kwargs: Any) -> gym.Env[Any, Any]:
        raise gym.error.DependencyNotInstalled('Box2D is not installed, run `pip install "box2d"`')

    monkeypatch.setattr(gym, "make", no_box2d)
    expected = 'LunarLander-v3 needs box2d (not installed here): pip install -e ".[box2d]"'
    with pytest.raises(DQNRefError, match=re.escape(expected)):
        make_vector_env("LunarLander-v3", 1)
    with pytest.raises(DQNRefError, match=re.escape(expected)):
        check_env_kind("LunarLander-v3", VECTOR)


# (terminated, truncated, lives after the step or None when not reported) -> the game is over.
GAME_OVER_CASES = [
    (False, False, None, False),
    (True, False, None, True),
    (False, True, None, True),
    (True, True, None, True),
    (False, False, 3, False),
    (True, False, 3, False),  # a life lost (terminal_on_life_loss), the game goes on
    (True, False, 0, True),  # the last life lost
    (False, True, 3, True),  # the time limit, lives left: every ALE game reports lives
    (False, True, 0, True),  # the time limit in a game without lives (Pong reports 0)
    (True, True, 3, True),
]


@pytest.mark.parametrize(("terminated", "truncated", "lives", "over"), GAME_OVER_CASES)
def test_an_episode_ends_at_a_truncation_or_a_termination_with_no_life_left(
    terminated: bool, truncated: bool, lives: int | None, over: bool
) -> None:
    """game_over: a truncation always ends the episode, lives or not (ale-py's vector env reports
    lives for every game, and resets a truncated copy on its next step whatever they are); a
    termination ends it unless lives are reported and some are left."""
    info = {} if lives is None else {"lives": np.array([lives, 0])}
    ended = game_over(np.array([terminated, False]), np.array([truncated, False]), info)
    assert ended.tolist() == [over, False]

"""Episodes played by a policy in an environment given as an id or as a raw gymnasium.Env, seen
through the run's own preprocessing, one episode after another (Policy.play)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from ale_py.env import AtariEnv
from numpy.typing import NDArray

from dqn_ref.config import DQNConfig
from dqn_ref.env_source import env_kwargs_of
from dqn_ref.envs import (
    ATARI_FRAME_SKIP,
    ATARI_FRAME_STACK,
    ATARI_SCREEN_SIZE,
    atari_options,
    is_atari,
    make_env,
)
from dqn_ref.errors import DQNRefError

Act = Callable[[Any], Any]  # one observation -> one action


class OneEpisode:
    """reset(seed) -> observation and step(action) -> (observation, reward, ended), over a
    single gymnasium.Env or over the one copy of a vector env (reset before every episode, so
    that its autoreset never comes into play)."""

    def __init__(self, env: gym.Env[Any, Any] | gym.vector.VectorEnv):
        self.env = env
        self.vector = isinstance(env, gym.vector.VectorEnv)

    def reset(self, seed: int | None) -> Any:
        obs, _ = self.env.reset(seed=seed)
        return obs[0] if self.vector else obs

    def step(self, action: int) -> tuple[Any, float, bool]:
        if self.vector:
            obs, reward, terminated, truncated, _ = self.env.step(np.array([action]))
            ended = np.asarray(terminated)[0] or np.asarray(truncated)[0]
            return obs[0], float(np.asarray(reward)[0]), bool(ended)
        obs, reward, terminated, truncated, _ = self.env.step(action)
        return obs, float(reward), bool(terminated or truncated)

    def close(self) -> None:
        self.env.close()


def episode_env(
    env: gym.Env[Any, Any] | str, config: DQNConfig, obs_shape: tuple[int, ...]
) -> tuple[OneEpisode, bool]:
    """The environment as the policy sees it, and whether it was built here (and is to be closed
    here). An id is built as the run's evaluations build it (dqn_ref.envs.make_env, one copy); a
    raw Atari game gets gymnasium's AtariPreprocessing (no-op starts, max-and-skip 4, 84x84
    grey) and a stack of 4 frames, the pipeline of spec/preprocessing.md#eq-atari-frames."""
    if isinstance(env, str):
        time_limit = config.eval_max_episode_steps or config.max_episode_steps
        kwargs = env_kwargs_of(config.env_kwargs) if env == config.env_id else {}
        built = make_env(env, 1, time_limit, atari_options(config, training=False), kwargs)
        return OneEpisode(built), True
    if not isinstance(env, gym.Env):
        raise DQNRefError(
            f"play takes an environment id or a gymnasium.Env, not {type(env).__name__}"
        )
    if isinstance(env.unwrapped, AtariEnv):
        env = atari_pipeline(env, config)
    shape = tuple(env.observation_space.shape or ())
    if shape != obs_shape:
        raise DQNRefError(
            f"the environment gives observations of shape {shape}, but this agent takes "
            f"{obs_shape} (what {config.env_id} gives through the run's preprocessing)"
        )
    return OneEpisode(env), False


def atari_pipeline(env: gym.Env[Any, Any], config: DQNConfig) -> gym.Env[Any, Any]:
    """A raw ale-py game seen through the run's frame pipeline (spec/preprocessing.md)."""
    frameskip = getattr(env.unwrapped, "_frameskip", 1)
    if frameskip != 1:
        raise DQNRefError(
            f"this Atari game skips {frameskip} frames itself; play does the run's frame "
            "skipping, so make it with gym.make(env_id, frameskip=1), or pass the id"
        )
    try:
        import cv2  # noqa: F401  (AtariPreprocessing resizes with OpenCV)
    except ImportError as error:
        raise DQNRefError(
            "playing a raw Atari game needs OpenCV for its resizing: pip install "
            "opencv-python-headless, or pass the game's id"
        ) from error
    preprocessed = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=config.noop_max,
        frame_skip=ATARI_FRAME_SKIP,
        screen_size=ATARI_SCREEN_SIZE,
        terminal_on_life_loss=False,
        grayscale_obs=True,
    )
    return gym.wrappers.FrameStackObservation(preprocessed, ATARI_FRAME_STACK)


def play_episodes(
    act: Act,
    env: gym.Env[Any, Any] | str,
    config: DQNConfig,
    obs_shape: tuple[int, ...],
    episodes: int,
    seed: int | None,
) -> NDArray[np.float64]:
    """Raw returns (episodes,) of `episodes` episodes, episode i from reset(seed=seed + i)."""
    if isinstance(env, str) and is_atari(env) != is_atari(config.env_id):
        raise DQNRefError(
            f"this agent was trained on {config.env_id}; {env} is seen through another "
            "preprocessing, so it cannot play it"
        )
    episode, built_here = episode_env(env, config, obs_shape)
    returns = np.zeros(episodes)
    try:
        for index in range(episodes):
            obs = episode.reset(None if seed is None else seed + index)
            ended = False
            while not ended:
                obs, reward, ended = episode.step(int(act(obs)))
                returns[index] += reward
    finally:
        if built_here:
            episode.close()
    return returns

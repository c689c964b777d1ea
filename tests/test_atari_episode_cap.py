"""The Atari episode cap of spec/preprocessing.md#eq-atari-frames: without a stated time limit an
episode is truncated after 108,000 emulator frames (ALE v5's 30 minutes of play at 60 frames a
second), in training and in evaluation alike; a stated limit in agent steps is 4 frames a step."""

from __future__ import annotations

from typing import Any

import pytest
from ale_py.vector_env import AtariVectorEnv

import dqn_ref.envs as envs_module
from dqn_ref.envs import atari_options, make_env
from dqn_ref.evaluate import evaluation_envs
from dqn_ref.presets import get_preset

THIRTY_MINUTES_OF_FRAMES = 30 * 60 * 60  # minutes x seconds x frames a second = 108,000


@pytest.fixture
def frame_limits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The max_num_frames_per_episode of every ale-py vector env built while the test runs."""
    built: list[int] = []
    real_env = AtariVectorEnv

    def recording_env(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs["max_num_frames_per_episode"])
        return real_env(*args, **kwargs)

    monkeypatch.setattr(envs_module, "AtariVectorEnv", recording_env)
    return built


def test_an_atari_episode_without_a_stated_limit_is_cut_after_thirty_minutes_of_play(
    frame_limits: list[int],
) -> None:
    """max_episode_steps 0 (the presets' training default) and an evaluation with neither
    eval_max_episode_steps nor max_episode_steps: ALE's cap of 108,000 frames, both times."""
    config = get_preset("pong").replace(max_episode_steps=0, eval_max_episode_steps=0)
    make_env(config.env_id, 1, config.max_episode_steps, atari_options(config, True)).close()
    evaluation_envs(config.replace(eval_episodes=1), final=False).close()
    assert frame_limits == [THIRTY_MINUTES_OF_FRAMES, THIRTY_MINUTES_OF_FRAMES]


def test_a_stated_limit_in_agent_steps_is_four_frames_a_step(frame_limits: list[int]) -> None:
    """The pong preset's evaluation limit of 4,500 agent steps is 18,000 frames (Nature's five
    minutes); a training limit of 50 steps is 200 frames."""
    config = get_preset("pong").replace(max_episode_steps=50)
    make_env(config.env_id, 1, config.max_episode_steps, atari_options(config, True)).close()
    evaluation_envs(config.replace(eval_episodes=1), final=False).close()
    assert frame_limits == [50 * 4, 4_500 * 4]

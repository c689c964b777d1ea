"""The Atari options a video is filmed with (dqn_ref/training/video.py's rendered_env): the
evaluation's, never training's (spec/preprocessing.md#eq-atari-frames: a lost life is terminal
in training only), with the config's no-op starts, sticky actions and evaluation time limit, for
the network's copy of the game and its colour twin alike. Read off the ale-py vector envs built."""

from __future__ import annotations

from typing import Any

import pytest
from ale_py.vector_env import AtariVectorEnv

import dqn_ref.envs as envs_module
from dqn_ref.envs import atari_options, make_env
from dqn_ref.evaluate import evaluation_envs
from dqn_ref.presets import get_preset
from dqn_ref.training.video import rendered_env

# The nature preset loses a life terminally in training; its other settings changed so that
# each one shows.
CONFIG = get_preset("nature").replace(
    noop_max=7,
    repeat_action_probability=0.25,
    max_episode_steps=50,
    eval_max_episode_steps=100,
    eval_episodes=1,
    final_eval_episodes=1,
)
SETTINGS = ("life_loss_info", "noop_max", "repeat_action_probability", "max_num_frames_per_episode")
# What an evaluation plays with: no life loss, the config's no-ops and sticky actions, and the
# evaluation's limit of 100 agent steps, 4 frames each.
EVALUATION = {
    "life_loss_info": False,
    "noop_max": 7,
    "repeat_action_probability": 0.25,
    "max_num_frames_per_episode": 400,
}


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """SETTINGS and grayscale of every ale-py vector env built while the test runs."""
    settings: list[dict[str, Any]] = []
    real_env = AtariVectorEnv

    def recording_env(*args: Any, **kwargs: Any) -> Any:
        settings.append({key: kwargs[key] for key in (*SETTINGS, "grayscale")})
        return real_env(*args, **kwargs)

    monkeypatch.setattr(envs_module, "AtariVectorEnv", recording_env)
    return settings


def test_a_video_is_filmed_with_the_evaluations_atari_options(
    built: list[dict[str, Any]],
) -> None:
    """Both copies of the filmed game (the network's 84x84 stack and the colour screen) use what
    the evaluations use; training's own env differs in the life loss and the time limit."""
    make_env(CONFIG.env_id, 1, CONFIG.max_episode_steps, atari_options(CONFIG, True)).close()
    evaluation_envs(CONFIG, final=False).close()
    evaluation_envs(CONFIG, final=True).close()
    rendered_env(CONFIG).close()
    training, *evaluations = built
    assert {key: training[key] for key in SETTINGS} == {
        **EVALUATION,
        "life_loss_info": True,
        "max_num_frames_per_episode": 200,
    }
    assert len(evaluations) == 4  # two evaluation envs, the film's two copies
    for settings in evaluations:
        assert {key: settings[key] for key in SETTINGS} == EVALUATION
    assert [settings["grayscale"] for settings in evaluations] == [True, True, True, False]

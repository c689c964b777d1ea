"""Videos of a saved agent (dqn_ref/training/video.py): real pictures, and the very episode the
network plays on the observations it was trained on."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.presets import cartpole, pong
from dqn_ref.training.saved_agent import load
from dqn_ref.training.train import train
from dqn_ref.training.video import check_video_path, shrink


def short_cartpole(**changes: object) -> DQNConfig:
    short = {
        "num_envs": 1,
        "total_steps": 300,
        "learning_starts": 100,
        "buffer_size": 1_000,
        "eval_interval": 0,
        "final_eval_episodes": 1,
        "tensorboard": False,
    }
    return cartpole.replace(**{**short, **changes})


def distinct_pictures(frames: np.ndarray) -> int:
    return len({frame.tobytes() for frame in frames})


def test_a_cartpole_video_replays_a_one_episode_final_evaluation(tmp_path: Path) -> None:
    """At an epsilon above 0 too: the same seed, the same exploration draws, the same
    observations, so the filmed episode's return is the final evaluation's, and the GIF holds
    CartPole's pictures (400x600, shrunk by 2), one for every second agent step."""
    config = short_cartpole(eval_epsilon=0.3, seed=4)
    result = train(config, tmp_path / "run", progress=False)
    assert result.final_eval is not None
    episode = load(tmp_path / "run", "cpu").save_video(tmp_path / "agent.gif")
    assert episode.episode_return == result.final_eval.mean
    assert episode.steps == episode.episode_return  # CartPole pays 1 per step
    assert len(episode.frames) == episode.steps // 2 + 1 + episode.steps % 2
    pictures = iio.imread(tmp_path / "agent.gif", index=None)
    assert pictures.shape[1:] == (200, 300, 3)
    assert distinct_pictures(pictures) > 1 and pictures.shape[0] > 1


def test_an_mp4_holds_the_episodes_pictures(tmp_path: Path) -> None:
    train(short_cartpole(), tmp_path / "run", progress=False)
    episode = load(tmp_path / "run", "cpu").save_video(tmp_path / "agent.mp4")
    pictures = iio.imread(tmp_path / "agent.mp4", index=None)
    assert pictures.shape == (len(episode.frames), 200, 300, 3)
    assert distinct_pictures(pictures) > 1


def test_a_pong_video_shows_the_colour_screen_of_the_game_the_network_plays(
    tmp_path: Path,
) -> None:
    """An untrained Pong agent, 150 agent steps an evaluation episode: the network's twin (the
    84x84 stack) and the colour copy must agree on every reward and end, or the video stops; the
    pictures are ALE's 210x160 colour screens, one per agent step, and they move."""
    config = pong.replace(
        num_envs=1,
        total_steps=64,
        learning_starts=32,
        buffer_size=100,
        batch_size=8,
        eval_interval=0,
        final_eval_episodes=1,
        eval_max_episode_steps=150,
        tensorboard=False,
        device="cpu",
    )
    result = train(config, tmp_path / "run", progress=False)
    episode = load(tmp_path / "run", "cpu").save_video(tmp_path / "pong.gif")
    assert result.final_eval is not None and episode.episode_return == result.final_eval.mean
    assert episode.steps == 150 and len(episode.frames) == 151  # the reset's picture, then each
    assert episode.fps == 15  # 60 console frames a second, 4 per agent step
    pictures = iio.imread(tmp_path / "pong.gif", index=None)
    assert pictures.shape[1:] == (210, 160, 3)
    assert distinct_pictures(pictures) > 10
    assert pictures[..., 0].std() > 0 and not np.array_equal(pictures[..., 0], pictures[..., 1])


def test_shrink_keeps_even_sides_within_the_width() -> None:
    frame = np.arange(401 * 601 * 3, dtype=np.uint8).reshape(401, 601, 3)
    small = shrink(frame, max_width=320)  # 601 needs a factor of 2 -> 301 x 201, cut to even
    assert small.shape == (200, 300, 3)
    assert np.array_equal(small, frame[:400:2, :600:2])
    assert shrink(frame[:210, :160], max_width=320).shape == (210, 160, 3)


@pytest.mark.parametrize("name", ["agent.avi", "agent", "agent.png"])
def test_a_video_path_of_another_kind_is_a_one_line_error(name: str) -> None:
    with pytest.raises(DQNRefError, match=r"name a \.gif or an \.mp4 file"):
        check_video_path(Path(name))

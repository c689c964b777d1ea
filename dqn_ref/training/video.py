"""A video of an agent: one episode played at the evaluation's epsilon, written as a GIF or an MP4.

The network sees exactly the observations it was trained on: they come from the training
pipeline itself (dqn_ref.envs.make_env, one copy), never from the pictures. Gymnasium tasks render
that very copy (render_mode="rgb_array"). ale-py's Atari vector env cannot render, so an Atari
video comes from a twin: a second ale-py vector env with the same game, seed, no-op starts and
sticky actions, which outputs the full colour screen instead of the 84x84 grey stack. Both step
with the same actions and draw from the same seeded generators, so they play the same game; a
reward or an episode end that differs between them stops the video with an error.

Needs `pip install 'dqn_ref[video]'` (imageio; imageio-ffmpeg for MP4; pygame to draw the
classic-control tasks).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from numpy.typing import NDArray
from torch import nn

from dqn_ref.agent import epsilon_greedy
from dqn_ref.config import DQNConfig
from dqn_ref.env_source import env_kwargs_of
from dqn_ref.envs import (
    ATARI_FRAME_SKIP,
    AtariOptions,
    atari_options,
    check_env_id,
    is_atari,
    make_atari_vector_env,
)
from dqn_ref.errors import DQNRefError
from dqn_ref.training.atomic import WriteFailedError, atomic_write, os_error_cause

VIDEO_INSTALL = "pip install 'dqn_ref[video]'"
VIDEO_SUFFIXES = (".gif", ".mp4")
# Videos play at about this many pictures per second: every agent step of Pong (15 a second of
# game time), every second one of CartPole (50 a second). Fewer pictures keep a GIF small.
TARGET_FPS = 25.0
MAX_WIDTH = 320  # pixels; wider screens (CartPole's 600) are shrunk by a whole factor
MAX_FRAMES = 3_000  # pictures kept per video (2 minutes at 25 a second); the episode plays on
ATARI_FRAMES_PER_SECOND = 60  # the console's


@dataclass(frozen=True)
class RecordedEpisode:
    """One episode's pictures (RGB, (H, W, 3) uint8 each) and what it scored."""

    frames: list[NDArray[np.uint8]]
    episode_return: float
    steps: int  # agent steps
    fps: float  # pictures per second of game time


class RenderedEnv(Protocol):
    """One copy of a task that gives the network its observation and the viewer a picture."""

    steps_per_second: float  # agent steps per second of game time

    def reset(self, seed: int) -> NDArray[Any]: ...

    def step(self, action: NDArray[np.int64]) -> tuple[NDArray[Any], float, bool]: ...

    def frame(self) -> NDArray[np.uint8]: ...

    def close(self) -> None: ...


class VideoWriteError(DQNRefError):
    """The video file could not be written; the message names it, the cause and the fix. Nothing
    else was written by the attempt (spec/reliability.md#write-failures)."""


def missing_video_package(suffix: str) -> str | None:
    """The package a video of this kind needs and lacks, or None."""
    needed = ["imageio", *(["imageio_ffmpeg"] if suffix == ".mp4" else [])]
    return next((name for name in needed if importlib.util.find_spec(name) is None), None)


def check_video_path(path: Path) -> None:
    """A one-line error, before anything runs, for a path whose kind we cannot write."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise DQNRefError(
            f"cannot write a video to {path}: name a .gif or an .mp4 file (e.g. agent.gif)"
        )
    missing = missing_video_package(path.suffix.lower())
    if missing is not None:
        raise DQNRefError(f"writing {path.suffix} videos needs {missing}: {VIDEO_INSTALL}")
    if path.is_dir():
        raise DQNRefError(f"cannot write a video to {path}: it is a folder; name a file in it")
    # The nearest folder that exists: the video's own, or the one it would be made in.
    folder = next(parent for parent in path.absolute().parents if parent.exists())
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise DQNRefError(
            f"cannot write a video to {path}: {folder} is not a folder this process may write "
            "to; name a video path in a writable folder"
        )


class GymnasiumRendered:
    """A gymnasium task: the training pipeline's one-copy vector env, rendering its copy."""

    def __init__(
        self, env_id: str, max_episode_steps: int, env_kwargs: dict[str, Any] | None = None
    ):
        # SDL, which pygame draws with, otherwise looks for a display and complains without one.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        time_limit: dict[str, Any] = {}
        if max_episode_steps:
            time_limit["max_episode_steps"] = max_episode_steps
        check_env_id(env_id)  # a callable's id registered again, a module imported
        make = functools.partial(
            gym.make, env_id, render_mode="rgb_array", **time_limit, **(env_kwargs or {})
        )
        self.envs = SyncVectorEnv([make], autoreset_mode=AutoresetMode.NEXT_STEP)
        self.steps_per_second = float(self.envs.envs[0].metadata.get("render_fps") or TARGET_FPS)

    def reset(self, seed: int) -> NDArray[Any]:
        # Seeded, then reset again, as evaluation_envs and evaluate() do (spec/evaluation.md).
        self.envs.reset(seed=seed)
        obs, _ = self.envs.reset()
        return np.asarray(obs)

    def step(self, action: NDArray[np.int64]) -> tuple[NDArray[Any], float, bool]:
        obs, reward, terminated, truncated, _ = self.envs.step(action)
        return np.asarray(obs), float(reward[0]), bool(terminated[0] or truncated[0])

    def frame(self) -> NDArray[np.uint8]:
        try:
            picture = self.envs.envs[0].render()
        except gym.error.DependencyNotInstalled as error:
            raise DQNRefError(f"cannot draw this task ({error}); {VIDEO_INSTALL}") from None
        return np.asarray(picture, dtype=np.uint8)

    def close(self) -> None:
        self.envs.close()


class AtariRendered:
    """An Atari game: the training pipeline's one-copy vector env, and its colour twin."""

    def __init__(self, env_id: str, max_episode_steps: int, options: AtariOptions):
        self.envs = make_atari_vector_env(env_id, 1, max_episode_steps, options)
        self.screen = make_atari_vector_env(
            env_id, 1, max_episode_steps, options, colour_screen=True
        )
        self.steps_per_second = ATARI_FRAMES_PER_SECOND / ATARI_FRAME_SKIP
        self.picture: NDArray[np.uint8] | None = None

    def reset(self, seed: int) -> NDArray[Any]:
        # Seeded, then reset again, as evaluation_envs and evaluate() do (spec/evaluation.md).
        self.envs.reset(seed=seed)
        self.screen.reset(seed=seed)
        obs, _ = self.envs.reset()
        screen, _ = self.screen.reset()
        self.picture = np.asarray(screen[0, -1], dtype=np.uint8)  # (1, stack, H, W, 3) -> (H, W, 3)
        return np.asarray(obs)

    def step(self, action: NDArray[np.int64]) -> tuple[NDArray[Any], float, bool]:
        obs, reward, terminated, truncated, _ = self.envs.step(action)
        screen, screen_reward, screen_terminated, screen_truncated, _ = self.screen.step(action)
        ended = bool(terminated[0] or truncated[0])
        if reward[0] != screen_reward[0] or ended != bool(
            screen_terminated[0] or screen_truncated[0]
        ):
            raise DQNRefError(
                "the video's colour copy of the game drifted from the network's copy; "
                "this ale-py build does not replay a seeded game exactly, so no video was written"
            )
        self.picture = np.asarray(screen[0, -1], dtype=np.uint8)
        return np.asarray(obs), float(reward[0]), ended

    def frame(self) -> NDArray[np.uint8]:
        assert self.picture is not None, "reset() first"
        return self.picture

    def close(self) -> None:
        self.envs.close()
        self.screen.close()


def rendered_env(config: DQNConfig) -> RenderedEnv:
    """One rendering copy of the config's task, with the evaluation's time limit and, for Atari,
    the evaluation's preprocessing (a lost life is never terminal outside training)."""
    time_limit = config.eval_max_episode_steps or config.max_episode_steps
    if is_atari(config.env_id):
        return AtariRendered(config.env_id, time_limit, atari_options(config, training=False))
    return GymnasiumRendered(config.env_id, time_limit, env_kwargs_of(config.env_kwargs))


def shrink(frame: NDArray[np.uint8], max_width: int = MAX_WIDTH) -> NDArray[np.uint8]:
    """Every k-th pixel each way, k the smallest whole factor that fits max_width, cut to even
    sides (video codecs want them)."""
    factor = -(-frame.shape[1] // max_width)  # ceiling division
    small = frame[::factor, ::factor]
    height, width = small.shape[0] // 2 * 2, small.shape[1] // 2 * 2
    return np.ascontiguousarray(small[:height, :width])


def record_episode(
    q_network: nn.Module,
    env: RenderedEnv,
    seed: int,
    epsilon: float,
    generator: torch.Generator,
    device: torch.device,
) -> RecordedEpisode:
    """Play one episode from reset(seed) with eq-eps-greedy actions, drawn from `generator` as
    evaluate() draws them, so that with the final evaluation's seed and generator it replays a
    final evaluation of one episode exactly. Keep every k-th picture
    (k chosen so that the video plays at about TARGET_FPS in game time), the first and last too."""
    keep_every = max(1, round(env.steps_per_second / TARGET_FPS))
    obs = env.reset(seed)
    frames = [shrink(env.frame())]
    episode_return, steps, ended = 0.0, 0, False
    while not ended:
        with torch.inference_mode():
            q_values = q_network(torch.as_tensor(obs, device=device))  # (1, A)
            action = epsilon_greedy(q_values, epsilon, generator).cpu().numpy()
        obs, reward, ended = env.step(action)
        episode_return += reward
        steps += 1
        if len(frames) < MAX_FRAMES and (steps % keep_every == 0 or ended):
            frames.append(shrink(env.frame()))
    return RecordedEpisode(frames, episode_return, steps, env.steps_per_second / keep_every)


def write_video(frames: list[NDArray[np.uint8]], fps: float, path: Path) -> None:
    """A GIF (looping) or an MP4 (H.264) of `frames`, encoded in a temporary folder, then written
    atomically; a failed write of either is a VideoWriteError naming `path`."""
    import imageio.v3 as iio

    suffix = path.suffix.lower()
    try:
        with tempfile.TemporaryDirectory() as folder:
            encoded = Path(folder) / f"video{suffix}"
            if suffix == ".gif":
                # GIF frame times are whole hundredths of a second.
                iio.imwrite(encoded, frames, extension=".gif", duration=1000.0 / fps, loop=0)
            else:
                iio.imwrite(encoded, frames, fps=fps, codec="libx264", macro_block_size=2)
            data = encoded.read_bytes()
    except OSError as error:
        raise VideoWriteError(
            f"cannot encode the video {path} in the temporary folder {tempfile.gettempdir()}: "
            f"{os_error_cause(error)}; free space there, or point TMPDIR elsewhere"
        ) from error
    try:
        atomic_write(path, lambda file: file.write(data))
    except WriteFailedError as error:
        cause = error.__cause__
        reason = os_error_cause(cause) if isinstance(cause, OSError) else str(error)
        raise VideoWriteError(
            f"cannot write the video {path}: {reason}; name a video path in a writable folder "
            "with free space"
        ) from error

"""dqn_ref/training/build.py: the parts a config asks for, and the configs that could not learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dqn_ref.agent import DQNAgent
from dqn_ref.device_replay import DeviceFrameReplay
from dqn_ref.envs import EnvSpaces
from dqn_ref.errors import DQNRefError
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.graphed_update import GraphedUpdate
from dqn_ref.presets import cartpole, pong
from dqn_ref.training.build import make_replay_buffer, make_update
from dqn_ref.training.train import train


def test_an_n_step_run_that_could_not_sample_is_a_one_line_error_before_training() -> None:
    """--n-step 5 --learning-starts 0 would make the first update redraw forever (no transition
    of 5 stored steps exists yet); it is refused before anything runs, naming the fix. From
    n_step x num_envs stored transitions on, some copy holds n of its own, so the run is valid."""
    with pytest.raises(DQNRefError, match="raise learning_starts to at least 20") as error:
        cartpole.replace(n_step=5, learning_starts=0, num_envs=4)
    assert "\n" not in str(error.value)
    with pytest.raises(DQNRefError, match="raise buffer_size to at least 20"):
        cartpole.replace(n_step=5, learning_starts=20, num_envs=4, buffer_size=19, batch_size=8)
    cartpole.replace(n_step=5, learning_starts=20, num_envs=4)
    cartpole.replace(n_step=1, learning_starts=0, num_envs=4)


def test_the_smallest_valid_n_step_start_trains(tmp_path: Path) -> None:
    """At learning_starts = n_step x num_envs the first update finds a complete transition."""
    config = cartpole.replace(
        n_step=5,
        num_envs=4,
        learning_starts=20,
        batch_size=8,
        buffer_size=200,
        total_steps=60,
        eval_interval=0,
        final_eval_episodes=0,
    )
    result = train(config, tmp_path / "run", progress=False)
    assert result.updates > 0


def test_device_replay_and_graphed_update_are_built_from_the_config() -> None:
    """device_replay gives Atari frames the DeviceFrameReplay and graphed_update the
    GraphedUpdate; without them the run's parts are today's; CartPole has no device replay, so
    graphed_update there is a one-line error."""
    atari = EnvSpaces((4, 84, 84), np.dtype(np.uint8), 6)
    config = pong.replace(buffer_size=1_000, device="cpu")
    graphed = config.replace(device_replay=True, graphed_update=True)
    agent = DQNAgent(graphed, atari.obs_shape, atari.num_actions, torch.device("cpu"))
    replay = make_replay_buffer(graphed, atari, torch.device("cpu"))
    assert isinstance(replay, DeviceFrameReplay)
    assert isinstance(make_update(graphed, agent, replay), GraphedUpdate)
    plain = make_replay_buffer(config, atari, torch.device("cpu"))
    assert type(plain) is FrameReplayBuffer
    assert not isinstance(make_update(config, agent, plain), GraphedUpdate)
    cartpole_graphed = cartpole.replace(device_replay=True, graphed_update=True)
    spaces = EnvSpaces((4,), np.dtype(np.float32), 2)
    cartpole_agent = DQNAgent(cartpole_graphed, (4,), 2, torch.device("cpu"))
    cartpole_replay = make_replay_buffer(cartpole_graphed, spaces, torch.device("cpu"))
    with pytest.raises(DQNRefError, match="drop --graphed-update"):
        make_update(cartpole_graphed, cartpole_agent, cartpole_replay)


def test_a_pong_run_with_every_gpu_option_trains_on_the_cpu(tmp_path: Path) -> None:
    """device_replay, graphed_update (uncaptured on a CPU) and overlap_env_step together: a
    short Pong run stores, learns and finishes with the updates it was due."""
    config = pong.replace(
        device="cpu", num_envs=2, total_steps=64, learning_starts=32, train_frequency=8,
        buffer_size=2_000, batch_size=4, eval_interval=0, final_eval_episodes=0,
        tensorboard=False, device_replay=True, graphed_update=True, overlap_env_step=True,
    )  # fmt: skip
    result = train(config, tmp_path / "run", progress=False)
    assert result.steps == 64
    assert result.updates == (64 - 32) // 8 + 1

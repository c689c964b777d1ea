"""The Atari pipeline of spec/preprocessing.md#eq-atari-frames, on real ALE games (ROMs ship
inside ale-py), and the pong task end to end at a CPU-sized length."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dqn_ref.checkpoint import load_checkpoint
from dqn_ref.config import DQNConfig
from dqn_ref.envs import AtariOptions, EnvSpaces, env_spaces, game_over, is_atari, make_env
from dqn_ref.estimate import print_cpu_estimate
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.interrupt import TrainingInterruptedError
from dqn_ref.loop import updates_due
from dqn_ref.presets import get_preset
from dqn_ref.train import resume, train

ROOT = Path(__file__).resolve().parent.parent


def test_atari_ids_are_recognised() -> None:
    assert is_atari("ALE/Pong-v5") and is_atari("PongNoFrameskip-v4")
    assert not is_atari("CartPole-v1") and not is_atari("NoSuchGame-v0")


def test_pong_observations_are_stacks_of_four_84x84_grayscale_frames() -> None:
    """eq-atari-frames P1: uint8 (4, 84, 84) stacks; a reset pads with zero frames; every step
    shifts the stack by one new frame until an episode ends; rewards are the raw game score."""
    envs = make_env("ALE/Pong-v5", 2, max_episode_steps=300)
    spaces = env_spaces(envs, "ALE/Pong-v5")
    assert (spaces.obs_shape, spaces.obs_dtype, spaces.num_actions) == (
        (4, 84, 84),
        np.dtype(np.uint8),
        6,
    )
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    assert not obs[:, :3].any() and obs[:, 3].any()
    rng = np.random.default_rng(0)
    rewards = []
    for step in range(300):
        next_obs, reward, terminated, truncated, _ = envs.step(rng.integers(0, 6, 2))
        assert np.array_equal(next_obs[:, :3], obs[:, 1:])
        rewards.extend(reward.tolist())
        assert not terminated.any()
        assert truncated.all() == (step == 299)  # the time limit, in agent steps
        obs = next_obs
    assert set(rewards) <= {-1.0, 0.0, 1.0} and -1.0 in rewards
    envs.close()


def test_a_lost_life_is_terminal_only_when_asked_and_the_game_goes_on() -> None:
    """eq-atari-frames P2: with terminal_on_life_loss, losing a life reports terminated while
    the game (and the frame stack) continues; game_over is true only at the last life."""
    envs = make_env("ALE/Breakout-v5", 1, 0, AtariOptions(terminal_on_life_loss=True))
    obs, _ = envs.reset(seed=0)
    life_losses = game_overs = 0
    for _ in range(2_000):
        # FIRE launches each ball; the paddle never moves, so every ball is lost.
        next_obs, _, terminated, truncated, info = envs.step(np.array([1]))
        over = game_over(terminated, truncated, info)
        if terminated[0] and not over[0]:
            life_losses += 1
            assert info["lives"][0] > 0
        if over[0]:
            game_overs += 1
            break
        assert np.array_equal(next_obs[:, :3], obs[:, 1:])
        obs = next_obs
    assert life_losses == 4 and game_overs == 1  # Breakout: 5 lives
    envs.close()


def test_pong_task_runs_end_to_end_on_cpu(tmp_path: Path) -> None:
    """The pong task at a CPU-sized length: run folder, metrics, curve and checkpoint."""
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dqn_ref.run",
            "pong",
            "--steps",
            "240",
            "--num-envs",
            "2",
            "--learning-starts",
            "200",
            "--buffer-size",
            "2000",
            "--eval-interval",
            "0",
            "--final-eval-episodes",
            "1",
            "--eval-max-episode-steps",
            "100",
            "--torch-threads",
            "1",
            "--out",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "final evaluation (epsilon 0.05) over 1 episodes" in result.stdout
    for name in ("config.json", "metrics.csv", "checkpoint.pt", "curve.png", "summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 240 and summary["updates"] == 21
    assert json.loads((out / "config.json").read_text())["config"]["network"] == "nature_cnn"


def test_a_long_cpu_run_says_how_long_it_will_take(capsys: pytest.CaptureFixture[str]) -> None:
    """The pong preset on CPU prints a measured estimate of its length before it starts."""
    config = get_preset("pong").replace(torch_threads=1)
    print_cpu_estimate(config, make_spaces(config), torch.device("cpu"))
    line = capsys.readouterr().out
    assert re.search(r"^note: on this CPU this run will take about [\d.]+ h \(", line)
    assert "995,000 updates" in line and "a CUDA GPU is far faster" in line


def test_a_short_cpu_run_starts_without_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    config = get_preset("pong").replace(total_steps=10_400, torch_threads=1)
    print_cpu_estimate(config, make_spaces(config), torch.device("cpu"))
    assert capsys.readouterr().out == ""


def make_spaces(config: DQNConfig) -> EnvSpaces:
    envs = make_env(config.env_id, 1)
    spaces = env_spaces(envs, config.env_id)
    envs.close()
    return spaces


class StopAt:
    """Stop the loop, as a signal would, once this many agent steps are done."""

    signal_number: int | None = None

    def __init__(self, step: int):
        self.step = step

    def should_stop(self, step: int) -> bool:
        return step >= self.step


def test_a_stopped_pong_run_resumes_with_its_frame_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pong's frame-deduplicated buffer goes into the checkpoint and comes back: a run stopped at
    step 160 resumes there and finishes. ale-py's env cannot be saved, so resume says it is not
    bit-exact, and why."""
    config = get_preset("pong").replace(
        total_steps=240,
        num_envs=2,
        learning_starts=100,
        buffer_size=2_000,
        eval_interval=0,
        final_eval_episodes=0,
        torch_threads=1,
        checkpoint_replay=True,
    )
    with pytest.raises(TrainingInterruptedError):
        train(config, tmp_path, "pong", progress=False, stop=StopAt(160))
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    assert saved["loop"]["step"] == 160
    assert saved["replay"]["frames"].shape == (1_000, 2, 84, 84)
    result = resume(tmp_path, progress=False)
    assert result.steps == 240 and result.updates == updates_due(config, 240)
    assert "not bit-exact: the environments could not be saved" in capsys.readouterr().out


def test_end_episodes_starts_new_stacks_after_an_outside_reset() -> None:
    """After envs are reset outside the loop (a resume without saved environments), the next
    transition's stack is the new episode's, not the old frames followed by the new one."""
    buffer = FrameReplayBuffer(40, (2, 1, 1), 1)
    old = np.array([[[[1]], [[2]]]], dtype=np.uint8)
    buffer.add(old, [0], [0.0], np.array([[[[2]], [[3]]]], dtype=np.uint8), [False],
               episode_end=[False])  # fmt: skip
    buffer.end_episodes()
    new = np.array([[[[7]], [[8]]]], dtype=np.uint8)
    buffer.add(new, [1], [1.0], np.array([[[[8]], [[9]]]], dtype=np.uint8), [False],
               episode_end=[False])  # fmt: skip
    slots, columns = buffer.held_transitions()
    batch = buffer.gather(slots, columns)
    assert batch.obs[:, :, 0, 0].tolist() == [[1, 2], [7, 8]]
    assert batch.next_obs[:, :, 0, 0].tolist() == [[2, 3], [8, 9]]

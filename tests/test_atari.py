"""The Atari pipeline of spec/preprocessing.md#eq-atari-frames, on real ALE games (ROMs ship
inside ale-py), and the pong task end to end at a CPU-sized length."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

import dqn_ref.envs as envs_module
from dqn_ref.config import DQNConfig
from dqn_ref.envs import (
    AtariOptions,
    EnvSpaces,
    atari_options,
    env_spaces,
    game_over,
    is_atari,
    make_env,
)
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.loop import updates_due
from dqn_ref.presets import get_preset
from dqn_ref.training import estimate
from dqn_ref.training.checkpoint import load_checkpoint
from dqn_ref.training.estimate import print_cpu_estimate
from dqn_ref.training.interrupt import TrainingInterruptedError
from dqn_ref.training.train import resume, train

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
    assert "final evaluation (epsilon 0.05) over 1 episode in " in result.stdout
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


@pytest.mark.parametrize("flags", ["fpu avx512f", "fpu avx512f avx512_bf16", "fpu amx_bf16"])
def test_bf16_on_a_cpu_without_native_bf16_says_so(
    flags: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """precision=bfloat16 on a CPU that would emulate bf16 prints one line that says to use
    float32; a CPU with avx512_bf16 or amx_bf16 starts without it."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    monkeypatch.setattr(estimate, "CPUINFO", cpuinfo)
    config = get_preset("pong").replace(total_steps=10_400, precision="bfloat16")
    print_cpu_estimate(config, make_spaces(config), torch.device("cpu"))
    out = capsys.readouterr().out
    if "bf16" in flags:
        assert out == ""
    else:
        assert out.count("\n") == 1 and "use --precision float32" in out


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


def test_the_atari_pipeline_receives_the_configs_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """eq-atari-frames: ale-py's vector env is built with frame skip 4, a stack of 4 84x84
    grayscale frames, the two-frame max, raw rewards, next-step autoreset, and the config's no-op
    starts, sticky actions, life-loss signal and time limit (in frames: 4 per agent step); a lost
    life is terminal in training only."""
    built: list[dict[str, Any]] = []
    real_env = AtariVectorEnv

    def recording_env(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs)
        return real_env(*args, **kwargs)

    monkeypatch.setattr(envs_module, "AtariVectorEnv", recording_env)
    config = get_preset("pong", "pong").replace(
        noop_max=7, repeat_action_probability=0.25, terminal_on_life_loss=True
    )
    for training in (True, False):
        make_env("ALE/Pong-v5", 2, 50, atari_options(config, training)).close()
    expected = {
        "frameskip": 4,
        "stack_num": 4,
        "img_height": 84,
        "img_width": 84,
        "grayscale": True,
        "maxpool": True,
        "noop_max": 7,
        "reward_clipping": False,
        "repeat_action_probability": 0.25,
        "max_num_frames_per_episode": 200,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    for kwargs, training in zip(built, (True, False), strict=True):
        assert {key: kwargs[key] for key in expected} == expected
        assert kwargs["life_loss_info"] is training


def test_an_observation_frame_is_the_max_of_the_last_two_emulator_frames() -> None:
    """eq-atari-frames on the real Pong ROM: the pipeline's newest frame is the pixel-wise max of
    the step's last two emulator frames, so it is >= the last frame alone (ale-py without the max,
    same seed and actions) everywhere, and brighter where the ball and paddles moved."""
    ours = make_env("ALE/Pong-v5", 1, 0, AtariOptions(noop_max=0))
    last_frame_only = AtariVectorEnv(
        "pong",
        1,
        frameskip=4,
        stack_num=4,
        img_height=84,
        img_width=84,
        grayscale=True,
        maxpool=False,
        noop_max=0,
        use_fire_reset=True,
        reward_clipping=False,
        repeat_action_probability=0.0,
        autoreset_mode=AutoresetMode.NEXT_STEP,
        num_threads=1,
    )
    ours.reset(seed=0)
    last_frame_only.reset(seed=0)
    rng = np.random.default_rng(0)
    brighter = 0
    for _ in range(60):
        actions = rng.integers(0, 6, 1)
        maxed, *_ = ours.step(actions)
        plain, *_ = last_frame_only.step(actions)
        assert (maxed[0, -1] >= plain[0, -1]).all()
        brighter += int((maxed[0, -1] > plain[0, -1]).sum())
    assert brighter > 50
    ours.close()
    last_frame_only.close()


def test_no_op_starts_begin_each_episode_up_to_noop_max_frames_in() -> None:
    """eq-atari-frames on the real Pong ROM: with noop_max 0 every copy's episode starts at the
    same emulator frame; with noop_max 30 each starts after its own random number of no-ops, at
    most 30 frames later."""
    frame_at_start = {}
    for noop_max in (0, 30):
        envs = make_env("ALE/Pong-v5", 8, 0, AtariOptions(noop_max=noop_max))
        _, info = envs.reset(seed=0)
        frame_at_start[noop_max] = info["episode_frame_number"]
        envs.close()
    first = int(frame_at_start[0][0])
    assert (frame_at_start[0] == first).all()
    assert len(set(frame_at_start[30].tolist())) > 3
    assert (frame_at_start[30] >= first).all() and (frame_at_start[30] <= first + 30).all()

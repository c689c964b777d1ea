"""The control and atari tasks: any environment of their kind under one task name, its preset
picked by --env-id, its solved threshold its own, its folder and plot named after it, and the
wrong kind of environment refused in one line."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dqn_ref.run.flags import config_from_args
from dqn_ref.run.main import build_parser
from dqn_ref.training.plot import draw_solved_line
from tests.run.test_cli import assert_one_line_error, run_cli

# A few hundred steps with a tiny evaluation: long enough to pass every stage of a run.
SHORT_RUN = [
    "--steps",
    "300",
    "--eval-interval",
    "150",
    "--eval-episodes",
    "2",
    "--final-eval-episodes",
    "2",
    "--no-progress",
]


def only_run_folder(runs: Path) -> Path:
    folders = list(runs.iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def test_control_trains_acrobot_with_its_own_preset_threshold_and_folder_name(
    tmp_path: Path,
) -> None:
    """`control --env-id Acrobot-v1`: the acrobot preset, Acrobot's reward threshold (-100),
    a folder runs/Acrobot-v1-acrobot-s0-<time> whose plot title names both."""
    result = run_cli("control", "--env-id", "Acrobot-v1", *SHORT_RUN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = only_run_folder(tmp_path / "runs")
    assert run_dir.name.startswith("Acrobot-v1-acrobot-s0-")
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["preset"] == "acrobot"
    assert saved["config"]["solved_threshold"] == -100.0
    assert json.loads((run_dir / "summary.json").read_text())["solved_threshold"] == -100.0
    assert "dqn_ref: control, preset acrobot" in result.stdout
    assert "never solved during training (threshold -100)" in result.stdout  # 300 steps: no
    assert (run_dir / "curve.png").is_file()


def test_atari_trains_breakout_end_to_end_without_a_threshold(tmp_path: Path) -> None:
    """`atari --env-id ALE/Breakout-v5` for a few hundred steps: the atari preset (Pong's values,
    none of Pong's threshold), no solve measured, a folder named after Breakout."""
    result = run_cli(
        "atari",
        "--env-id",
        "ALE/Breakout-v5",
        "--num-envs",
        "2",
        "--learning-starts",
        "200",
        "--buffer-size",
        "2000",
        "--torch-threads",
        "1",
        "--eval-max-episode-steps",  # an untrained agent's game can last ALE's 27,000 steps
        "50",
        *SHORT_RUN,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run_dir = only_run_folder(tmp_path / "runs")
    assert run_dir.name.startswith("ALE_Breakout-v5-atari-s0-")
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["preset"] == "atari" and saved["config"]["network"] == "nature_cnn"
    assert saved["config"]["solved_threshold"] is None
    assert "no solve measured" in result.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 300 and summary["first_solved_step"] is None


@pytest.mark.skipif(importlib.util.find_spec("Box2D") is None, reason="the box2d extra is absent")
def test_control_trains_lunarlander_with_the_box2d_extra(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_cli("control", "--env-id", "LunarLander-v3", *SHORT_RUN, "--out", str(out))
    assert result.returncode == 0, result.stderr
    saved = json.loads((out / "config.json").read_text())
    assert (saved["preset"], saved["config"]["solved_threshold"]) == ("lunarlander", 200.0)


def test_lunarlander_without_box2d_names_the_extra(tmp_path: Path) -> None:
    """The one line a user without Box2D sees, from the command line (Box2D hidden from the
    subprocess by a module that fails to import, as a missing package does)."""
    blocker = tmp_path / "blocker"
    (blocker / "Box2D").mkdir(parents=True)
    (blocker / "Box2D" / "__init__.py").write_text("raise ImportError('no Box2D here')\n")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(blocker)!r}); "
            "from dqn_ref.run.main import main; sys.exit(main())",
            "control",
            "--env-id",
            "LunarLander-v3",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert_one_line_error(result, "LunarLander-v3 needs box2d", 'pip install -e ".[box2d]"')


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["control", "--env-id", "Pendulum-v1"], "discrete action space"),
        (["control", "--env-id", "ALE/Breakout-v5"], "is an Atari game, seen as pixels"),
        (["atari", "--env-id", "CartPole-v1"], "CartPole-v1 is not an Atari game"),
        (["study", "control", "--env-id", "Pendulum-v1"], "discrete action space"),
    ],
)
def test_the_wrong_kind_of_environment_is_a_one_line_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    assert_one_line_error(run_cli(*args, "--out", str(tmp_path / "r")), message)


@pytest.mark.parametrize(
    ("argv", "preset", "env_id", "threshold"),
    [
        (["cartpole"], "cartpole", "CartPole-v1", 475.0),
        (["cartpole", "--env-id", "Acrobot-v1"], "cartpole", "Acrobot-v1", -100.0),
        (["pong", "--env-id", "ALE/Breakout-v5"], "pong", "ALE/Breakout-v5", None),
        (["pong"], "pong", "ALE/Pong-v5", 18.0),
        (["control", "--env-id", "MountainCar-v0"], "mountaincar", "MountainCar-v0", -110.0),
        (["control", "--env-id", "CartPole-v0"], "control", "CartPole-v0", 195.0),
        (["control", "--preset", "mountaincar"], "mountaincar", "MountainCar-v0", -110.0),
        (["control", "--env-id", "Acrobot-v1", "--solved-threshold", "-80"], "acrobot", None, -80),
        (["atari", "--env-id", "ALE/Pong-v5"], "pong", "ALE/Pong-v5", 18.0),
        (["atari", "--env-id", "ALE/Breakout-v5", "--preset", "nature"], "nature", None, None),
        (["study", "control", "--env-id", "Acrobot-v1"], "acrobot", "Acrobot-v1", -100.0),
        (["tune", "control", "--env-id", "Acrobot-v1"], "acrobot", "Acrobot-v1", -100.0),
    ],
)
def test_each_task_states_its_preset_environment_and_threshold(
    argv: list[str], preset: str, env_id: str | None, threshold: float | None
) -> None:
    """The threshold is the environment's own unless stated; a preset's stated threshold (Pong's
    18) does not follow it to another game."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    assert args.preset == preset
    assert env_id is None or config.env_id == env_id
    assert config.solved_threshold == threshold


@pytest.mark.parametrize(("threshold", "lines"), [(-100.0, ["solved (-100)"]), (None, [])])
def test_the_solved_line_is_drawn_at_the_threshold_or_not_at_all(
    threshold: float | None, lines: list[str]
) -> None:
    figure, axes = plt.subplots()
    draw_solved_line(axes, threshold)
    assert [line.get_label() for line in axes.get_lines()] == lines
    assert [float(np.ravel(line.get_ydata())[0]) for line in axes.get_lines()] == (
        [threshold] if lines else []
    )
    plt.close(figure)


def test_a_control_study_reports_against_the_environments_threshold(tmp_path: Path) -> None:
    """`study control --env-id MountainCar-v0`, one short seed: the mountaincar preset, judged at
    MountainCar-v0's -110, in a study folder named after both; no time-limit success rate (its
    steps pay -1)."""
    out = tmp_path / "study"
    result = run_cli(
        "study",
        "control",
        "--env-id",
        "MountainCar-v0",
        "--seeds",
        "1",
        "--workers",
        "1",
        *SHORT_RUN,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    study = json.loads((out / "study.json").read_text())
    assert study["preset"] == "mountaincar" and study["config"]["solved_threshold"] == -110.0
    report = (out / "study.md").read_text()
    assert "evaluation mean >= -110" in report and "success rate" not in report
    assert "MountainCar-v0, preset mountaincar, 1 seeds" in report


def test_control_trains_an_environment_without_a_preset_of_its_own(tmp_path: Path) -> None:
    """CartPole-v0 has no preset: the control preset trains it, at its spec's threshold, 195."""
    result = run_cli("control", "--env-id", "CartPole-v0", *SHORT_RUN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = only_run_folder(tmp_path / "runs")
    assert run_dir.name.startswith("CartPole-v0-control-s0-")
    assert json.loads((run_dir / "summary.json").read_text())["solved_threshold"] == 195.0

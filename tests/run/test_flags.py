"""The flags a task takes (dqn_ref/run/flags.py), run through the command line's main()."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from dqn_ref.config import FIELD_GROUPS
from dqn_ref.presets import cartpole, pong
from dqn_ref.run.main import main

SHORT = ["--steps", "300", "--num-envs", "1", "--learning-starts", "100", "--eval-interval", "0"]
SHORT += ["--final-eval-episodes", "2", "--no-progress", "--no-tensorboard"]


def test_training_again_from_a_runs_config_json_gives_the_same_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The round trip: a run, then a run from its config.json (same preset name, same fields);
    a flag beside --config still overrides the file."""
    first, second, third = tmp_path / "first", tmp_path / "second", tmp_path / "third"
    assert main(["cartpole", *SHORT, "--gamma", "0.9", "--out", str(first)]) == 0
    assert main(["cartpole", "--config", str(first / "config.json"), "--out", str(second)]) == 0
    written = json.loads((first / "config.json").read_text())
    assert json.loads((second / "config.json").read_text()) == written
    assert written["preset"] == "cartpole" and written["config"]["gamma"] == 0.9
    assert written["config"] != dataclasses.asdict(cartpole)
    config_file = str(first / "config.json")
    assert main(["cartpole", "--config", config_file, "--seed", "3", "--out", str(third)]) == 0
    overridden = json.loads((third / "config.json").read_text())
    assert overridden["config"] == {**written["config"], "seed": 3}
    capsys.readouterr()
    assert main(["cartpole", "--config", str(tmp_path / "absent.json")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_task_help_groups_the_config_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """Common flags first, Atari-only ones apart: each flag under its FIELD_GROUPS heading."""
    with pytest.raises(SystemExit):
        main(["cartpole", "--help"])
    text = capsys.readouterr().out
    headings = [f"config fields: {group} (override the preset):" for group in FIELD_GROUPS]
    positions = [text.index(heading) for heading in headings]
    assert positions == sorted(positions)
    for group, names in FIELD_GROUPS.items():
        start = text.index(f"config fields: {group} ")
        following = [p for p in positions if p > start]
        section = text[start : following[0] if following else len(text)]
        for name in names:
            assert f"--{name.replace('_', '-')}" in section, (name, group)


def test_help_times_are_the_measured_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """Pong's default run time in --help is its 2M agent steps at the H200's measured speed
    (docs/results.md, "Speed by preset on the H200")."""
    results = (Path(__file__).resolve().parents[2] / "docs" / "results.md").read_text()
    speed = re.search(r"\| `pong` \(float32[^|]*\| (\d+) \|", results)
    assert speed is not None
    minutes = round(pong.total_steps / int(speed.group(1)) / 60)
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"about {minutes} min on one H200" in text


def test_a_run_too_short_to_learn_says_so_and_counts_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """300 steps before learning_starts=500: one warning line, then 0 updates; a final
    evaluation of 1 episode is announced and reported in the singular, with its time."""
    short = ["--steps", "300", "--num-envs", "1", "--learning-starts", "500"]
    short += ["--eval-interval", "0", "--final-eval-episodes", "1", "--no-progress"]
    assert main(["cartpole", *short, "--no-tensorboard", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "total_steps=300 ends before learning_starts=500" in warnings[0]
    assert "0 updates" in out and "final evaluation: 1 episode at epsilon 0..." in out
    assert re.search(r"final evaluation \(epsilon 0\) over 1 episode in \d+\.\d s:", out)
    assert "1 episodes" not in out
    assert main(["cartpole", *short, "--learning-starts", "300", "--out", str(tmp_path / "b")]) == 0
    assert "warning" not in capsys.readouterr().out


def test_a_run_too_short_for_its_first_round_of_updates_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """eq-update-rounds: with gradient_steps, 12 steps end before the first round of 16 (the
    acrobot preset's learning_starts 0 notwithstanding): one warning naming the rounds, 0 updates;
    at 16 steps, the round's 4 updates and no warning."""
    short = ["--steps", "12", "--train-frequency", "16", "--gradient-steps", "4"]
    short += ["--eval-interval", "0", "--final-eval-episodes", "1", "--no-progress"]
    short += ["--no-tensorboard", "--hidden-sizes", "8"]
    assert main(["control", *short, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "total_steps=12 ends before the first round of updates" in warnings[0]
    assert "0 updates" in out
    assert main(["control", *short, "--steps", "16", "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "warning" not in out and "4 updates" in out

"""The flags a task takes (dqn_ref/run/flags.py), run through the command line's main()."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dqn_ref.presets import cartpole
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

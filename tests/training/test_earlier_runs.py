"""Runs written by earlier versions of dqn_ref still load, train and resume.

tests/fixtures/run-0.1.0/ is a CartPole run folder written by dqn_ref 0.1.0 (its config.json a
flat object of fields), interrupted at step 1502 with its replay buffer saved;
run-0.1.0-uninterrupted-metrics.csv is the same run, not interrupted, from the same version.
The committed config.json files under docs/ are the other earlier files users hold.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from dqn_ref.run.main import main
from dqn_ref.training.config_file import read_config_file
from dqn_ref.training.train import resume

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
DOCS_CONFIGS = sorted(ROOT.glob("docs/**/*config.json"))
# What a resumed run must reproduce of each metrics row (wall-clock columns differ by nature).
COMPARED = ("kind", "step", "episode", "return", "length", "epsilon", "loss")


def rows(path: Path) -> list[tuple[str, ...]]:
    with path.open() as file:
        return [tuple(row[name] for name in COMPARED) for row in csv.DictReader(file)]


def test_a_run_folder_of_dqn_ref_0_1_0_resumes_as_that_run_would_have_ended(
    tmp_path: Path,
) -> None:
    """The 0.1.0 run, resumed by this version from its checkpoint (replay included), ends with
    every metrics row as the uninterrupted 0.1.0 run wrote it: losses, returns, evaluations."""
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURES / "run-0.1.0", run_dir)
    result = resume(run_dir, progress=False)
    assert result.steps == 3000
    expected = rows(FIXTURES / "run-0.1.0-uninterrupted-metrics.csv")
    assert rows(run_dir / "metrics.csv") == expected
    assert any(row[0] == "final" for row in expected)


@pytest.mark.parametrize(
    "path", DOCS_CONFIGS, ids=[p.parent.name + "/" + p.name for p in DOCS_CONFIGS]
)
def test_every_committed_config_json_loads(path: Path) -> None:
    preset, config = read_config_file(path)
    assert preset and config.env_id


def test_a_committed_pong_config_json_trains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--config` with a committed Pong run's config.json, cut short: it trains and evaluates."""
    config_file = ROOT / "docs" / "pong" / "pong-cpu-s0-config.json"
    short = ["--steps", "300", "--buffer-size", "1000", "--learning-starts", "200"]
    short += ["--eval-interval", "0", "--final-eval-episodes", "1", "--no-progress"]
    short += ["--no-tensorboard", "--max-episode-steps", "100"]
    out = tmp_path / "run"
    assert main(["pong", "--config", str(config_file), *short, "--out", str(out)]) == 0
    assert (out / "summary.json").is_file()
    capsys.readouterr()

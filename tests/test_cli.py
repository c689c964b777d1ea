"""The command line, run as users run it: python -m dqn_ref.run ... in a subprocess."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dqn_ref.run import build_parser, config_from_args


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dqn_ref.run", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_lists_tasks_and_examples() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "cartpole" in result.stdout and "--preset paper" in result.stdout


def test_task_help_lists_every_config_field_with_each_presets_value() -> None:
    result = run_cli("cartpole", "--help")
    assert result.returncode == 0
    assert "--learning-rate" in result.stdout and "--steps" in result.stdout
    assert "cartpole: 0.99, paper: 0.95" in " ".join(result.stdout.split())  # gamma of both presets


def test_unknown_flag_is_a_one_line_error() -> None:
    assert_one_line_error(
        run_cli("cartpole", "--learning-rat", "1e-3"),
        "unrecognized arguments: --learning-rat",
        "--help",
    )


def test_unknown_task_and_unknown_preset_are_one_line_errors() -> None:
    assert_one_line_error(run_cli("cartpol"), "invalid choice: 'cartpol'")
    assert_one_line_error(run_cli("cartpole", "--preset", "fast"), "invalid choice: 'fast'")


def test_malformed_value_is_a_one_line_error() -> None:
    assert_one_line_error(
        run_cli("cartpole", "--batch-size", "many"), "--batch-size", "invalid int"
    )


def test_out_of_range_value_is_a_one_line_error() -> None:
    assert_one_line_error(run_cli("cartpole", "--gamma", "1.5"), "gamma=1.5 must lie in [0, 1]")
    assert_one_line_error(
        run_cli("cartpole", "--buffer-size", "64", "--batch-size", "128"),
        "buffer_size=64 is smaller than batch_size=128",
    )


def test_unknown_environment_names_the_closest_ids(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli("cartpole", "--env-id", "CartPol-v1", "--out", str(tmp_path / "r")),
        "unknown environment id 'CartPol-v1'",
        "CartPole-v1",
    )


def test_continuous_action_space_is_refused(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli("cartpole", "--env-id", "Pendulum-v1", "--out", str(tmp_path / "r")),
        "discrete action space",
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_one_line_error(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli("cartpole", "--device", "cuda", "--out", str(tmp_path / "r")),
        "--device cuda",
        "--device cpu",
    )


def test_flags_override_the_preset() -> None:
    args = build_parser().parse_args(
        [
            "cartpole",
            "--preset",
            "paper",
            "--steps",
            "1234",
            "--hidden-sizes",
            "64,32",
            "--max-grad-value",
            "none",
            "--no-truncation-as-terminal",
        ]
    )
    config = config_from_args(args)
    assert config.total_steps == 1234 and config.hidden_sizes == (64, 32)
    assert config.max_grad_value is None and config.truncation_as_terminal is False
    assert config.gamma == 0.95  # untouched fields keep the paper's values


def test_double_q_and_dueling_flags_switch_the_options_on_for_a_run_and_a_study() -> None:
    """Issue 6's options are flags of the task and of its study, off unless given."""
    plain = config_from_args(build_parser().parse_args(["cartpole"]))
    assert (plain.double_q, plain.dueling) == (False, False)
    for argv in (["cartpole"], ["study", "cartpole", "--seeds", "2"]):
        args = build_parser().parse_args([*argv, "--double-q", "--dueling"])
        assert (config_from_args(args).double_q, config_from_args(args).dueling) == (True, True)


def test_short_run_end_to_end_and_refusal_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [
        "cartpole",
        "--steps",
        "600",
        "--learning-starts",
        "100",
        "--eval-interval",
        "300",
        "--eval-episodes",
        "2",
        "--final-eval-episodes",
        "3",
        "--no-progress",
        "--out",
        str(out),
    ]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "final greedy evaluation over 3 episodes" in result.stdout
    for name in ("config.json", "metrics.csv", "checkpoint.pt", "curve.png", "summary.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text())["config"]["total_steps"] == 600

    before = (out / "metrics.csv").read_bytes()
    assert_one_line_error(run_cli(*args), "already holds a run", "--overwrite")
    assert (out / "metrics.csv").read_bytes() == before  # the earlier run is untouched
    assert run_cli(*args, "--overwrite").returncode == 0


def test_environment_with_a_missing_dependency_is_a_one_line_error(tmp_path: Path) -> None:
    """LunarLander needs Box2D, which dqn_ref does not install; gymnasium's advice is passed on."""
    if importlib.util.find_spec("Box2D") is not None:
        pytest.skip("Box2D is installed here, so LunarLander would train")
    assert_one_line_error(
        run_cli("cartpole", "--env-id", "LunarLander-v3", "--out", str(tmp_path / "r")),
        "cannot make LunarLander-v3",
        "Box2D",
    )


def test_unwritable_run_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert_one_line_error(
        run_cli("cartpole", "--steps", "100", "--out", str(blocker / "run")),
        "cannot write the run folder",
        "choose another --out",
    )

"""The tune command: an Optuna search whose trials are ordinary runs, scored by steps to a stable
solve, kept in a storage that a second invocation continues; and its one-line refusals."""

from __future__ import annotations

import builtins
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from dqn_ref.errors import DQNRefError
from dqn_ref.presets import PRESETS, cartpole, paper, pong
from dqn_ref.run.main import main
from dqn_ref.studies.tune import (
    PENALTY_FACTOR,
    PENALTY_STEPS_PER_S,
    optimistic_bound,
    required_threshold,
)

TINY_TUNE = [
    "tune",
    "cartpole",
    "--trials",
    "2",
    "--seeds",
    "1",
    "--budget",
    "400",
    "--num-envs",
    "1",  # one copy, so evaluations fall exactly on multiples of --eval-interval
    "--learning-starts",
    "100",
    "--buffer-size",
    "1000",
    "--eval-interval",
    "200",
    "--eval-episodes",
    "2",
    "--final-eval-episodes",
    "2",
    "--max-episode-steps",
    "20",  # a random policy often lasts 20 steps, so some trials stabilise, some do not
    "--solved-threshold",
    "12",
]


def test_tiny_search_writes_its_report_and_a_second_run_continues_the_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("optuna")
    out = tmp_path / "tune"
    assert main([*TINY_TUNE, "--out", str(out)]) == 0
    report = json.loads((out / "tune.json").read_text())
    trials = report["trials"]
    assert len(trials) == 2 and report["objective"] == "steps" and report["seeds"] == [100]
    # The first trial is the preset itself, with the flags given held fixed.
    assert trials[0]["params"]["learning_rate"] == cartpole.learning_rate
    assert "num_envs" not in trials[0]["params"]
    for trial in trials:
        if trial["state"] != "COMPLETE":
            continue
        (seed,) = trial["user_attrs"]["seeds"]
        # Objective: steps to the stable solve, or twice the budget without one.
        expected = seed["stable_step"] if seed["stable_step"] is not None else PENALTY_FACTOR * 400
        assert trial["value"] == expected
        assert (out / f"trial{trial['number']}" / "seed100" / "metrics.csv").is_file()
    assert "Rerun the best trial" in (out / "tune.md").read_text()
    assert (out / "tune.csv").read_text().startswith("trial,objective,stable")
    printed = capsys.readouterr().out
    assert "trial 0:" in printed and "tune folder:" in printed

    # The default storage is a file in --out: the same command adds trials to the same study,
    # and samples a new one (a sampler seeded once per process would replay trial 1).
    assert main([*TINY_TUNE, "--out", str(out), "--trials", "1", "--no-pruning"]) == 0
    continued = json.loads((out / "tune.json").read_text())["trials"]
    assert len(continued) == 3
    assert continued[2]["params"] not in (continued[0]["params"], continued[1]["params"])


def test_optimistic_bound_is_the_earliest_stable_solve_still_possible() -> None:
    """Below the threshold at the last evaluation: the stable solve is at the next one at the
    earliest; above it: at the start of the current run of solved evaluations."""
    config = cartpole.replace(eval_interval=1_000, solved_threshold=475.0)

    def rows(*means: float) -> list[dict[str, str]]:
        return [
            {"step": str(1_000 * (i + 1)), "return": str(mean), "train_time_s": str(0.5 * (i + 1))}
            for i, mean in enumerate(means)
        ]

    assert optimistic_bound(rows(100, 480, 300), config, "steps") == 4_000
    assert optimistic_bound(rows(100, 480, 500), config, "steps") == 2_000
    # Steps count at the evaluation's nominal step (1,000 x k), not where 8 copies crossed it.
    late = [{**row, "step": str(int(row["step"]) + 7)} for row in rows(100, 480, 500)]
    assert optimistic_bound(late, config, "steps") == 2_000
    assert optimistic_bound(rows(100, 480, 500), config, "seconds") == 1.0
    assert optimistic_bound(rows(100, 480, 300), config, "seconds") == 1.5


def test_tune_without_optuna_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_import = builtins.__import__

    def no_optuna(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "optuna" or name.startswith("optuna."):
            raise ImportError("No module named 'optuna'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "optuna", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_optuna)
    assert main(["tune", "cartpole", "--trials", "1"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "pip install 'dqn_ref[tune]'" in line


def test_tune_refuses_a_single_seed_flag(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("optuna")
    assert main(["tune", "cartpole", "--seed", "3"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--first-seed" in line


@pytest.mark.parametrize(
    ("penalty_flags", "penalty"),
    [([], PENALTY_FACTOR * 400 / PENALTY_STEPS_PER_S), (["--penalty-seconds", "99"], 99.0)],
)
def test_seconds_objective_scores_every_unstable_seed_the_same_fixed_penalty(
    tmp_path: Path, penalty_flags: list[str], penalty: float, capsys: pytest.CaptureFixture[str]
) -> None:
    """--objective seconds with a threshold no run reaches: every seed of every trial scores the
    search's one penalty (twice the budget at PENALTY_STEPS_PER_S, or --penalty-seconds), not a
    multiple of its own run time, which would rank a config that fails fast above one that solves
    slowly."""
    pytest.importorskip("optuna")
    out = tmp_path / "tune"
    unreachable = ["--solved-threshold", "1000", "--objective", "seconds", *penalty_flags]
    assert main([*TINY_TUNE, *unreachable, "--no-pruning", "--out", str(out)]) == 0
    trials = json.loads((out / "tune.json").read_text())["trials"]
    assert [trial["value"] for trial in trials] == [penalty, penalty]
    report = (out / "tune.md").read_text()
    assert f"{penalty:g} s for a seed without one" in report
    # No trial stabilised: the report names no best trial, in tune.md, tune.json and the terminal.
    assert "no best trial" in report and "Rerun the best trial" not in report
    assert json.loads((out / "tune.json").read_text())["best_trial"] is None
    assert "no best trial" in capsys.readouterr().out


# Pong's and the paper's own values lie outside the CartPole space (learning_starts 10,000, gamma
# 0.95) and the CNN takes no layer_norm: each preset must still run as the first trial. Flags keep
# the runs tiny; the fields they fix (buffer, evaluation) are not searched.
PRESET_SEARCHES = {
    "cartpole paper": ["cartpole", "--preset", "paper", "--budget", "300"],
    "pong": [
        "pong", "--budget", "100", "--buffer-size", "2000", "--eval-interval", "0",
        "--final-eval-episodes", "0",
    ],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("search", list(PRESET_SEARCHES))
def test_each_documented_preset_runs_its_first_trial_end_to_end(
    search: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("optuna")
    out = tmp_path / "tune"
    flags = ["--trials", "1", "--seeds", "1", "--out", str(out)]
    assert main(["tune", *PRESET_SEARCHES[search], *flags]) == 0
    (trial,) = json.loads((out / "tune.json").read_text())["trials"]
    assert trial["state"] == "COMPLETE"
    config = json.loads((out / "trial0" / "seed100" / "config.json").read_text())["config"]
    preset = paper if search == "cartpole paper" else pong
    for name in ("gamma", "learning_starts", "learning_rate", "num_envs", "network"):
        assert config[name] == getattr(preset, name), name
    assert "trial 0: objective" in capsys.readouterr().out


def test_a_config_without_a_threshold_cannot_be_tuned() -> None:
    """tune scores the time to a stable solve; Breakout's spec gives no threshold to solve at."""
    breakout = PRESETS["atari"].replace(env_id="ALE/Breakout-v5")
    with pytest.raises(DQNRefError, match="gives no reward threshold; state one with"):
        required_threshold(breakout)
    assert required_threshold(breakout.replace(solved_threshold=30.0)) == 30.0

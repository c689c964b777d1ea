"""The tune command: an Optuna search whose trials are ordinary runs, scored by steps to a stable
solve, kept in a storage that a second invocation continues; and its one-line refusals."""

from __future__ import annotations

import builtins
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from dqn_ref.presets import cartpole
from dqn_ref.run.main import main
from dqn_ref.studies.tune import PENALTY_FACTOR, PENALTY_STEPS_PER_S, optimistic_bound

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

    # The default storage is a file in --out: the same command adds trials to the same study.
    assert main([*TINY_TUNE, "--out", str(out), "--trials", "1", "--no-pruning"]) == 0
    assert len(json.loads((out / "tune.json").read_text())["trials"]) == 3


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
    tmp_path: Path, penalty_flags: list[str], penalty: float
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
    assert f"{penalty:g} s for a seed without one" in (out / "tune.md").read_text()

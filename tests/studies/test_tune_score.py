"""tune's score of one finished seed (dqn_ref/studies/tune.py's score_seed), read off a run folder
written by hand: the steps (or training seconds) to the stable solve
(spec/evaluation.md#eq-stable-solve), and the penalty when there is none, or when the final
evaluation falls below the threshold."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dqn_ref.presets import cartpole
from dqn_ref.studies.tune import PENALTY_FACTOR, score_seed
from dqn_ref.training.metrics import COLUMNS

CONFIG = cartpole.replace(total_steps=4_000, eval_interval=1_000, solved_threshold=475.0)
PENALTY_SECONDS = 99.0


def write_run(run_dir: Path, eval_means: list[float], final_mean: float | None) -> None:
    """A run folder as train() leaves it: eval rows at 1,000, 2,000, ... agent steps, after 0.5 s
    of training each, and a final row unless `final_mean` is None."""
    run_dir.mkdir()
    rows = [
        {"kind": "eval", "step": 1_000 * k, "return": mean, "train_time_s": 0.5 * k}
        for k, mean in enumerate(eval_means, start=1)
    ]
    if final_mean is not None:
        rows.append({"kind": "final", "step": 1_000 * len(eval_means), "return": final_mean})
    with (run_dir / "metrics.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (run_dir / "summary.json").write_text(json.dumps({"wall_time_s": 10.0, "eval_time_s": 4.0}))


@pytest.mark.parametrize("objective", ["steps", "seconds"])
def test_a_stable_solve_scores_its_evaluations_step_or_seconds(
    tmp_path: Path, objective: str
) -> None:
    """Evaluations 100, 480, 500 with threshold 475: stable from the second, at 2,000 steps or
    its 1.0 s of training; the final evaluation (490) confirms it. Without a final evaluation
    the stable solve stands too."""
    for name, final in (("confirmed", 490.0), ("no_final", None)):
        write_run(tmp_path / name, [100.0, 480.0, 500.0], final)
        score = score_seed(tmp_path / name, 7, CONFIG, objective, PENALTY_SECONDS)
        assert (score.stable_step, score.stable_train_s) == (2_000, 1.0)
        assert score.score == (2_000.0 if objective == "steps" else 1.0)
        assert score.final_eval == final and score.train_s == 10.0 - 4.0


@pytest.mark.parametrize("objective", ["steps", "seconds"])
def test_a_seed_whose_final_evaluation_fails_scores_the_penalty(
    tmp_path: Path, objective: str
) -> None:
    """The same evaluations, but a final evaluation of 300 < 475: the solve did not hold, so the
    seed has no stable solve and scores the penalty: twice the budget of 4,000 steps, or the
    search's penalty seconds, never the 2,000 steps or 1.0 s of its evaluations."""
    write_run(tmp_path / "run", [100.0, 480.0, 500.0], 300.0)
    score = score_seed(tmp_path / "run", 7, CONFIG, objective, PENALTY_SECONDS)
    assert (score.stable_step, score.stable_train_s) == (None, None)
    penalty = PENALTY_FACTOR * 4_000 if objective == "steps" else PENALTY_SECONDS
    assert score.score == penalty and score.final_eval == 300.0


@pytest.mark.parametrize("objective", ["steps", "seconds"])
def test_a_seed_whose_last_evaluation_falls_below_scores_the_penalty(
    tmp_path: Path, objective: str
) -> None:
    """Solved once (480) then fell (300): no stable solve, whatever the final evaluation."""
    write_run(tmp_path / "run", [100.0, 480.0, 300.0], 490.0)
    score = score_seed(tmp_path / "run", 7, CONFIG, objective, PENALTY_SECONDS)
    penalty = PENALTY_FACTOR * 4_000 if objective == "steps" else PENALTY_SECONDS
    assert (score.stable_step, score.score) == (None, penalty)

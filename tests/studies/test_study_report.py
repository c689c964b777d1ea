"""The study's wording (dqn_ref/studies/study_report.py): the stable solve, its time and the final
evaluation lead; the paper's success rate only where it means something; an interval over few
seeds says so."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dqn_ref.presets import cartpole, paper
from dqn_ref.studies.seed_result import SeedResult, StudyAggregate
from dqn_ref.studies.study_report import (
    FEW_SEEDS,
    aggregate_lines,
    describe_seed,
    format_iqm,
    format_solve_spread,
    write_markdown,
)
from dqn_ref.studies.study_stats import Spread

# The threshold a run states for CartPole-v1 (the presets leave it to the environment).
CARTPOLE = cartpole.replace(solved_threshold=475.0)
PAPER = paper.replace(solved_threshold=475.0)


@pytest.mark.parametrize("seeds", [2, FEW_SEEDS - 1])
def test_an_interval_over_few_seeds_says_how_few(seeds: int) -> None:
    spread = Spread.of([float(value) for value in range(seeds)])
    assert spread is not None and spread.iqm_ci_low is not None
    assert f"from {seeds} seeds only, a rough interval" in format_iqm(spread, 1)


def test_an_interval_over_enough_seeds_stands_alone() -> None:
    spread = Spread.of([float(value) for value in range(FEW_SEEDS)])
    assert spread is not None
    assert "rough" not in format_iqm(spread, 1) and "95% CI" in format_iqm(spread, 1)


def test_one_seed_has_no_interval_and_reads_in_the_singular() -> None:
    spread = Spread.of([3.0])
    assert spread is not None
    text = format_solve_spread(spread, 1)
    assert "one seed, no interval" in text and "over the 1 seed that solved" in text


def seed_result(seed: int, stable_step: int | None, stable_train_s: float | None) -> SeedResult:
    """A seed that first solved at step 5,007 and, where stable_step is given, stably there."""
    return SeedResult(
        seed=seed,
        solved=True,
        steps_to_solve=5_007,
        seconds_to_solve=1.9,
        train_seconds_to_solve=1.6,
        stable_steps_to_solve=stable_step,
        stable_seconds_to_solve=None if stable_step is None else 2.8,
        stable_train_seconds_to_solve=stable_train_s,
        success_rate=0.0,
        episodes=120,
        steps=7_004,
        mean_train_return=45.0,
        best_eval=500.0,
        final_eval=497.5,
        wall_time_s=3.0,
    )


def test_a_study_that_stops_once_solved_leaves_out_the_success_rate(tmp_path: Path) -> None:
    """The default CartPole preset stops at its first clean evaluation, so its training episodes
    (played while exploring) almost never reach 500: a "0.0%" would read as a failure. The seed's
    line, the summary and study.md's table leave it out, and study.md says why."""
    assert CARTPOLE.stop_when_solved
    results = [seed_result(0, 7_004, 2.3), seed_result(1, 8_002, 2.6)]
    aggregate = StudyAggregate.of(results)
    assert "reached 500" not in describe_seed(results[0], CARTPOLE, 500.0)
    assert not any("success rate" in line for line in aggregate_lines(aggregate, CARTPOLE, 500.0))
    write_markdown(tmp_path / "study.md", results, aggregate, CARTPOLE, 500.0, "t", "cmd")
    table_header = (tmp_path / "study.md").read_text().splitlines()[4]
    assert "reaching 500" not in table_header
    assert "success rate (training episodes reaching 500) is left out" in (
        tmp_path / "study.md"
    ).read_text()


def test_a_study_that_trains_on_after_solving_keeps_the_papers_success_rate(
    tmp_path: Path,
) -> None:
    """The paper preset trains its whole budget: the fraction of training episodes that reach
    500 is the replication paper's own measure, so every report keeps it."""
    assert not PAPER.stop_when_solved
    results = [dataclasses.replace(seed_result(0, None, None), success_rate=0.25)]
    aggregate = StudyAggregate.of(results)
    assert describe_seed(results[0], PAPER, 500.0).endswith(
        "25.0% of 120 training episodes reached 500"
    )
    assert aggregate_lines(aggregate, PAPER, 500.0)[-1] == (
        "training episodes reaching 500 (the paper's success rate), mean over seeds: 25.0%"
    )
    write_markdown(tmp_path / "study.md", results, aggregate, PAPER, 500.0, "t", "cmd")
    text = (tmp_path / "study.md").read_text()
    assert "| training episodes reaching 500 |" in text and "| 25.0% |" in text
    assert "is left out" not in text
    # Without a time limit's return (Acrobot pays -1 a step) there is no such rate to report.
    assert "reached" not in describe_seed(results[0], PAPER, None)
    assert not any("success rate" in line for line in aggregate_lines(aggregate, PAPER, None))


def test_the_report_leads_with_the_stable_solve_its_time_and_the_final_evaluation(
    tmp_path: Path,
) -> None:
    results = [seed_result(0, 7_004, 2.3), seed_result(1, None, None)]
    assert describe_seed(results[0], CARTPOLE, 500.0) == (
        "seed 0: stably solved (evaluation mean >= 475 from then on) at step 7,004 after 2.3 s of "
        "training; final evaluation 497.5; first solved at step 5,007 after 1.9 s (1.6 s "
        "training only)"
    )
    assert describe_seed(results[1], CARTPOLE, 500.0).startswith(
        "seed 1: not stably solved (an evaluation after the first solve fell below); final "
        "evaluation 497.5; first solved at step 5,007"
    )
    lines = aggregate_lines(StudyAggregate.of(results), CARTPOLE, 500.0)
    leads = ["stably solved (", "seconds of training to stable solve", "agent steps to stable"]
    leads += ["seconds to stable solve, evaluations", "final evaluation (", "solved at some"]
    assert [next(i for i, line in enumerate(lines) if line.startswith(lead)) for lead in leads] == [
        0, 1, 2, 3, 4, 5
    ]
    assert lines[0].endswith(": 1 of 2 seeds") and lines[5].endswith(": 2 of 2 seeds")
    aggregate = StudyAggregate.of(results)
    write_markdown(tmp_path / "study.md", results, aggregate, CARTPOLE, 500.0, "t", "cmd")
    rows = (tmp_path / "study.md").read_text().splitlines()
    assert rows[4].startswith(
        "| seed | steps to stable solve | seconds of training to stable solve | seconds to stable "
        "solve | final evaluation | solved |"
    )
    assert rows[6].startswith("| 0 | 7,004 | 2.3 | 2.8 | 497.5 | yes | 5,007 |")
    assert rows[7].startswith("| 1 | - | - | - | 497.5 | yes | 5,007 |")

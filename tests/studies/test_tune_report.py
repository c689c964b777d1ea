"""tune's report: each trial's worst seed, which a mean over seeds can hide."""

from __future__ import annotations

from typing import Any

from dqn_ref.studies.tune_report import worst_seed


def seed(number: int, score: float, stable_step: int | None, final: float | None) -> dict[str, Any]:
    return {
        "seed": number,
        "stable_step": stable_step,
        "stable_train_s": None,
        "final_eval": final,
        "train_s": 1.0,
        "score": score,
    }


def test_the_worst_seed_is_the_one_with_the_highest_score_and_says_what_it_did() -> None:
    """Scores are steps to a stable solve (lower is better) or the penalty: seed 102's 40,000 is
    the worst of 7,000, 40,000 and 9,000, and it never stabilised."""
    seeds = [
        seed(100, 7_000, 7_000, 500.0),
        seed(102, 40_000, None, 390.5),
        seed(101, 9_000, 9_000, 500.0),
    ]
    assert worst_seed(seeds) == "102: no stable solve (final 390.5)"


def test_a_trial_whose_every_seed_stabilised_names_its_slowest() -> None:
    seeds = [seed(100, 7_000, 7_000, 500.0), seed(101, 12_000, 12_000, 498.0)]
    assert worst_seed(seeds) == "101: stable at 12,000"
    assert worst_seed([]) is None


def test_a_tie_names_the_later_seed_and_a_missing_final_evaluation_is_said() -> None:
    seeds = [seed(100, 40_000, None, None), seed(101, 40_000, None, 12.0)]
    assert worst_seed(seeds) == "101: no stable solve (final 12.0)"
    assert worst_seed(seeds[:1]) == "100: no stable solve (no final evaluation)"

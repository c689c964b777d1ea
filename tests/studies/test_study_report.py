"""The study's wording (dqn_ref/studies/study_report.py): an interval over few seeds says so."""

from __future__ import annotations

import pytest

from dqn_ref.studies.study_report import FEW_SEEDS, format_iqm, format_solve_spread
from dqn_ref.studies.study_stats import Spread


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

"""eq-iqm: the interquartile mean of a study's seeds and its bootstrap interval, checked against
the definition (sort, cut a quarter from each end, average) on arbitrary values."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from dqn_ref.studies.study_stats import Spread, interquartile_mean, iqm_confidence_interval

seed_values = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=20
)


def middle_half(values: list[float]) -> list[float]:
    """The definition, written out: the values left after cutting floor(n/4) from each end."""
    cut = len(values) // 4
    ordered = sorted(values)
    return ordered[cut : len(ordered) - cut]


@given(seed_values)
def test_iqm_is_the_mean_of_the_middle_half_and_ignores_the_outer_quarters(
    values: list[float],
) -> None:
    """eq-iqm P1: between the smallest and largest value; the mean of the middle half, so moving
    the lowest and highest quarters further out changes nothing."""
    iqm = interquartile_mean(values)
    assert min(values) - 1e-6 <= iqm <= max(values) + 1e-6
    assert iqm == pytest.approx(statistics.fmean(middle_half(values)), rel=1e-9, abs=1e-6)
    cut = len(values) // 4
    ordered = sorted(values)
    stretched = [v - 1e6 for v in ordered[:cut]] + ordered[cut : len(values) - cut]
    stretched += [v + 1e6 for v in ordered[len(values) - cut :]]
    assert interquartile_mean(stretched) == pytest.approx(iqm, rel=1e-9, abs=1e-6)


def test_iqm_worked_example() -> None:
    """eq-iqm P2: n = 8 cuts k = 2 from each end: (2 + 3 + 100 + 200) / 4 = 76.25, where the mean
    of all eight is 1006 / 8 = 125.75 and the median (3 + 100) / 2 = 51.5."""
    values = [300.0, 0.0, 400.0, 2.0, 100.0, 1.0, 200.0, 3.0]
    assert interquartile_mean(values) == 76.25
    spread = Spread.of([*values, None])  # a seed without the measure is left out
    assert spread is not None
    assert (spread.median, spread.min, spread.max, spread.iqm) == (51.5, 0.0, 400.0, 76.25)
    assert spread.count == 8


@given(st.lists(st.floats(min_value=0, max_value=500, allow_nan=False), min_size=2, max_size=10))
def test_iqm_interval_holds_the_iqm_within_the_range_and_is_reproducible(
    values: list[float],
) -> None:
    """eq-iqm P3: the percentile bootstrap interval contains the IQM, lies within the values'
    range, and is the same when computed again (a seeded bootstrap)."""
    interval = iqm_confidence_interval(values)
    assert interval is not None
    low, high = interval
    iqm = interquartile_mean(values)
    assert min(values) - 1e-9 <= low <= iqm + 1e-9 <= high + 2e-9 <= max(values) + 3e-9
    assert iqm_confidence_interval(values) == interval


def test_iqm_interval_needs_two_seeds_and_narrows_with_more() -> None:
    """eq-iqm P3: one seed has no interval; two seeds, 100 and 500, give the whole range; forty
    seeds, twenty at each value, a strictly narrower one (a resample whose middle half is all 100
    needs 30 or more 100s of 40 draws, far rarer than 2.5%)."""
    assert iqm_confidence_interval([475.0]) is None
    only = Spread.of([475.0])
    assert only is not None and only.iqm_ci_low is None and only.iqm == 475.0
    wide = iqm_confidence_interval([100.0, 500.0])
    narrow = iqm_confidence_interval([100.0] * 20 + [500.0] * 20)
    assert wide == (100.0, 500.0)
    assert narrow is not None and 100.0 < narrow[0] < narrow[1] < 500.0


def test_iqm_interval_spans_the_middle_95_percent_of_the_bootstrapped_iqms() -> None:
    """eq-iqm P3, against an oracle: the interval's ends are the 2.5th and 97.5th percentiles of
    the IQMs of resampled seeds, drawn here with another generator. Twenty unevenly spaced seeds
    make the IQM's bootstrap distribution smooth (no lattice of equal means): its 2.5th and 97.5th
    percentiles lie about 6 from the 1.25th and 98.75th (a 97.5% interval) and from the 5th and
    95th (a 90% one), and two bootstraps of this size differ by under 1."""
    values = [100 + 7.3 * v + 0.37 * v * v for v in range(20)]
    resamples = np.random.default_rng(12345).choice(values, size=(50_000, len(values)))
    iqms = stats.trim_mean(resamples, 0.25, axis=1)
    interval = iqm_confidence_interval(values)
    assert interval is not None
    low, high = np.percentile(iqms, [2.5, 97.5])
    wider_low, wider_high = np.percentile(iqms, [1.25, 98.75])
    narrower_low, narrower_high = np.percentile(iqms, [5, 95])
    tolerance = 0.25 * min(
        low - wider_low, narrower_low - low, wider_high - high, high - narrower_high
    )
    assert tolerance > 1.0  # the levels are told apart by more than Monte Carlo noise
    assert interval[0] == pytest.approx(low, abs=tolerance)
    assert interval[1] == pytest.approx(high, abs=tolerance)

"""A study's aggregates over its seeds: the median and range, and the interquartile mean (IQM) with
a 95% bootstrap confidence interval, the way Agarwal et al. (2021, "Deep Reinforcement Learning at
the Edge of the Statistical Precipice") and their library, rliable, report few-run results."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

IQM_PROPORTION_CUT = 0.25  # cut from each end: the IQM is the mean of the middle 50%
CONFIDENCE_LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 50_000  # rliable's default number of bootstrap replications
BOOTSTRAP_SEED = 0  # the interval is a pure function of the values: the same table every time


def interquartile_mean(values: Sequence[float]) -> float:
    """The mean of the values left after cutting the lowest and highest 25% of them.

    Implements: spec/evaluation.md#eq-iqm
    """
    return float(stats.trim_mean(np.asarray(values, dtype=np.float64), IQM_PROPORTION_CUT))


def _iqm_along(sample: npt.NDArray[np.float64], axis: int) -> npt.NDArray[np.float64]:
    return np.asarray(stats.trim_mean(sample, IQM_PROPORTION_CUT, axis=axis))


def iqm_confidence_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """The 95% percentile bootstrap interval of the IQM, resampling runs with replacement, or None
    for fewer than two values.

    rliable's stratified bootstrap resamples runs within each task; a study has one task, so its
    single stratum is all its seeds and the stratified bootstrap is this one.
    Implements: spec/evaluation.md#eq-iqm (P3)
    """
    if len(values) < 2:
        return None
    result = stats.bootstrap(
        (np.asarray(values, dtype=np.float64),),
        _iqm_along,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=CONFIDENCE_LEVEL,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class Spread:
    """One measure over the seeds that have it: median, range, IQM and the IQM's 95% interval
    (iqm_ci_low and iqm_ci_high are None with a single seed)."""

    median: float
    min: float
    max: float
    iqm: float
    iqm_ci_low: float | None
    iqm_ci_high: float | None
    count: int  # seeds that have the measure

    @classmethod
    def of(cls, values: Sequence[float | int | None]) -> Spread | None:
        present = [float(value) for value in values if value is not None]
        if not present:
            return None
        interval = iqm_confidence_interval(present)
        return cls(
            median=statistics.median(present),
            min=min(present),
            max=max(present),
            iqm=interquartile_mean(present),
            iqm_ci_low=None if interval is None else interval[0],
            iqm_ci_high=None if interval is None else interval[1],
            count=len(present),
        )

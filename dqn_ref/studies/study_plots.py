"""The study's figures: curves.png (evaluations and training returns of every seed, their mean
and spread) and boxplot.png (the seed paper's box plot of training returns per seed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from numpy.typing import NDArray

from dqn_ref.training.plot import MOVING_AVERAGE_EPISODES, draw_solved_line, save_png

CURVE_POINTS = 200  # agent steps at which the seeds' smoothed training returns are compared
ALL_SEEDS = ", while every seed trains"  # where seeds stop at different steps, so do the means


def column(rows: Sequence[dict[str, str]], kind: str, name: str) -> NDArray[np.float64]:
    return np.array([float(row[name]) for row in rows if row["kind"] == kind])


def trailing_mean(values: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """Mean of each value and the up to window - 1 before it (so the first episodes count too)."""
    sums: NDArray[np.float64] = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    means: NDArray[np.float64] = (sums[ends] - sums[starts]) / (ends - starts)
    return means


def draw_spread(
    axes: Axes,
    steps: NDArray[np.float64],
    per_seed: NDArray[np.float64],
    color: str,
    label_suffix: str,
    line_style: str,
) -> None:
    """The min-max band over seeds and the mean over seeds of `per_seed` (seeds, len(steps))."""
    axes.fill_between(
        steps,
        per_seed.min(axis=0),
        per_seed.max(axis=0),
        color=color,
        alpha=0.2,
        label=f"min to max over seeds{label_suffix}",
    )
    axes.plot(
        steps,
        per_seed.mean(axis=0),
        line_style,
        color=color,
        ms=3,
        label=f"mean over seeds{label_suffix}",
    )


def plot_curves(
    runs: dict[int, list[dict[str, str]]],
    path: Path,
    title: str,
    solved_threshold: float | None,
    return_cap: float | None,
) -> None:
    """curves.png: evaluation means (top) and smoothed training returns (bottom) against agent
    steps, each seed thin, the mean over seeds bold within the seeds' min-max band."""
    figure, (eval_axes, train_axes) = plt.subplots(2, 1, figsize=(8, 8), dpi=110, sharex=True)

    # Every seed evaluates at the same agent steps (each eval_interval), so their k-th evaluations
    # are compared. The mean and band stop where the shortest seed stopped (an episode limit ends
    # seeds at different steps): past that a mean would jump as seeds drop out.
    evaluations = [
        (column(rows, "eval", "step"), column(rows, "eval", "return")) for rows in runs.values()
    ]
    for steps, means in evaluations:
        eval_axes.plot(steps, means, color="tab:orange", lw=0.7, alpha=0.45)
    shared = min((len(steps) for steps, _ in evaluations), default=0)
    eval_suffix = "" if all(len(steps) == shared for steps, _ in evaluations) else ALL_SEEDS
    if shared:
        eval_steps = np.median([steps[:shared] for steps, _ in evaluations], axis=0)
        eval_means = np.array([means[:shared] for _, means in evaluations])  # (seeds, evals)
        draw_spread(eval_axes, eval_steps, eval_means, "tab:orange", eval_suffix, "o-")
    draw_solved_line(eval_axes, solved_threshold)
    eval_axes.set_ylabel("evaluation mean return")
    eval_axes.set_title(f"{title}: evaluations (thin lines: one seed each)")

    # Training episodes end at different agent steps in each seed, so each seed's trailing mean is
    # interpolated onto common steps, over the range where every seed has episodes.
    curves = []
    for rows in runs.values():
        steps = column(rows, "train", "step")
        if len(steps):
            smoothed = trailing_mean(column(rows, "train", "return"), MOVING_AVERAGE_EPISODES)
            curves.append((steps, smoothed))
            train_axes.plot(steps, smoothed, color="tab:blue", lw=0.7, alpha=0.45)
    first_step = max((steps[0] for steps, _ in curves), default=0.0)
    last_step = min((steps[-1] for steps, _ in curves), default=0.0)
    if curves and first_step < last_step:
        grid = np.linspace(first_step, last_step, CURVE_POINTS)
        on_grid = np.array([np.interp(grid, steps, smoothed) for steps, smoothed in curves])
        ends = {steps[-1] for steps, _ in curves}
        train_suffix = "" if len(ends) == 1 else ALL_SEEDS
        draw_spread(train_axes, grid, on_grid, "tab:blue", train_suffix, "-")
    if return_cap is not None:
        train_axes.axhline(
            return_cap, color="gray", ls=":", lw=1, label=f"time limit's return ({return_cap:g})"
        )
    train_axes.set_ylabel(f"training return, mean of last {MOVING_AVERAGE_EPISODES} episodes")
    train_axes.set_xlabel("agent steps")
    train_axes.set_title("training episodes (thin lines: one seed each)")
    for axes in (eval_axes, train_axes):
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize=8)
    save_png(figure, path)


def plot_boxplot(
    runs: dict[int, list[dict[str, str]]], path: Path, title: str, return_cap: float | None
) -> None:
    """boxplot.png, the paper's figure: one box per seed of its training-episode returns
    (median line, quartile box, whiskers to 1.5 IQR, outliers as points, mean as a triangle)."""
    figure, axes = plt.subplots(figsize=(max(6.0, 0.6 * len(runs) + 2), 4.5), dpi=110)
    returns = [column(rows, "train", "return") for rows in runs.values()]
    axes.boxplot(returns, showmeans=True)
    axes.set_xticks(range(1, len(runs) + 1), [str(seed) for seed in runs])
    if return_cap is not None:
        axes.axhline(
            return_cap, color="gray", ls=":", lw=1, label=f"time limit's return ({return_cap:g})"
        )
        axes.legend(loc="best", fontsize=8)
    axes.set_xlabel("seed")
    axes.set_ylabel("training episode return")
    axes.set_title(
        f"{title}\ntraining-episode returns per seed (box: quartiles and median; triangle: mean)",
        fontsize=10,
    )
    axes.grid(alpha=0.3, axis="y")
    save_png(figure, path)

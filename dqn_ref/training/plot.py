"""curve.png: training-episode returns and evaluation returns against agent steps."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dqn_ref.training.atomic import atomic_write
from dqn_ref.training.metrics import MetricsLog
from dqn_ref.training.wording import count

MOVING_AVERAGE_EPISODES = 20


def plot_curve(metrics: MetricsLog, path: Path, title: str, solved_threshold: float | None) -> None:
    """Write the learning curve to `path` (PNG, atomically), with a dashed line at the solved
    threshold where there is one."""
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=110)
    train_steps = np.array(metrics.column("train", "step"))
    train_returns = np.array(metrics.column("train", "return"))
    if len(train_returns):
        axes.plot(
            train_steps,
            train_returns,
            ".",
            ms=2,
            alpha=0.35,
            color="tab:blue",
            label="training episode return",
        )
        if len(train_returns) >= MOVING_AVERAGE_EPISODES:
            kernel = np.ones(MOVING_AVERAGE_EPISODES) / MOVING_AVERAGE_EPISODES
            smoothed = np.convolve(train_returns, kernel, mode="valid")
            axes.plot(
                train_steps[MOVING_AVERAGE_EPISODES - 1 :],
                smoothed,
                color="tab:blue",
                label=f"training, mean of last {MOVING_AVERAGE_EPISODES} episodes",
            )
    eval_steps = np.array(metrics.column("eval", "step"))
    if len(eval_steps):
        eval_mean = np.array(metrics.column("eval", "return"))
        eval_min = np.array(metrics.column("eval", "eval_min"))
        eval_max = np.array(metrics.column("eval", "eval_max"))
        axes.fill_between(
            eval_steps,
            eval_min,
            eval_max,
            color="tab:orange",
            alpha=0.2,
            label="evaluation, min to max",
        )
        axes.plot(eval_steps, eval_mean, "o-", color="tab:orange", label="evaluation mean")
    final_steps = metrics.column("final", "step")
    if final_steps:
        episodes = int(metrics.column("final", "length")[0])
        axes.errorbar(
            final_steps,
            metrics.column("final", "return"),
            yerr=metrics.column("final", "eval_std"),
            fmt="*",
            ms=12,
            color="tab:red",
            capsize=3,
            label=f"final evaluation ({count(episodes, 'episode')}, mean and std)",
        )
    draw_solved_line(axes, solved_threshold)
    axes.set_xlabel("agent steps")
    axes.set_ylabel("episode return (raw)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    save_png(figure, path)


def draw_solved_line(axes: Axes, solved_threshold: float | None) -> None:
    """The dashed "solved" line at the threshold; none when the run has no threshold."""
    if solved_threshold is not None:
        axes.axhline(
            solved_threshold, color="gray", ls="--", lw=1, label=f"solved ({solved_threshold:g})"
        )


def save_png(figure: Figure, path: Path) -> None:
    """Write a figure to `path` as PNG, atomically (a crash leaves no half file), then close it."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write(path, lambda file: file.write(buffer.getvalue()))

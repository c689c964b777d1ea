"""Pong runs of one preset side by side: their evaluation curves against minutes of training and
against agent steps, and per seed the minutes and steps to the first evaluation mean of 18, the
best evaluation within 60 and 120 minutes, and the final evaluation.

python -m bench.pong_seeds RUN_DIR [RUN_DIR ...] --out docs/pong/pong-cpu [--minutes 60]

Each RUN_DIR is a run folder (`python -m dqn_ref.run pong --preset pong-cpu --seed S --out
RUN_DIR`); minutes are its metrics.csv's wall_time_s, the run's clock from the start of the
training loop with the evaluations during training included (train_time_s leaves them out).
The final evaluation is summary.json's, or for a run stopped early and evaluated apart,
final-eval.json's (what `dqn_ref.load(RUN_DIR).evaluate(30)` returns). Writes OUT-curves.png,
OUT-seeds.md and, per run, OUT-sS-metrics.csv, OUT-sS-config.json and OUT-sS-summary.json (or
OUT-sS-final-eval.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dqn_ref.training.metrics import read_metrics

THRESHOLD = 18.0


def evaluations(run_dir: Path) -> list[tuple[int, float, float]]:
    """(agent step, minutes of training, evaluation mean) of each evaluation during training."""
    return [
        (int(row["step"]), float(row["wall_time_s"]) / 60, float(row["return"]))
        for row in read_metrics(run_dir / "metrics.csv")
        if row["kind"] == "eval"
    ]


def first_reaching(points: list[tuple[int, float, float]]) -> tuple[int, float] | None:
    return next(((step, minutes) for step, minutes, mean in points if mean >= THRESHOLD), None)


def best_within(points: list[tuple[int, float, float]], minutes: float) -> float | None:
    means = [mean for _, at, mean in points if at <= minutes]
    return max(means) if means else None


def run_row(run_dir: Path, minutes: float) -> dict[str, Any]:
    config = json.loads((run_dir / "config.json").read_text())["config"]
    summary_path = run_dir / "summary.json"
    final_path = run_dir / "final-eval.json"
    final: dict[str, Any] = {}
    if summary_path.exists():
        final = json.loads(summary_path.read_text()).get("final_eval") or {}
    elif final_path.exists():
        final = json.loads(final_path.read_text())
    points = evaluations(run_dir)
    reached = first_reaching(points)
    return {
        "seed": config["seed"],
        "steps_to_18": reached[0] if reached else None,
        "minutes_to_18": reached[1] if reached else None,
        f"best_within_{minutes:g}_min": best_within(points, minutes),
        f"best_within_{2 * minutes:g}_min": best_within(points, 2 * minutes),
        "final_mean": final.get("mean"),
        "final_std": final.get("std"),
        "last_step": points[-1][0] if points else 0,
        "last_minutes": points[-1][1] if points else 0.0,
    }


def plot(runs: dict[int, list[tuple[int, float, float]]], minutes: float, path: Path) -> None:
    figure, (by_minutes, by_steps) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for seed, points in sorted(runs.items()):
        steps, at, means = zip(*points, strict=True) if points else ((), (), ())
        by_minutes.plot(at, means, marker="o", markersize=3, label=f"seed {seed}")
        by_steps.plot([s / 1e3 for s in steps], means, marker="o", markersize=3)
    for axes in (by_minutes, by_steps):
        axes.axhline(THRESHOLD, color="grey", linestyle="--", linewidth=1)
        axes.grid(alpha=0.3)
    by_minutes.axvline(minutes, color="grey", linestyle=":", linewidth=1)
    by_minutes.set_xlabel("minutes of training (wall-clock, evaluations included)")
    by_steps.set_xlabel("agent steps (thousands)")
    by_minutes.set_ylabel("evaluation mean (10 games, epsilon 0.05)")
    by_minutes.legend(loc="lower right")
    figure.suptitle(f"{len(runs)} Pong runs: the dashed line is {THRESHOLD:g}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def markdown(rows: list[dict[str, Any]], minutes: float) -> str:
    def number(value: float | None, digits: int = 1) -> str:
        return "not reached" if value is None else f"{value:,.{digits}f}"

    lines = [
        f"| seed | minutes to {THRESHOLD:g} | agent steps to {THRESHOLD:g} | best by "
        f"{minutes:g} min | final (30 games) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        steps = row["steps_to_18"]
        final = (
            "not run"
            if row["final_mean"] is None
            else f"{row['final_mean']:.1f} +- {row['final_std']:.1f}"
        )
        lines.append(
            f"| {row['seed']} | {number(row['minutes_to_18'])} | "
            f"{'not reached' if steps is None else f'{steps:,}'} | "
            f"{number(row[f'best_within_{minutes:g}_min'])} | {final} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True, help="path prefix of what is written")
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = [run_row(run_dir, args.minutes) for run_dir in args.run_dirs]
    runs = {
        row["seed"]: evaluations(run_dir) for row, run_dir in zip(rows, args.run_dirs, strict=True)
    }
    plot(runs, args.minutes, args.out.with_name(args.out.name + "-curves.png"))
    table = markdown(rows, args.minutes)
    args.out.with_name(args.out.name + "-seeds.md").write_text(table)
    for row, run_dir in zip(rows, args.run_dirs, strict=True):
        for name in ("metrics.csv", "config.json", "summary.json", "final-eval.json"):
            if (run_dir / name).exists():
                stem, suffix = name.rsplit(".", 1)
                shutil.copyfile(
                    run_dir / name,
                    args.out.with_name(f"{args.out.name}-s{row['seed']}-{stem}.{suffix}"),
                )
    print(table, end="")


if __name__ == "__main__":
    main()

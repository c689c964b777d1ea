"""bench/pong_seeds.py, which writes docs/pong's per-seed table and curves: minutes and steps to
the first evaluation of 18, the best evaluation by 60 and 120 minutes, the final evaluation."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bench.pong_seeds import main, run_row

COLUMNS = [
    "kind", "step", "episode", "wall_time_s", "return", "length", "epsilon", "loss", "eval_std",
    "eval_min", "eval_max", "train_time_s",
]  # fmt: skip


def fake_run(run_dir: Path, seed: int, rows: list[tuple[str, int, float, float]]) -> Path:
    """A run folder whose metrics hold (kind, step, wall minutes, return) rows; train_time_s is
    wall time less a minute, as if the evaluations had taken one."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(
        json.dumps({"preset": "pong-cpu", "config": {"seed": seed}})
    )
    with (run_dir / "metrics.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, COLUMNS)
        writer.writeheader()
        for kind, step, minutes, score in rows:
            writer.writerow(
                {
                    "kind": kind,
                    "step": step,
                    "wall_time_s": minutes * 60,
                    "return": score,
                    "train_time_s": max(minutes - 1, 0) * 60,
                }
            )
    return run_dir


ROWS = [
    ("train", 1_000, 5.0, 19.0),  # a training game at 19 is not an evaluation of 18
    ("eval", 50_000, 30.0, 10.0),
    ("eval", 100_000, 58.5, 17.5),
    ("eval", 150_000, 60.5, 18.0),  # 18 at 60.5 wall-clock minutes (59.5 of train_time_s)
    ("eval", 200_000, 90.0, 20.0),
    ("eval", 250_000, 130.0, 21.0),
]


def test_minutes_to_18_are_wall_clock_minutes_of_the_first_evaluation_reaching_it(
    tmp_path: Path,
) -> None:
    run = fake_run(tmp_path / "s0", 0, ROWS)
    (run / "summary.json").write_text(json.dumps({"final_eval": {"mean": 19.5, "std": 1.0}}))
    row = run_row(run, 60.0)
    assert row["seed"] == 0
    assert row["steps_to_18"] == 150_000
    assert row["minutes_to_18"] == 60.5
    assert row["best_within_60_min"] == 17.5
    assert row["best_within_120_min"] == 20.0
    assert (row["final_mean"], row["final_std"]) == (19.5, 1.0)


def test_a_run_evaluated_apart_reports_its_final_eval_file_and_one_never_reaching_18_says_so(
    tmp_path: Path,
) -> None:
    run = fake_run(tmp_path / "s1", 1, [("eval", 50_000, 30.0, 12.0)])
    (run / "final-eval.json").write_text(json.dumps({"mean": 16.9, "std": 2.4}))
    row = run_row(run, 60.0)
    assert row["steps_to_18"] is None and row["minutes_to_18"] is None
    assert row["final_mean"] == 16.9


def test_the_command_writes_table_curves_and_each_runs_files(tmp_path: Path) -> None:
    first = fake_run(tmp_path / "a", 0, ROWS)
    (first / "summary.json").write_text(json.dumps({"final_eval": {"mean": 19.5, "std": 1.0}}))
    second = fake_run(tmp_path / "b", 1, [("eval", 50_000, 30.0, 12.0)])
    out = tmp_path / "docs" / "pong-cpu"
    main([str(first), str(second), "--out", str(out)])
    table = (tmp_path / "docs" / "pong-cpu-seeds.md").read_text().splitlines()
    assert table[2] == "| 0 | 60.5 | 150,000 | 17.5 | 19.5 +- 1.0 |"
    assert table[3] == "| 1 | not reached | not reached | 12.0 | not run |"
    assert (tmp_path / "docs" / "pong-cpu-curves.png").stat().st_size > 0
    assert (tmp_path / "docs" / "pong-cpu-s0-metrics.csv").read_text() == (
        first / "metrics.csv"
    ).read_text()
    assert (tmp_path / "docs" / "pong-cpu-s0-summary.json").exists()
    assert (tmp_path / "docs" / "pong-cpu-s1-config.json").exists()

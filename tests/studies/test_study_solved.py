"""A study's solve counts, from the evaluations of real runs to the report's headline: train()
writes each run's first and stable solve (spec/evaluation.md#eq-first-solve, #eq-stable-solve)
into summary.json, read_seed_result reads them back, and StudyAggregate counts the seeds that
solved and those that solved stably. The evaluations' means are scripted, so that each seed's
solve is known in advance."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dqn_ref.training.train as train_module
from dqn_ref.presets import cartpole
from dqn_ref.studies.seed_result import StudyAggregate, read_seed_result
from dqn_ref.studies.study_report import aggregate_lines

THRESHOLD = 20.0
CONFIG = cartpole.replace(
    num_envs=1,
    total_steps=200,
    learning_starts=10_000,  # no update: only the scripted evaluations matter
    eval_interval=50,
    eval_episodes=1,
    final_eval_episodes=1,
    solved_threshold=THRESHOLD,
    stop_when_solved=False,
    tensorboard=False,
    torch_threads=1,
)

# Evaluation means at steps 50, 100, 150, 200, then the final evaluation's.
SEEDS = {
    0: [10.0, 30.0, 30.0, 30.0, 30.0],  # solved at 100, stably from 100
    1: [10.0, 30.0, 10.0, 10.0, 10.0],  # solved at 100, fell back: not stably
    2: [30.0, 10.0, 30.0, 30.0, 30.0],  # solved at 50, stably only from 150
    3: [10.0, 10.0, 10.0, 10.0, 10.0],  # never solved
}


def run_with_evaluations(run_dir: Path, seed: int) -> None:
    """Train CONFIG for seed `seed`, every evaluation returning the next of SEEDS[seed]."""
    means: Iterator[float] = iter(SEEDS[seed])

    def scripted_evaluate(*_: Any) -> np.ndarray:
        return np.array([next(means)])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "evaluate", scripted_evaluate)
        patch.setattr(train_module, "plot_curve", lambda *_: None)  # a second a run, unread here
        train_module.train(CONFIG.replace(seed=seed), run_dir, progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of one run per seed of SEEDS, seedN each."""
    folder = tmp_path_factory.mktemp("study")
    for seed in SEEDS:
        run_with_evaluations(folder / f"seed{seed}", seed)
    return folder


def test_a_runs_summary_holds_its_first_and_its_stable_solve(runs: Path) -> None:
    """eq-first-solve is the first evaluation at or above the threshold; eq-stable-solve the
    first from which every later one stays there: a seed that falls back has none, and one that
    dips has its stable solve later than its first."""
    expected = {0: (100, 100), 1: (100, None), 2: (50, 150), 3: (None, None)}
    for seed, (first, stable) in expected.items():
        summary = json.loads((runs / f"seed{seed}" / "summary.json").read_text())
        assert (summary["first_solved_step"], summary["stable_solved_step"]) == (first, stable)
        assert (summary["stable_solved_time_s"] is None) == (stable is None)


def test_a_studys_stably_solved_count_leaves_out_the_seeds_that_fell_back(runs: Path) -> None:
    """Of the four seeds, three solved (0, 1, 2) and two solved stably (0 and 2): the stable
    solve's steps are taken over those two (100 and 150), and the report says 2 of 4."""
    results = [read_seed_result(runs / f"seed{seed}", seed, None) for seed in SEEDS]
    assert [result.solved for result in results] == [True, True, True, False]
    assert [result.stable_steps_to_solve for result in results] == [100, None, 150, None]
    aggregate = StudyAggregate.of(results)
    assert (aggregate.seeds, aggregate.solved, aggregate.stably_solved) == (4, 3, 2)
    assert aggregate.stable_steps_to_solve is not None
    assert aggregate.stable_steps_to_solve.count == 2
    assert (aggregate.stable_steps_to_solve.min, aggregate.stable_steps_to_solve.max) == (100, 150)
    assert aggregate.steps_to_solve is not None and aggregate.steps_to_solve.count == 3
    lines = aggregate_lines(aggregate, CONFIG, None)
    assert any(
        line.startswith("stably solved (") and line.endswith(": 2 of 4 seeds") for line in lines
    )
    assert any(
        line.startswith("solved at some evaluation (") and line.endswith(": 3 of 4 seeds")
        for line in lines
    )


def test_a_run_written_before_summaries_held_the_stable_solve_is_read_off_its_evaluations(
    runs: Path, tmp_path: Path
) -> None:
    """Older summary.json files lack stable_solved_step: read_seed_result then reads the stable
    solve off metrics.csv's evaluations, with the same answer for a seed that fell back (none)
    and one that dipped (150)."""
    for seed, stable in ((1, None), (2, 150)):
        run_dir = tmp_path / f"seed{seed}"
        shutil.copytree(runs / f"seed{seed}", run_dir)
        summary = json.loads((run_dir / "summary.json").read_text())
        for key in [key for key in summary if key.startswith("stable_solved")]:
            del summary[key]
        (run_dir / "summary.json").write_text(json.dumps(summary))
        assert read_seed_result(run_dir, seed, None).stable_steps_to_solve == stable

"""tune --workers: trials shared out over processes that take them from one storage; the preset's
own trial trained once, no trial sampled twice, the search's report the same as one process's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dqn_ref.presets import cartpole
from dqn_ref.run.main import main
from dqn_ref.studies.tune_workers import trial_shares
from tests.studies.test_tune import TINY_TUNE


def test_trial_shares_worked_example() -> None:
    """7 trials over 3 workers: 7 = 3 + 2 + 2; 2 trials over 4 workers: two workers, one each."""
    assert trial_shares(7, 3) == [3, 2, 2]
    assert trial_shares(2, 4) == [1, 1]
    assert trial_shares(5, 1) == [5]


@given(trials=st.integers(1, 500), workers=st.integers(1, 64))
def test_trial_shares_split_every_trial_evenly_over_at_most_the_workers(
    trials: int, workers: int
) -> None:
    shares = trial_shares(trials, workers)
    assert sum(shares) == trials
    assert len(shares) == min(trials, workers)
    assert min(shares) >= 1 and max(shares) - min(shares) <= 1


def test_two_workers_run_the_trials_asked_for_the_preset_once_and_no_trial_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("optuna")
    out = tmp_path / "tune"
    flags = ["--trials", "3", "--workers", "2", "--no-pruning", "--out", str(out)]
    assert main([*TINY_TUNE, *flags]) == 0
    trials = json.loads((out / "tune.json").read_text())["trials"]
    assert sorted(trial["number"] for trial in trials) == [0, 1, 2]
    assert all(trial["state"] == "COMPLETE" for trial in trials)
    # The preset's trial is queued once, before the workers start: one trial has its values.
    preset_trials = [t for t in trials if t["params"]["learning_rate"] == cartpole.learning_rate]
    assert [t["number"] for t in preset_trials] == [0]
    params = [json.dumps(trial["params"], sort_keys=True) for trial in trials]
    assert len(set(params)) == len(params)
    for trial in trials:
        assert (out / f"trial{trial['number']}" / "seed100" / "metrics.csv").is_file()
    # Trained in two worker processes, neither of them this one.
    processes = {trial["user_attrs"]["process"] for trial in trials if trial["state"] == "COMPLETE"}
    assert len(processes) == 2 and os.getpid() not in processes
    printed = capsys.readouterr().out
    # The workers' own lines reach the terminal through their inherited stdout, not pytest's
    # capture; the parent's report names all three trials.
    assert "3 trials in study" in printed

"""The tune sampler: seeded per trial, so that a search continued in another process samples new
trials while a search run in one process samples the same ones every time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dqn_ref.presets import cartpole
from dqn_ref.studies.tune_space import sample_config, search_space
from dqn_ref.studies.tune_storage import open_search

if TYPE_CHECKING:
    import optuna
else:
    optuna = pytest.importorskip("optuna")

SPACE = search_space(cartpole, frozenset())
TRIALS_PER_PROCESS = 3


def search(storage: str, trials: int) -> list[dict[str, Any]]:
    """What one process of `tune` does with the sampler: open the study (a new sampler object, as
    a new process makes) and run `trials` more trials; every trial's params so far."""
    study = open_search("search", storage, sampler_seed=0)

    def objective(trial: optuna.Trial) -> float:
        return sample_config(trial, cartpole, SPACE).learning_rate  # any score will do

    study.optimize(objective, n_trials=trials)
    return [trial.params for trial in study.trials]


def test_a_search_continued_by_another_process_samples_new_trials(tmp_path: Path) -> None:
    """A sampler seeded once per process would replay the first process's trials exactly."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = search(storage, TRIALS_PER_PROCESS)
    both = search(storage, TRIALS_PER_PROCESS)
    assert both[:TRIALS_PER_PROCESS] == first
    continued = both[TRIALS_PER_PROCESS:]
    assert len(continued) == TRIALS_PER_PROCESS
    assert not [params for params in continued if params in first]


def test_a_search_in_one_process_is_repeatable(tmp_path: Path) -> None:
    once = search(f"sqlite:///{tmp_path / 'once.db'}", 2 * TRIALS_PER_PROCESS)
    again = search(f"sqlite:///{tmp_path / 'again.db'}", 2 * TRIALS_PER_PROCESS)
    assert once == again
    assert len({str(params) for params in once}) == len(once)  # and its trials differ

"""Trials in parallel: `tune --workers N` runs N processes on this machine, each taking trials from
the search's one Optuna storage, as processes on several machines given the same --storage and
--study-name do. A trial still trains its seeds one after another in its process, so that
pruning can stop it after any evaluation; the workers share out the trials, not a trial's seeds.

The preset's own trial is queued once, here, before any worker starts, and the workers after
the first start once it is taken, so that it is trained once however many workers there are;
each trial's sampler is seeded by the trial's number (tune_sampler.py), so two workers never
sample the same trial.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING

from dqn_ref.config import DQNConfig
from dqn_ref.studies.local_backend import start_worker, stop_workers
from dqn_ref.studies.tune import TuneSettings, enqueue_preset, run_search
from dqn_ref.studies.tune_storage import open_search

if TYPE_CHECKING:
    import optuna

QUEUE_POLL_S = 0.1
TrialCallback = Callable[["optuna.Study", "optuna.trial.FrozenTrial"], None]


def trial_shares(trials: int, workers: int) -> list[int]:
    """`trials` split over at most `workers` processes as evenly as can be, none given nothing:
    7 trials over 3 workers are 3, 2 and 2."""
    base, extra = divmod(trials, workers)
    return [base + (index < extra) for index in range(min(workers, trials))]


def search_worker(
    name: str,
    storage: str,
    sampler_seed: int,
    base: DQNConfig,
    preset_name: str,
    settings: TuneSettings,
    trials: int,
    timeout_s: float | None,
    on_trial: TrialCallback,
) -> None:
    """One worker process: its share of the trials, from the shared storage."""
    study = open_search(name, storage, sampler_seed)
    run_search(study, base, preset_name, settings, trials, timeout_s, on_trial)


def wait_until_no_trial_waits(study: optuna.Study, first: Future[None]) -> None:
    """Until the queued preset trial is taken (or the first worker has ended): two workers
    popping one queued trial from SQLite at once can both get it, and the second then fails to
    record it ("Cannot tell a COMPLETE trial"), so the others start once it is taken."""
    import optuna

    waiting = (optuna.trial.TrialState.WAITING,)
    while not first.done() and study.get_trials(deepcopy=False, states=waiting):
        time.sleep(QUEUE_POLL_S)


def search_in_workers(
    study: optuna.Study,
    storage: str,
    sampler_seed: int,
    base: DQNConfig,
    preset_name: str,
    settings: TuneSettings,
    trials: int,
    timeout_s: float | None,
    workers: int,
    on_trial: TrialCallback,
) -> None:
    """Run `trials` more trials of `study` in `workers` processes; a worker's one-line error
    (DQNRefError) or Ctrl-C stops every worker and is raised here. `on_trial` runs in the worker
    that ran the trial, so it must be a module-level function."""
    enqueue_preset(study, base, settings)
    children_before = set(multiprocessing.active_children())
    # spawn, not fork: a forked copy of a process that has loaded torch can deadlock on its locks.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(os.getpid(),),
    )
    try:
        futures = []
        for share in trial_shares(trials, workers):
            futures.append(
                pool.submit(
                    search_worker,
                    study.study_name,
                    storage,
                    sampler_seed,
                    base,
                    preset_name,
                    settings,
                    share,
                    timeout_s,
                    on_trial,
                )
            )
            wait_until_no_trial_waits(study, futures[0])
        for future in as_completed(futures):
            future.result()
    except BaseException:
        stop_workers(pool, set(multiprocessing.active_children()) - children_before)
        raise
    pool.shutdown()

"""The local backend of a study: a pool of worker processes on this machine, each training one seed
into its run folder in place (the Ray backend, ray_backend.py, trains them on a cluster)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess
from pathlib import Path

from tqdm import tqdm

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.studies.study_seed import TRAIN_LOG, logged_count, train_seed
from dqn_ref.training.interrupt import end_with_parent


def start_worker(parent_pid: int) -> None:
    """Worker initializer. Ctrl-C reaches every process of the terminal's group; the parent alone
    acts on it and stops the workers, so no worker dies mid-write with a traceback of its own. A
    parent killed outright takes its workers with it (end_with_parent)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    end_with_parent(parent_pid)
    # tqdm's default lock is a multiprocessing semaphore, which a stopped worker cannot release
    # (Python then warns of a leaked semaphore); a worker draws no bar, so a thread lock will do.
    tqdm.set_lock(threading.RLock())


def stop_workers(pool: ProcessPoolExecutor, workers: set[BaseProcess]) -> None:
    """Cancel the seeds not started and end the ones training, which ignore Ctrl-C."""
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()
    for process in workers:
        process.join()
    pool.shutdown(wait=True)  # the pool notices its dead workers and frees its queues


class LocalBackend:
    """A pool of `workers` processes on this machine, each writing its seed's folder in place."""

    def __init__(self, workers: int):
        self.description = f"{workers} at a time"
        self.children_before = set(multiprocessing.active_children())
        # spawn, not fork: a forked copy of a process that has loaded torch can deadlock on its
        # locks.
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,
            initargs=(os.getpid(),),
        )
        self.pending: dict[Future[None], tuple[int, Path]] = {}
        self.run_dirs: dict[int, Path] = {}

    def submit(self, config: DQNConfig, run_dir: Path, preset_name: str) -> None:
        future = self.pool.submit(train_seed, config, run_dir, preset_name)
        self.pending[future] = (config.seed, run_dir)
        self.run_dirs[config.seed] = run_dir

    def wait(self, timeout_s: float) -> list[int]:
        finished, _ = wait(self.pending, timeout=timeout_s, return_when=FIRST_COMPLETED)
        seeds = []
        for future in sorted(finished, key=lambda future: self.pending[future][0]):
            seed, run_dir = self.pending.pop(future)
            try:
                future.result()
            except DQNRefError as error:
                raise DQNRefError(f"seed {seed}: {error}") from error
            except BrokenProcessPool as error:
                raise DQNRefError(
                    f"a worker process died while training ({error}); see {run_dir / TRAIN_LOG}"
                ) from error
            seeds.append(seed)
        return seeds

    def logged(self, seed: int, unit: str) -> int:
        return logged_count(self.run_dirs[seed] / "metrics.csv", unit)

    def stop(self) -> None:
        stop_workers(self.pool, set(multiprocessing.active_children()) - self.children_before)

    def close(self) -> None:
        self.pool.shutdown()

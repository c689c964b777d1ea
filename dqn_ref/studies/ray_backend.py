"""The study's Ray backend (python -m dqn_ref.run study ... --backend ray [--address ADDR]): each
seed trains as one Ray task, on an existing cluster or on a local Ray instance.

A task trains its seed in a temporary folder on whichever machine runs it and returns the files of
that run folder as bytes; the driver writes them into the study folder. The cluster's workers
therefore need not share the driver's disk, and the study folder, its table and figures are those
of the local backend. Progress comes back the same way it is read locally, from the seed's
metrics.csv, which each task reports to a small Ray actor about once a second. The driver's copy of
dqn_ref is shipped to the workers (Ray's runtime_env py_modules, as a folder: a module object cannot
be sent through a Ray client's ray:// connection), so they run the same code; the packages it needs
(torch, gymnasium, ale-py, ...) must be installed there.

The cluster is the one ray_address.py finds (--address, else RAY_ADDRESS), checked there before
anything is written, else a new local instance, started as address "local" so that a cluster left
by an earlier `ray start` on this machine is not joined instead. ray.init installs a SIGTERM
handler of its own that exits at once; the study's handler is put back after it, so that SIGTERM
stops a Ray study as it stops a local one.

A task whose worker process or node dies is run again from its start, up to MAX_RETRIES times;
beyond that, or when training itself fails, the study stops and says which seed failed and why.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import dqn_ref
from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.studies.ray_address import check_reachable, cluster_address
from dqn_ref.studies.study_seed import logged_count, train_seed
from dqn_ref.training.interrupt import TerminatedError

RAY_INSTALL = "pip install 'dqn_ref[ray]'"
MAX_RETRIES = 2  # a seed whose worker dies trains again from its start, at most this many times
PROGRESS_REPORT_S = 1.0  # how often a task reports its seed's logged episodes or steps

SeedTask = Callable[[DQNConfig, str, Any, str], dict[str, bytes]]


def import_ray() -> ModuleType:
    """The ray module, or a one-line error that says what to install."""
    try:
        import ray
    except ImportError:
        raise DQNRefError(
            f"--backend ray needs Ray, which is not installed here: {RAY_INSTALL}"
        ) from None
    return ray


class ProgressBoard:
    """A Ray actor: the latest count of episodes or steps each seed's task reported."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def report(self, seed: int, count: int) -> None:
        self.counts[seed] = count

    def read(self) -> dict[int, int]:
        return dict(self.counts)


class ProgressReporter:
    """The StopCheck a task hands to train(): it never stops the run, and about once a second it
    reports the count logged in the seed's metrics.csv to the ProgressBoard."""

    signal_number: int | None = None

    def __init__(self, board: Any, seed: int, metrics_path: Path, unit: str):
        self.board = board
        self.seed = seed
        self.metrics_path = metrics_path
        self.unit = unit
        self.last_report = time.monotonic()

    def should_stop(self, step: int) -> bool:
        now = time.monotonic()
        if now - self.last_report >= PROGRESS_REPORT_S:
            self.last_report = now
            self.board.report.remote(self.seed, logged_count(self.metrics_path, self.unit))
        return False


def train_seed_task(config: DQNConfig, preset_name: str, board: Any, unit: str) -> dict[str, bytes]:
    """A Ray task: train config.seed in a temporary folder on this worker and return its run
    folder's files, {path relative to the folder: bytes}."""
    with tempfile.TemporaryDirectory(prefix=f"dqn_ref-seed{config.seed}-") as temporary:
        run_dir = Path(temporary) / f"seed{config.seed}"
        reporter = ProgressReporter(board, config.seed, run_dir / "metrics.csv", unit)
        train_seed(config, run_dir, preset_name, stop=reporter)
        return {
            path.relative_to(run_dir).as_posix(): path.read_bytes()
            for path in sorted(run_dir.rglob("*"))
            if path.is_file()
        }


def write_run_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """A finished task's run folder, written into the study folder."""
    for name, content in files.items():
        target = run_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


class RayBackend:
    """One Ray task per seed (study.SeedBackend). Checks the cluster's address at once (a one-line
    DQNRefError where nothing answers) and connects on the first submit: to the cluster at
    `address` (or RAY_ADDRESS), or to a new local Ray instance of `workers` CPUs. Each task asks
    for one CPU, and one GPU when the config's device is cuda."""

    def __init__(
        self,
        address: str | None,
        workers: int,
        config: DQNConfig,
        task: SeedTask | None = None,
        max_retries: int = MAX_RETRIES,
    ):
        self.ray = import_ray()
        self.address, self.named_by = cluster_address(address)
        if self.address is not None:
            check_reachable(self.address, self.named_by)
        self.workers = workers
        self.unit = "episode" if config.total_episodes else "step"
        self.num_gpus = 1 if config.device == "cuda" else 0
        self.task = task  # None: train_seed_task
        self.max_retries = max_retries
        self.description = (
            f"one Ray task each on the cluster at {self.address}"
            + (f" ({self.named_by})" if self.named_by != "--address" else "")
            if self.address is not None
            else f"one Ray task each on a local Ray instance of {workers} CPUs"
        )
        self.connected = False
        self.terminated = False  # SIGTERM came (noting_sigterm)
        self.board: Any = None
        self.remote_task: Any = None
        self.pending: dict[Any, tuple[int, Path]] = {}  # ObjectRef -> seed, run folder
        self.counts: dict[int, int] = {}
        self.board_read: Any = None  # the ObjectRef of a read of the board not yet answered

    def connect(self) -> None:
        ray = self.ray
        options: dict[str, Any] = {
            # The driver's dqn_ref, on every worker; a folder, which a ray:// client can send.
            "runtime_env": {"py_modules": [str(Path(dqn_ref.__file__).parent)]},
            "logging_level": logging.ERROR,
            "log_to_driver": False,  # each task's output goes to its seed's train.log
        }
        # Ray takes half a minute to start, and the study's bar stands still meanwhile.
        print(f"dqn_ref study: starting Ray on {self.address or 'a local instance'}...", flush=True)
        study_sigterm = signal.getsignal(signal.SIGTERM)
        try:
            if self.address is None:
                ray.init(address="local", num_cpus=self.workers, include_dashboard=False, **options)
            else:
                ray.init(address=self.address, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"{self.address} ({self.named_by})" if self.address else "a new local instance"
            reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise DQNRefError(f"cannot start Ray on {where}: {reason}") from None
        finally:
            # ray.init's handler exits at once, leaving the workers and the study's line behind.
            signal.signal(signal.SIGTERM, self.noting_sigterm(study_sigterm))
        self.connected = True
        self.board = ray.remote(num_cpus=0)(ProgressBoard).remote()
        self.remote_task = ray.remote(
            num_cpus=1, num_gpus=self.num_gpus, max_retries=self.max_retries
        )(self.task or train_seed_task)

    def noting_sigterm(self, handler: Any) -> Any:
        """The study's SIGTERM handler, noting that SIGTERM came: an exception it raises inside
        ray.wait or ray.get reaches the study as a plain KeyboardInterrupt (Ray's native code
        reraises it so), which wait() turns back into TerminatedError."""
        if not callable(handler):
            return handler

        def note_then_handle(signal_number: int, frame: FrameType | None) -> None:
            self.terminated = True
            handler(signal_number, frame)

        return note_then_handle

    def submit(self, config: DQNConfig, run_dir: Path, preset_name: str) -> None:
        if not self.connected:
            self.connect()
        ref = self.remote_task.remote(config, preset_name, self.board, self.unit)
        self.pending[ref] = (config.seed, run_dir)

    def wait(self, timeout_s: float) -> list[int]:
        try:
            return self.wait_for_tasks(timeout_s)
        except KeyboardInterrupt as interrupt:
            if self.terminated and not isinstance(interrupt, TerminatedError):
                raise TerminatedError from None
            raise

    def wait_for_tasks(self, timeout_s: float) -> list[int]:
        ray = self.ray
        refs = list(self.pending)
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        seeds = []
        for ref in sorted(ready, key=lambda ref: self.pending[ref][0]):
            seed, run_dir = self.pending.pop(ref)
            try:
                files = ray.get(ref)
            except ray.exceptions.RayTaskError as error:
                cause = error.cause
                if isinstance(cause, DQNRefError):
                    raise DQNRefError(f"seed {seed}: {cause}") from None
                raise DQNRefError(
                    f"seed {seed} failed on its Ray worker: {type(cause).__name__}: {cause}"
                ) from None
            except ray.exceptions.RayError as error:
                reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                attempts = self.max_retries + 1
                times = "once" if attempts == 1 else f"{attempts} times"
                raise DQNRefError(
                    f"seed {seed}: its Ray worker died {times} (Ray retries a seed "
                    f"{self.max_retries} times), the last with {type(error).__name__} ({reason})"
                ) from None
            write_run_files(run_dir, files)
            seeds.append(seed)
        # The counts are read without waiting for them: the board answers within a poll or two.
        if self.board_read is None:
            self.board_read = self.board.read.remote()
        answered, _ = ray.wait([self.board_read], timeout=0)
        if answered:
            self.counts = ray.get(self.board_read)
            self.board_read = None
        return seeds

    def logged(self, seed: int, unit: str) -> int:
        return self.counts.get(seed, 0)

    def stop(self) -> None:
        """Cancel every unfinished task (ending its worker process), then disconnect."""
        for ref in self.pending:
            # A task that finished meanwhile has nothing to cancel; Ctrl-C must not stop on it.
            with contextlib.suppress(Exception):
                self.ray.cancel(ref, force=True)
        self.close()

    def close(self) -> None:
        """Disconnect; a local Ray instance this backend started is shut down with it."""
        if self.connected:
            self.ray.shutdown()
            self.connected = False

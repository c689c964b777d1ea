"""A study: the same config trained once per seed in parallel worker processes, then compared.

This is the seed paper's 10-run experiment as a command (python -m dqn_ref.run study TASK). Every
seed is an ordinary run folder, seed<S>/, written by dqn_ref.train.train; the study reads the seeds'
results back from those folders (summary.json, metrics.csv) and writes its own files beside them:
study.csv, study.md, study.json, curves.png and boxplot.png (`study --help` describes each).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import multiprocessing
import os
import re
import shlex
import shutil
import signal
import statistics
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Protocol

import gymnasium as gym
from tqdm import tqdm

from dqn_ref.atomic import atomic_write, atomic_write_json
from dqn_ref.build import resolve_device
from dqn_ref.command_line import PROG, config_from_args, folder_safe, report_failure
from dqn_ref.config import SEED_LIMIT, DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.interrupt import end_with_parent, sigterm_as_ctrl_c
from dqn_ref.metrics import read_metrics
from dqn_ref.preflight import check_run_can_start, environment_spaces
from dqn_ref.run_folder import folder_lock
from dqn_ref.solve import stable_solve_of_run
from dqn_ref.study_plots import plot_boxplot, plot_curves
from dqn_ref.study_seed import TRAIN_LOG, logged_count, train_seed
from dqn_ref.study_stats import CONFIDENCE_LEVEL, Spread

STUDY_FILES = ("study.csv", "study.md", "study.json", "curves.png", "boxplot.png")
SEED_FOLDER = re.compile(r"seed\d+")
POLL_INTERVAL_S = 0.5  # how often the progress bar reads the seeds' metrics.csv
# CartPole pays +1 per step, so an episode that lasts to the time limit returns the limit itself:
# 500 on CartPole-v1, the paper's "success".
REWARD_PER_STEP = 1.0

TABLE_COLUMNS = (
    "seed",
    "solved",  # an evaluation mean during training reached config.solved_threshold
    "steps_to_solve",  # agent steps at that first evaluation
    "seconds_to_solve",  # training wall-clock to that evaluation, evaluations included
    "train_seconds_to_solve",  # the same without evaluation time, where the run reports it
    "stable_steps_to_solve",  # agent steps at the stable solve: every later evaluation solves too
    "stable_seconds_to_solve",  # training wall-clock to that evaluation, evaluations included
    "stable_train_seconds_to_solve",  # the same without evaluation time, where the run reports it
    "success_rate",  # fraction of training episodes whose return reached the time limit's
    "episodes",  # training episodes
    "steps",  # agent steps trained
    "mean_train_return",  # mean return of the training episodes
    "best_eval",  # highest evaluation mean during training
    "final_eval",  # mean of the final evaluation
    "wall_time_s",  # training wall-clock, without the final evaluation
)


@dataclass(frozen=True)
class SeedResult:
    """One seed's row of the study table (TABLE_COLUMNS says what each field is)."""

    seed: int
    solved: bool
    steps_to_solve: int | None
    seconds_to_solve: float | None
    train_seconds_to_solve: float | None
    stable_steps_to_solve: int | None
    stable_seconds_to_solve: float | None
    stable_train_seconds_to_solve: float | None
    success_rate: float | None
    episodes: int
    steps: int
    mean_train_return: float | None
    best_eval: float | None
    final_eval: float | None
    wall_time_s: float


@dataclass(frozen=True)
class StudyAggregate:
    """The study's summary over seeds; each solve measure is over the seeds that solved so."""

    seeds: int
    solved: int
    stably_solved: int
    steps_to_solve: Spread | None
    seconds_to_solve: Spread | None
    train_seconds_to_solve: Spread | None
    stable_steps_to_solve: Spread | None
    stable_seconds_to_solve: Spread | None
    stable_train_seconds_to_solve: Spread | None
    final_eval: Spread | None
    mean_success_rate: float | None

    @classmethod
    def of(cls, results: Sequence[SeedResult]) -> StudyAggregate:
        rates = [result.success_rate for result in results if result.success_rate is not None]
        return cls(
            seeds=len(results),
            solved=sum(result.solved for result in results),
            stably_solved=sum(result.stable_steps_to_solve is not None for result in results),
            steps_to_solve=Spread.of([result.steps_to_solve for result in results]),
            seconds_to_solve=Spread.of([result.seconds_to_solve for result in results]),
            train_seconds_to_solve=Spread.of([result.train_seconds_to_solve for result in results]),
            stable_steps_to_solve=Spread.of([result.stable_steps_to_solve for result in results]),
            stable_seconds_to_solve=Spread.of(
                [result.stable_seconds_to_solve for result in results]
            ),
            stable_train_seconds_to_solve=Spread.of(
                [result.stable_train_seconds_to_solve for result in results]
            ),
            final_eval=Spread.of([result.final_eval for result in results]),
            mean_success_rate=statistics.fmean(rates) if rates else None,
        )


@dataclass(frozen=True)
class StudyResult:
    study_dir: Path
    results: list[SeedResult]
    aggregate: StudyAggregate
    return_cap: float | None


def episode_return_cap(config: DQNConfig) -> float | None:
    """The return of an episode that lasts to the time limit (500 on CartPole-v1): the config's
    max_episode_steps, or the environment's own limit when that is 0; None without a limit."""
    limit = config.max_episode_steps or gym.spec(config.env_id).max_episode_steps
    return limit * REWARD_PER_STEP if limit else None


def success_rate(rows: Sequence[dict[str, str]], return_cap: float | None) -> float | None:
    """The paper's success rate: the fraction of training episodes (kind "train" rows of
    metrics.csv) whose return reached `return_cap`; None without a cap or an episode."""
    returns = [float(row["return"]) for row in rows if row["kind"] == "train"]
    if return_cap is None or not returns:
        return None
    return sum(episode_return >= return_cap for episode_return in returns) / len(returns)


def read_seed_result(run_dir: Path, seed: int, return_cap: float | None) -> SeedResult:
    """A finished seed's row, from the summary.json and metrics.csv that train() wrote."""
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = read_metrics(run_dir / "metrics.csv")
    train_returns = [float(row["return"]) for row in rows if row["kind"] == "train"]
    eval_means = [float(row["return"]) for row in rows if row["kind"] == "eval"]
    final_eval = summary["final_eval"]
    # Runs written before the stable solve was reported lack it in summary.json; their
    # metrics.csv holds the evaluations it is read off.
    if "stable_solved_step" in summary:
        stable = (
            summary["stable_solved_step"],
            summary["stable_solved_time_s"],
            summary.get("stable_solved_train_time_s"),
        )
    else:
        threshold = json.loads((run_dir / "config.json").read_text())["config"]["solved_threshold"]
        stable = stable_solve_of_run(rows, threshold) or (None, None, None)
    return SeedResult(
        seed=seed,
        solved=summary["first_solved_step"] is not None,
        steps_to_solve=summary["first_solved_step"],
        seconds_to_solve=summary["first_solved_time_s"],
        # Reported only by runs that time their evaluations separately; older ones lack it.
        train_seconds_to_solve=summary.get("first_solved_train_time_s"),
        stable_steps_to_solve=stable[0],
        stable_seconds_to_solve=stable[1],
        stable_train_seconds_to_solve=stable[2],
        success_rate=success_rate(rows, return_cap),
        episodes=summary["episodes"],
        steps=summary["steps"],
        mean_train_return=statistics.fmean(train_returns) if train_returns else None,
        best_eval=max(eval_means) if eval_means else None,
        final_eval=final_eval["mean"] if final_eval is not None else None,
        wall_time_s=summary["wall_time_s"],
    )


def study_dir_path(out: Path | None, config: DQNConfig, preset: str) -> Path:
    """--out, or the default runs/study-<env>-<preset>-<time>; refused if it is a file."""
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"study-{folder_safe(config.env_id)}-{preset}-{stamp}"
    if out.exists() and not out.is_dir():
        raise DQNRefError(f"--out {out} is a file; give a folder path")
    return out


def prepare_study_dir(out: Path | None, config: DQNConfig, preset: str, overwrite: bool) -> Path:
    """The study folder to write: new or empty, or with --overwrite an earlier study's, whose
    study files and seed folders are removed (anything else there is left alone). Called while
    holding the folder's lock."""
    out = study_dir_path(out, config, preset)
    entries = sorted(out.iterdir()) if out.is_dir() else []
    if entries and not overwrite:
        raise DQNRefError(
            f"{out} is not empty ({entries[0].name}); pass --overwrite to replace the study "
            "there or choose another --out"
        )
    for entry in entries:
        if entry.name in STUDY_FILES:
            entry.unlink()
        elif SEED_FOLDER.fullmatch(entry.name) and entry.is_dir():
            shutil.rmtree(entry)
    out.mkdir(parents=True, exist_ok=True)
    return out


def seed_dir(study_dir: Path, seed: int) -> Path:
    return study_dir / f"seed{seed}"


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


class SeedBackend(Protocol):
    """Where a study's seeds train: worker processes here (LocalBackend) or Ray tasks
    (dqn_ref.study_ray.RayBackend). Each finished seed's run folder is in the study folder when
    `wait` reports it."""

    description: str  # where the seeds train, for the study's first line

    def submit(self, config: DQNConfig, run_dir: Path, preset_name: str) -> None:
        """Start training config.seed into run_dir (or queue it)."""

    def wait(self, timeout_s: float) -> list[int]:
        """The seeds that finished within timeout_s; a seed that failed raises DQNRefError."""
        ...

    def logged(self, seed: int, unit: str) -> int:
        """Episodes or steps (unit) that an unfinished seed has logged so far."""
        ...

    def stop(self) -> None:
        """End every unfinished seed (an error or Ctrl-C)."""

    def close(self) -> None:
        """Release the workers once every seed has finished."""


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


def run_study(
    config: DQNConfig,
    preset_name: str,
    study_dir: Path,
    seeds: Sequence[int],
    backend: SeedBackend,
    progress: bool,
    command: str,
    details: dict[str, object] | None = None,
) -> StudyResult:
    """Train `config` once per seed on `backend`, then write the study's files; `details` (the
    backend's settings) go into study.json."""
    return_cap = episode_return_cap(config)
    # The bar counts what ends a run: episodes when the config has an episode limit (the paper
    # preset's 1000 episodes end long before its step cap), agent steps otherwise.
    unit = "episode" if config.total_episodes else "step"
    per_seed_total = config.total_episodes or config.total_steps
    results: dict[int, SeedResult] = {}
    start_time = time.perf_counter()
    bar = tqdm(
        total=len(seeds) * per_seed_total,
        unit=unit,
        disable=not progress,
        dynamic_ncols=True,
        desc=f"study {config.env_id} {preset_name}",
    )
    try:
        for seed in seeds:
            backend.submit(config.replace(seed=seed), seed_dir(study_dir, seed), preset_name)
        while len(results) < len(seeds):
            for seed in backend.wait(POLL_INTERVAL_S):
                results[seed] = read_seed_result(seed_dir(study_dir, seed), seed, return_cap)
                bar.write(describe_seed(results[seed], config, return_cap))
            done = sum(
                per_seed_total if seed in results else backend.logged(seed, unit) for seed in seeds
            )
            bar.update(min(done, bar.total) - bar.n)
            solved = sum(result.solved for result in results.values())
            bar.set_postfix({"seeds done": f"{len(results)}/{len(seeds)}", "solved": solved})
    except BaseException:
        bar.close()
        backend.stop()
        raise
    bar.close()
    backend.close()

    ordered = [results[seed] for seed in seeds]
    aggregate = StudyAggregate.of(ordered)
    runs = {seed: read_metrics(seed_dir(study_dir, seed) / "metrics.csv") for seed in seeds}
    title = f"{config.env_id}, preset {preset_name}, {len(seeds)} seeds"
    write_table_csv(study_dir / "study.csv", ordered)
    write_markdown(study_dir / "study.md", ordered, aggregate, config, return_cap, title, command)
    atomic_write_json(
        study_dir / "study.json",
        {
            "command": command,
            "preset": preset_name,
            "seeds": list(seeds),
            **(details or {}),
            "wall_time_s": time.perf_counter() - start_time,
            "episode_return_cap": return_cap,
            "config": dataclasses.asdict(config),  # each seed's config.json holds its own seed
            "per_seed": [dataclasses.asdict(result) for result in ordered],
            "aggregate": dataclasses.asdict(aggregate),
        },
    )
    plot_curves(runs, study_dir / "curves.png", title, config.solved_threshold, return_cap)
    plot_boxplot(runs, study_dir / "boxplot.png", title, return_cap)
    return StudyResult(study_dir, ordered, aggregate, return_cap)


# --- text --------------------------------------------------------------------------------------


def format_number(value: float | int | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def format_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def format_iqm(spread: Spread, digits: int) -> str:
    """The IQM and its interval: "IQM 12.0 (95% CI 10.0 to 14.0)"."""
    if spread.iqm_ci_low is None or spread.iqm_ci_high is None:
        interval = "one seed, no interval"
    else:
        interval = (
            f"{CONFIDENCE_LEVEL:.0%} CI {format_number(spread.iqm_ci_low, digits)} to "
            f"{format_number(spread.iqm_ci_high, digits)}"
        )
    return f"IQM {format_number(spread.iqm, digits)} ({interval})"


def format_spread(spread: Spread, digits: int) -> str:
    return (
        f"median {format_number(spread.median, digits)}, range "
        f"{format_number(spread.min, digits)} to {format_number(spread.max, digits)}; "
        f"{format_iqm(spread, digits)}"
    )


def format_solve_spread(spread: Spread | None, digits: int, solved: str = "solved") -> str:
    if spread is None:
        return f"no seed {solved}"
    return f"{format_spread(spread, digits)}, over the {spread.count} seeds that {solved}"


def cap_label(return_cap: float | None) -> str:
    return "the time limit's return" if return_cap is None else f"{return_cap:g}"


def describe_seed(result: SeedResult, config: DQNConfig, return_cap: float | None) -> str:
    """The one line printed when a seed finishes."""
    if result.solved:
        solved = (
            f"solved (evaluation mean >= {config.solved_threshold:g}) at step "
            f"{result.steps_to_solve:,} after {format_number(result.seconds_to_solve)} s"
        )
        if result.train_seconds_to_solve is not None:
            solved += f" ({format_number(result.train_seconds_to_solve)} s training only)"
        if result.stable_steps_to_solve is None:
            solved += ", not stably (a later evaluation fell below)"
        else:
            solved += f", stably from step {result.stable_steps_to_solve:,}"
            if result.stable_train_seconds_to_solve is not None:
                solved += (
                    f" ({format_number(result.stable_train_seconds_to_solve)} s training only)"
                )
    else:
        solved = f"never solved (best evaluation {format_number(result.best_eval)})"
    return (
        f"seed {result.seed}: {solved}; final evaluation {format_number(result.final_eval)}; "
        f"{format_rate(result.success_rate)} of {result.episodes} training episodes reached "
        f"{cap_label(return_cap)}"
    )


def aggregate_lines(
    aggregate: StudyAggregate, config: DQNConfig, return_cap: float | None
) -> list[str]:
    """The study's summary, one measure a line (study.md and the terminal)."""
    lines = [
        f"solved (an evaluation mean >= {config.solved_threshold:g} during training): "
        f"{aggregate.solved} of {aggregate.seeds} seeds",
        f"agent steps to solve: {format_solve_spread(aggregate.steps_to_solve, 0)}",
        f"seconds to solve: {format_solve_spread(aggregate.seconds_to_solve, 1)}",
    ]
    if aggregate.train_seconds_to_solve is not None:
        lines.append(
            "seconds to solve, training only (evaluations excluded): "
            f"{format_solve_spread(aggregate.train_seconds_to_solve, 1)}"
        )
    lines += [
        "stably solved (from one evaluation on, every evaluation mean >= "
        f"{config.solved_threshold:g}): {aggregate.stably_solved} of {aggregate.seeds} seeds",
        "agent steps to stable solve: "
        f"{format_solve_spread(aggregate.stable_steps_to_solve, 0, 'stably solved')}",
        "seconds to stable solve: "
        f"{format_solve_spread(aggregate.stable_seconds_to_solve, 1, 'stably solved')}",
    ]
    if aggregate.stable_train_seconds_to_solve is not None:
        lines.append(
            "seconds to stable solve, training only (evaluations excluded): "
            + format_solve_spread(aggregate.stable_train_seconds_to_solve, 1, "stably solved")
        )
    if aggregate.final_eval is not None:
        lines.append(
            f"final evaluation ({config.final_eval_episodes} episodes): "
            f"{format_spread(aggregate.final_eval, 1)}"
        )
    lines.append(
        f"success rate (training episodes reaching {cap_label(return_cap)}), mean over seeds: "
        f"{format_rate(aggregate.mean_success_rate)}"
    )
    return lines


def write_table_csv(path: Path, results: Sequence[SeedResult]) -> None:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(TABLE_COLUMNS)
    for result in results:
        row = dataclasses.asdict(result)
        row["solved"] = "yes" if result.solved else "no"
        writer.writerow(["" if row[column] is None else row[column] for column in TABLE_COLUMNS])
    atomic_write(path, lambda file: file.write(text.getvalue().encode()))


def write_markdown(
    path: Path,
    results: Sequence[SeedResult],
    aggregate: StudyAggregate,
    config: DQNConfig,
    return_cap: float | None,
    title: str,
    command: str,
) -> None:
    """study.md: the per-seed table, the aggregates and the command that made them."""
    with_train_seconds = aggregate.train_seconds_to_solve is not None
    header = ["seed", "solved", "steps to solve", "seconds to solve"]
    if with_train_seconds:
        header.append("seconds to solve, training only")
    header += ["steps to stable solve", "seconds to stable solve"]
    with_stable_train_seconds = aggregate.stable_train_seconds_to_solve is not None
    if with_stable_train_seconds:
        header.append("seconds to stable solve, training only")
    header += [
        f"success rate (training episodes reaching {cap_label(return_cap)})",
        "mean training return",
        "best evaluation",
        "final evaluation",
    ]
    lines = [
        f"# Study: {title}",
        "",
        f"Command: `{command}`",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for result in results:
        cells = [
            str(result.seed),
            "yes" if result.solved else "no",
            format_number(result.steps_to_solve, 0),
            format_number(result.seconds_to_solve),
        ]
        if with_train_seconds:
            cells.append(format_number(result.train_seconds_to_solve))
        cells += [
            format_number(result.stable_steps_to_solve, 0),
            format_number(result.stable_seconds_to_solve),
        ]
        if with_stable_train_seconds:
            cells.append(format_number(result.stable_train_seconds_to_solve))
        cells += [
            format_rate(result.success_rate),
            format_number(result.mean_train_return),
            format_number(result.best_eval),
            format_number(result.final_eval),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"- {line}" for line in aggregate_lines(aggregate, config, return_cap)), ""]
    lines += [
        "A stable solve is the first evaluation from which every later evaluation mean stays at "
        "or above the threshold (spec/evaluation.md#eq-stable-solve). IQM: the mean of the "
        f"middle 50% of the seeds; its interval is a {CONFIDENCE_LEVEL:.0%} percentile bootstrap "
        "over seeds (spec/evaluation.md#eq-iqm).",
        "",
        "Each seed's run folder is seed<S>/; curves.png and boxplot.png are the study's figures.",
        "",
    ]
    text = "\n".join(lines)
    atomic_write(path, lambda file: file.write(text.encode()))


# --- command -------------------------------------------------------------------------------------


def study_main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """python -m dqn_ref.run study TASK ...: errors are one line with status 2, as for a run."""
    study_dir: Path | None = None
    try:
        if "seed" in vars(args):
            raise DQNRefError(
                "--seed sets a single run's seed; a study trains seeds --first-seed K to "
                "K + --seeds - 1"
            )
        config = config_from_args(args)
        last_seed = args.first_seed + args.seeds - 1
        if last_seed >= SEED_LIMIT:
            raise DQNRefError(
                f"--first-seed {args.first_seed} with --seeds {args.seeds} reaches seed "
                f"{last_seed}, beyond the largest, {SEED_LIMIT - 1}; lower --first-seed or --seeds"
            )
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        workers = min(args.workers or os.cpu_count() or 1, len(seeds))
        backend: SeedBackend
        if args.backend == "ray":
            from dqn_ref.study_ray import RayBackend  # a one-line error when Ray is absent

            # An environment that cannot be made fails here, once, rather than in every task;
            # the seeds' device is resolved where they train, on the cluster's workers.
            environment_spaces(config)
            device: str = config.device
            backend = RayBackend(args.address, workers, config)
            details: dict[str, object] = {
                "backend": "ray",
                "workers": workers if args.address is None else None,
                "address": args.address,
            }
        else:
            if args.address is not None:
                raise DQNRefError("--address names a Ray cluster; use it with --backend ray")
            resolved = resolve_device(config.device)
            # An environment that cannot be made fails here, once, rather than in every worker.
            check_run_can_start(config, resolved)
            device = str(resolved)
            backend = LocalBackend(workers)
            details = {"backend": "local", "workers": workers, "address": None}
        study_dir = study_dir_path(args.out, config, args.preset)
        with folder_lock(study_dir, "study"), sigterm_as_ctrl_c():
            prepare_study_dir(study_dir, config, args.preset, args.overwrite)
            limit = f"{config.total_steps} agent steps"
            if config.total_episodes:
                limit = f"{config.total_episodes} episodes (at most {limit})"
            first, last = seeds[0], seeds[-1]
            seed_range = f"seed {first}" if len(seeds) == 1 else f"seeds {first}-{last}"
            print(
                f"dqn_ref study: {args.task}, preset {args.preset}, {seed_range}, "
                f"{backend.description}, device {device}, {limit} each -> {study_dir}",
                flush=True,
            )
            result = run_study(
                config,
                args.preset,
                study_dir,
                seeds,
                backend,
                progress=not args.no_progress,
                command=shlex.join([*PROG.split(), *argv]),
                details=details,
            )
    except (DQNRefError, OSError, KeyboardInterrupt) as error:
        return report_failure(
            error,
            "study",
            study_dir,
            "the workers are stopped and what they wrote is kept",
            "(finished seeds' run folders, each unfinished seed's metrics.csv; no study tables)"
            if args.backend == "local"
            else "(finished seeds' run folders; unfinished seeds' files stay on no worker; no "
            "study tables)",
        )
    for line in aggregate_lines(result.aggregate, config, result.return_cap):
        print(line)
    print(f"study folder: {study_dir}")
    return 0

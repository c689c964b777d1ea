"""A study: the same config trained once per seed on a backend (worker processes here, or Ray
tasks), then compared.

This is the seed paper's 10-run experiment as a command (python -m dqn_ref.run study TASK). Every
seed is an ordinary run folder, seed<S>/, written by dqn_ref.training.train.train; the study reads
the seeds' results back from those folders (seed_result.py) and writes its own files beside them
(study_report.py, study_plots.py): study.csv, study.md, study.json, curves.png and boxplot.png
(`study --help` describes each).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from dqn_ref.config import DQNConfig
from dqn_ref.envs import with_env_threshold
from dqn_ref.errors import DQNRefError
from dqn_ref.studies.seed_result import (
    SeedResult,
    StudyAggregate,
    StudyResult,
    episode_return_cap,
    read_seed_result,
)
from dqn_ref.studies.study_plots import plot_boxplot, plot_curves
from dqn_ref.studies.study_report import describe_seed, write_markdown, write_table_csv
from dqn_ref.training.atomic import atomic_write_json
from dqn_ref.training.metrics import read_metrics
from dqn_ref.training.run_folder import folder_safe, output_folder

STUDY_FILES = ("study.csv", "study.md", "study.json", "curves.png", "boxplot.png")
SEED_FOLDER = re.compile(r"seed\d+")
POLL_INTERVAL_S = 0.5  # how often the progress bar reads the seeds' metrics.csv


def study_dir_path(out: Path | None, config: DQNConfig, preset: str) -> Path:
    """--out, or the default runs/study-<env>-<preset>-<time>; refused if it is a file."""
    return output_folder(out, f"study-{folder_safe(config.env_id)}-{preset}")


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


class SeedBackend(Protocol):
    """Where a study's seeds train: worker processes here (local_backend.LocalBackend) or Ray
    tasks (ray_backend.RayBackend). Each finished seed's run folder is in the study folder when
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
    config = with_env_threshold(config)  # the study's seeds, report and figures judged by it
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

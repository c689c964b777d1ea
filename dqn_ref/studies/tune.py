"""A hyperparameter search anyone can rerun: python -m dqn_ref.run tune TASK [...], on Optuna.

Each trial samples a config from the space around the preset (dqn_ref/studies/tune_space.py; fields
given as flags are held fixed and left out), trains it once per seed, and scores it by the objective
below; the study lives in an Optuna storage (an SQLite file by default), so the search can be
stopped and continued, and several processes or machines given the same --storage and
--study-name share one search (each trial's sampler is seeded by its number: tune_sampler.py).

Objective (minimised): the mean over the trial's seeds of the agent steps to a *stable* solve
(spec/evaluation.md#eq-stable-solve: the first evaluation from which every later one, to the end of
the --budget-step run, reaches solved_threshold). A seed that never stabilises, or whose final
evaluation misses the threshold, counts twice the budget. Steps, not seconds, by default: they are
the same on every machine and do not move when another process shares the CPU, so trials run on
different machines, or beside other jobs, are compared fairly; --objective seconds scores training
seconds instead (evaluations excluded), for a search on a quiet machine. Its penalty for a seed
without a stable solve is one number for the whole search (--penalty-seconds), not a multiple of
that seed's own run time, which would let a config that fails quickly beat one that solves slowly.
The mean rather than the median, so that one seed that never stabilises cannot hide behind the
others.

Pruning: after every evaluation of every seed, the trial reports an optimistic estimate of its
objective (finished seeds' scores, and for the seed in progress the earliest step its stable solve
can still come at) to a percentile pruner, which stops trials worse than three quarters of the
earlier trials at the same point. A pruned trial's run stops at once and keeps its files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.solve import stable_solve_index
from dqn_ref.studies.tune_space import Dimension, preset_params, sample_config
from dqn_ref.studies.tune_stale import PROCESS_ATTR, process_record
from dqn_ref.training.interrupt import TrainingInterruptedError
from dqn_ref.training.metrics import read_metrics

if TYPE_CHECKING:
    import optuna


INSTALL_HINT = "tune needs optuna: pip install 'dqn_ref[tune]' (or pip install optuna)"
PENALTY_FACTOR = 2.0  # a seed that never stabilises scores this many times the budget
# --objective seconds: the default penalty is PENALTY_FACTOR x the budget's time at this rate,
# slower than any CartPole config runs on a 2-core CPU; slower tasks (Pong on a CPU) need
# --penalty-seconds.
PENALTY_STEPS_PER_S = 250.0
PRUNE_PERCENTILE = 75.0  # prune a trial worse than this percentile of earlier trials
PRUNE_STARTUP_TRIALS = 4  # trials finished before any pruning
PRUNE_WARMUP_EVALUATIONS = 5  # no pruning in a trial's first evaluations: every trial fails them


@dataclass(frozen=True)
class SeedScore:
    """One seed of one trial: its stable solve (step and training seconds) or None, its final
    evaluation, and the score the objective counts."""

    seed: int
    stable_step: int | None
    stable_train_s: float | None
    final_eval: float | None
    train_s: float
    score: float


def eval_rows(run_dir: Path) -> list[dict[str, str]]:
    path = run_dir / "metrics.csv"
    return [row for row in read_metrics(path) if row["kind"] == "eval"] if path.exists() else []


def nominal_step(index: int, config: DQNConfig) -> float:
    """Evaluation `index` (0-based) falls due after (index + 1) x eval_interval agent steps; it runs
    up to num_envs - 1 steps later, when the lockstep step crosses that line. Scores count the
    nominal step, so that configs solving at the same evaluation tie whatever their num_envs."""
    return float((index + 1) * config.eval_interval)


def score_seed(
    run_dir: Path, seed: int, config: DQNConfig, objective: str, penalty_seconds: float
) -> SeedScore:
    """A finished seed's score from its metrics.csv: steps (or training seconds) to the stable
    solve; without one, PENALTY_FACTOR times the budget (or penalty_seconds)."""
    rows = read_metrics(run_dir / "metrics.csv")
    evals = [row for row in rows if row["kind"] == "eval"]
    finals = [float(row["return"]) for row in rows if row["kind"] == "final"]
    final_eval = finals[-1] if finals else None
    summary = json.loads((run_dir / "summary.json").read_text())
    train_s = summary["wall_time_s"] - summary["eval_time_s"]
    threshold = required_threshold(config)
    index = stable_solve_index([float(row["return"]) for row in evals], threshold)
    stable = index is not None and (final_eval is None or final_eval >= threshold)
    stable_step = int(evals[index]["step"]) if stable and index is not None else None
    stable_train_s = float(evals[index]["train_time_s"]) if stable and index is not None else None
    if objective == "steps":
        score = (
            nominal_step(index, config)
            if stable and index is not None
            else PENALTY_FACTOR * config.total_steps
        )
    else:
        score = stable_train_s if stable_train_s is not None else penalty_seconds
    return SeedScore(seed, stable_step, stable_train_s, final_eval, train_s, score)


def required_threshold(config: DQNConfig) -> float:
    """The solved threshold the search scores by; a config without one cannot be tuned."""
    if config.solved_threshold is None:
        raise DQNRefError(
            f"tune scores the time to a stable solve, but {config.env_id}'s gymnasium spec "
            "gives no reward threshold; state one with --solved-threshold X"
        )
    return config.solved_threshold


def optimistic_bound(rows: Sequence[dict[str, str]], config: DQNConfig, objective: str) -> float:
    """The best score the seed in progress can still reach, from its evaluations so far: the
    current run of evaluations at or above the threshold if it holds to the end, else the next
    evaluation (for seconds: the time at the last evaluation)."""
    means = [float(row["return"]) for row in rows]
    index = stable_solve_index(means, required_threshold(config))
    if objective == "steps":
        return nominal_step(len(rows) if index is None else index, config)
    return float(rows[-1 if index is None else index]["train_time_s"])


class PruneCheck:
    """The training loop's stop check (dqn_ref.training.interrupt.StopCheck): after each new
    evaluation, report the trial's optimistic objective to Optuna and stop the run when the
    pruner says so."""

    signal_number: int | None = None

    def __init__(
        self,
        trial: optuna.Trial,
        run_dir: Path,
        config: DQNConfig,
        objective: str,
        done_scores: Sequence[float],
        first_report_step: int,
    ):
        self.trial = trial
        self.run_dir = run_dir
        self.config = config
        self.objective = objective
        self.done_scores = list(done_scores)
        self.first_report_step = first_report_step
        self.next_check = config.eval_interval
        self.reported = 0
        self.pruned = False

    def should_stop(self, step: int) -> bool:
        if not self.config.eval_interval or step < self.next_check:
            return False
        while self.next_check <= step:
            self.next_check += self.config.eval_interval
        rows = eval_rows(self.run_dir)
        if len(rows) <= self.reported:
            return False
        self.reported = len(rows)
        bound = optimistic_bound(rows, self.config, self.objective)
        value = statistics.fmean([*self.done_scores, bound])
        self.trial.report(value, self.first_report_step + len(rows) - 1)
        self.pruned = self.trial.should_prune()
        return self.pruned


@dataclass(frozen=True)
class TuneSettings:
    """What the tune command was asked for, beyond the base config."""

    seeds: list[int]
    objective: str
    penalty_seconds: float  # --objective seconds: the score of a seed without a stable solve
    prune: bool
    space: Mapping[str, Dimension]  # tune_space.search_space: what each trial samples
    out: Path


def run_trial(
    trial: optuna.Trial, base: DQNConfig, preset_name: str, settings: TuneSettings
) -> float:
    """Train the trial's config on every seed and return its objective; TrialPruned when the
    pruner stops it."""
    import optuna

    from dqn_ref.training.train import train

    # Who trains it, so that a search continued after this process is killed can tell that the
    # trial was abandoned (tune_stale.py).
    trial.set_user_attr(PROCESS_ATTR, process_record())
    config = sample_config(trial, base, settings.space)
    evals_per_seed = (
        max(1, config.total_steps // config.eval_interval) if config.eval_interval else 1
    )
    scores: list[SeedScore] = []
    for number, seed in enumerate(settings.seeds):
        run_dir = settings.out / f"trial{trial.number}" / f"seed{seed}"
        run_dir.mkdir(parents=True, exist_ok=True)
        check = PruneCheck(
            trial,
            run_dir,
            config,
            settings.objective,
            [score.score for score in scores],
            number * evals_per_seed,
        )
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                train(
                    config.replace(seed=seed),
                    run_dir,
                    preset_name,
                    progress=False,
                    stop=check if settings.prune else None,
                )
        except TrainingInterruptedError:
            (run_dir / "train.log").write_text(log.getvalue())
            if not check.pruned:
                raise
            trial.set_user_attr("pruned_at", f"seed {seed}, step {check.next_check}")
            raise optuna.TrialPruned() from None
        except BaseException:
            # The error that ended the run is the one to report, not a log that the same full
            # disk refuses too.
            with contextlib.suppress(OSError):
                (run_dir / "train.log").write_text(log.getvalue())
            raise
        (run_dir / "train.log").write_text(log.getvalue())
        scores.append(
            score_seed(
                run_dir,
                seed,
                config.replace(seed=seed),
                settings.objective,
                settings.penalty_seconds,
            )
        )
    trial.set_user_attr("seeds", [dataclasses.asdict(score) for score in scores])
    trial.set_user_attr("process", os.getpid())  # which of --workers trained it
    return statistics.fmean(score.score for score in scores)


def run_search(
    study: optuna.Study,
    base: DQNConfig,
    preset_name: str,
    settings: TuneSettings,
    trials: int,
    timeout_s: float | None,
    on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None],
) -> None:
    """Run `trials` more trials of `study` (none started after `timeout_s`), the preset itself
    first in a new study: the baseline every later trial is scored by. `on_trial` hears of each
    trial as it ends."""
    import optuna
    import sqlalchemy.exc

    enqueue_preset(study, base, settings)
    try:
        study.optimize(
            lambda trial: run_trial(trial, base, preset_name, settings),
            n_trials=trials,
            timeout=timeout_s,
            callbacks=[on_trial],
        )
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
        raise DQNRefError(
            f"the search's storage failed: {first_line(error)}; the trials it recorded before "
            "are kept: once the database (or the disk it is on) is fixed, rerun the command "
            "to continue"
        ) from None


def enqueue_preset(study: optuna.Study, base: DQNConfig, settings: TuneSettings) -> None:
    """In a new search, queue the preset itself as the first trial: the baseline every later
    trial is scored by."""
    if not study.trials:
        study.enqueue_trial(preset_params(base, settings.space))


def first_line(error: BaseException) -> str:
    """An error's reason without the SQL statement and links SQLAlchemy appends."""
    original = getattr(error, "orig", None)  # the database driver's own error, if any
    text = str(original if original is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__

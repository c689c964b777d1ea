"""A hyperparameter search anyone can rerun: python -m dqn_ref.run tune TASK [...], on Optuna.

Each trial samples a config from SEARCH_SPACE (fields given as flags are held fixed and left out),
trains it once per seed, and scores it by the objective below; the study lives in an Optuna
storage (an SQLite file by default), so the search can be stopped and continued, and several
processes or machines given the same --storage and --study-name share one search.

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

import argparse
import contextlib
import csv
import dataclasses
import io
import json
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dqn_ref.atomic import atomic_write, atomic_write_json
from dqn_ref.command_line import PROG, config_from_args, report_failure
from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.interrupt import TrainingInterruptedError
from dqn_ref.metrics import read_metrics
from dqn_ref.solve import stable_solve_index

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
TUNE_FILES = ("tune.md", "tune.csv", "tune.json")
BEST_SHOWN = 10  # trials in the printed table


def hidden_choice(text: str) -> tuple[int, ...]:
    return tuple(int(width) for width in text.split("x"))


# The search space: field -> a function of the trial that samples it. Categorical choices are
# strings or plain numbers so that any storage can hold them; hidden_sizes is written "256x256".
SEARCH_SPACE: dict[str, Callable[[optuna.Trial], Any]] = {
    "learning_rate": lambda t: t.suggest_float("learning_rate", 1e-4, 3e-3, log=True),
    # eq-lr-linear: constant, or decayed to 0 at the end of the --budget-step run.
    "learning_rate_end": lambda t: t.suggest_categorical("learning_rate_end", [None, 0.0]),
    "hidden_sizes": lambda t: hidden_choice(
        t.suggest_categorical("hidden_sizes", ["64x64", "128x128", "256x256"])
    ),
    "batch_size": lambda t: t.suggest_categorical("batch_size", [32, 64, 128]),
    "train_frequency": lambda t: t.suggest_categorical("train_frequency", [1, 2, 4, 8]),
    "num_envs": lambda t: t.suggest_categorical("num_envs", [1, 4, 8]),
    "n_step": lambda t: t.suggest_categorical("n_step", [1, 3, 5]),
    "double_q": lambda t: t.suggest_categorical("double_q", [False, True]),
    "dueling": lambda t: t.suggest_categorical("dueling", [False, True]),
    "layer_norm": lambda t: t.suggest_categorical("layer_norm", [False, True]),
    "loss": lambda t: t.suggest_categorical("loss", ["huber", "mse"]),
    "gamma": lambda t: t.suggest_categorical("gamma", [0.98, 0.99, 0.995]),
    "tau": lambda t: t.suggest_float("tau", 0.002, 0.1, log=True),
    "learning_starts": lambda t: t.suggest_categorical("learning_starts", [500, 1000, 2000]),
    "epsilon_duration": lambda t: t.suggest_int("epsilon_duration", 1000, 10000, step=1000),
    "epsilon_end": lambda t: t.suggest_categorical("epsilon_end", [0.01, 0.05]),
}


def preset_params(config: DQNConfig, fields: Sequence[str]) -> dict[str, Any]:
    """The preset's own values in the search space's terms, to enqueue as the first trial."""
    params: dict[str, Any] = {}
    for name in fields:
        value = getattr(config, name)
        params[name] = "x".join(str(width) for width in value) if name == "hidden_sizes" else value
    return params


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
    index = stable_solve_index([float(row["return"]) for row in evals], config.solved_threshold)
    stable = index is not None and (final_eval is None or final_eval >= config.solved_threshold)
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


def optimistic_bound(rows: Sequence[dict[str, str]], config: DQNConfig, objective: str) -> float:
    """The best score the seed in progress can still reach, from its evaluations so far: the
    current run of evaluations at or above the threshold if it holds to the end, else the next
    evaluation (for seconds: the time at the last evaluation)."""
    means = [float(row["return"]) for row in rows]
    index = stable_solve_index(means, config.solved_threshold)
    if objective == "steps":
        return nominal_step(len(rows) if index is None else index, config)
    return float(rows[-1 if index is None else index]["train_time_s"])


class PruneCheck:
    """The training loop's stop check (dqn_ref.interrupt.StopCheck): after each new evaluation,
    report the trial's optimistic objective to Optuna and stop the run when the pruner says so."""

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
    fixed: frozenset[str]  # config fields given as flags: held fixed, not searched
    out: Path


def trial_config(trial: optuna.Trial, base: DQNConfig, fixed: frozenset[str]) -> DQNConfig:
    sampled = {name: suggest(trial) for name, suggest in SEARCH_SPACE.items() if name not in fixed}
    return base.replace(**sampled)


def run_trial(
    trial: optuna.Trial, base: DQNConfig, preset_name: str, settings: TuneSettings
) -> float:
    """Train the trial's config on every seed and return its objective; TrialPruned when the
    pruner stops it."""
    import optuna

    from dqn_ref.train import train

    config = trial_config(trial, base, settings.fixed)
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
            if not check.pruned:
                raise
            trial.set_user_attr("pruned_at", f"seed {seed}, step {check.next_check}")
            raise optuna.TrialPruned() from None
        finally:
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
    return statistics.fmean(score.score for score in scores)


# --- report -------------------------------------------------------------------------------------

REPORT_COLUMNS = ("trial", "objective", "stable", "median stable step", "median stable s", "params")


def trial_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    seeds = trial.user_attrs.get("seeds", [])
    steps = [s["stable_step"] for s in seeds if s["stable_step"] is not None]
    seconds = [s["stable_train_s"] for s in seeds if s["stable_train_s"] is not None]
    return {
        "trial": trial.number,
        "objective": trial.value,
        "stable": f"{len(steps)} of {len(seeds)}",
        "median stable step": statistics.median(steps) if steps else None,
        "median stable s": statistics.median(seconds) if seconds else None,
        "params": trial.params,
    }


def flags_of(params: dict[str, Any]) -> str:
    """A trial's parameters as the flags that reproduce it: --learning-rate 0.001 --dueling ..."""
    flags = []
    for name, value in sorted(params.items()):
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{name.replace('_', '-')}")
        elif name == "hidden_sizes":
            flags.append(f"{flag} {value.replace('x', ',')}")
        else:
            flags.append(f"{flag} {value}")
    return " ".join(flags)


def cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.{digits}f}"
    return str(value)


def write_report(study: optuna.Study, settings: TuneSettings, command: str, task: str) -> str:
    """tune.md (best trials and how to rerun them), tune.csv and tune.json in --out; returns the
    table printed at the end."""
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    best = sorted(complete, key=lambda t: t.value if t.value is not None else float("inf"))
    rows = [trial_row(trial) for trial in best]
    header = "| " + " | ".join(REPORT_COLUMNS) + " |"
    table = [header, "|" + " --- |" * len(REPORT_COLUMNS)]
    for row in rows[:BEST_SHOWN]:
        cells = [
            cell(row[column], 0 if column in ("trial", "median stable step") else 1)
            for column in REPORT_COLUMNS[:-1]
        ]
        table.append("| " + " | ".join([*cells, f"`{flags_of(row['params'])}`"]) + " |")
    unit = "agent steps" if settings.objective == "steps" else "training seconds"
    penalty = (
        f"x{PENALTY_FACTOR:g} the budget"
        if settings.objective == "steps"
        else f"{settings.penalty_seconds:g} s"
    )
    seeds = f"seeds {settings.seeds[0]}-{settings.seeds[-1]}"
    summary = (
        f"{len(study.trials)} trials in study {study.study_name!r}: {len(complete)} complete, "
        f"{pruned} pruned; objective: mean {unit} to a stable solve over {seeds} "
        f"({penalty} for a seed without one), lower is better"
    )
    lines = [f"# Tune: {study.study_name}", "", f"Command: `{command}`", "", summary, "", *table]
    if best:
        lines += [
            "",
            "Rerun the best trial on ten seeds:",
            "",
            f"    {PROG} study {task} --seeds 10 {flags_of(best[0].params)}",
        ]
    text = "\n".join(lines) + "\n"
    atomic_write(settings.out / "tune.md", lambda file: file.write(text.encode()))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*REPORT_COLUMNS[:-1], *SEARCH_SPACE])
    for row in rows:
        cells = [row[column] for column in REPORT_COLUMNS[:-1]]
        writer.writerow([*cells, *(row["params"].get(name, "") for name in SEARCH_SPACE)])
    atomic_write(settings.out / "tune.csv", lambda file: file.write(buffer.getvalue().encode()))
    atomic_write_json(
        settings.out / "tune.json",
        {
            "command": command,
            "study_name": study.study_name,
            "objective": settings.objective,
            "seeds": settings.seeds,
            "trials": [
                {
                    "number": t.number,
                    "state": t.state.name,
                    "value": t.value,
                    "params": t.params,
                    "user_attrs": t.user_attrs,
                }
                for t in study.trials
            ],
        },
    )
    return "\n".join([summary, "", *table])


# --- command ------------------------------------------------------------------------------------


def add_tune_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tune")
    group.add_argument(
        "--trials", type=int, default=20, metavar="N", help="trials this process runs (default 20)"
    )
    group.add_argument(
        "--seeds",
        type=int,
        default=3,
        metavar="K",
        help="seeds each trial trains, one after another (default 3)",
    )
    group.add_argument(
        "--first-seed",
        type=int,
        default=100,
        metavar="S",
        help="trials train seeds S..S+K-1 (default 100: apart from the 0-9 a study reports)",
    )
    group.add_argument(
        "--budget",
        type=int,
        default=None,
        metavar="STEPS",
        help="agent steps per seed (default: the preset's total_steps); stability is judged "
        "to the end of this run",
    )
    group.add_argument(
        "--objective",
        choices=("steps", "seconds"),
        default="steps",
        help="what a stable solve costs: agent steps (default; machine-independent) or training "
        "seconds (evaluations excluded; for a quiet machine)",
    )
    group.add_argument(
        "--penalty-seconds",
        type=float,
        default=None,
        metavar="S",
        help="--objective seconds: what a seed without a stable solve scores, the same for "
        f"every trial (default: {PENALTY_FACTOR:g} x the budget at {PENALTY_STEPS_PER_S:g} "
        "agent steps/s; raise it for slow tasks)",
    )
    group.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="Optuna storage shared by every process of the search, e.g. sqlite:///tune.db or "
        "postgresql://host/db (default: sqlite:///OUT/study.db)",
    )
    group.add_argument(
        "--study-name",
        default=None,
        metavar="NAME",
        help="the search to create or continue in --storage (default: TASK-PRESET-OBJECTIVE)",
    )
    group.add_argument(
        "--sampler-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the TPE sampler (default 0); with one process the search is repeatable",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="start no trial after this many seconds (default: none; --trials alone ends it)",
    )
    group.add_argument(
        "--no-pruning", action="store_true", help="train every seed of every trial to the end"
    )


def tune_main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """python -m dqn_ref.run tune TASK ...: one-line errors with status 2, as for a run."""
    try:
        import optuna
    except ImportError:
        print(f"dqn_ref: error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    out: Path | None = None
    try:
        if "seed" in vars(args):
            raise DQNRefError("--seed sets a single run's seed; tune trains --first-seed S..S+K-1")
        if args.trials < 1 or args.seeds < 1:
            raise DQNRefError("--trials and --seeds must be at least 1")
        config = config_from_args(args)
        if args.budget is not None:
            config = config.replace(total_steps=args.budget)
        penalty_seconds = args.penalty_seconds
        if penalty_seconds is None:
            penalty_seconds = PENALTY_FACTOR * config.total_steps / PENALTY_STEPS_PER_S
        elif not 0 < penalty_seconds < float("inf"):
            raise DQNRefError(f"--penalty-seconds {penalty_seconds} must be a positive number")
        fixed = frozenset(
            name for name in vars(args) if name in {f.name for f in dataclasses.fields(DQNConfig)}
        )
        name = args.study_name or f"{args.task}-{args.preset}-{args.objective}"
        out = args.out or Path("runs") / f"tune-{name}"
        out.mkdir(parents=True, exist_ok=True)
        storage = args.storage or f"sqlite:///{out / 'study.db'}"
        settings = TuneSettings(
            seeds=list(range(args.first_seed, args.first_seed + args.seeds)),
            objective=args.objective,
            penalty_seconds=penalty_seconds,
            prune=not args.no_pruning,
            fixed=fixed,
            out=out,
        )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction="minimize",
            load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=args.sampler_seed),
            pruner=optuna.pruners.PercentilePruner(
                PRUNE_PERCENTILE,
                n_startup_trials=PRUNE_STARTUP_TRIALS,
                n_warmup_steps=PRUNE_WARMUP_EVALUATIONS,
            ),
        )
        searched = [field for field in SEARCH_SPACE if field not in fixed]
        if not study.trials:
            # The preset itself is the first trial: the baseline every later trial is scored by.
            study.enqueue_trial(preset_params(config, searched))
        command = shlex.join([*PROG.split(), *argv])
        print(
            f"dqn_ref tune: {args.task}, preset {args.preset}, study {name!r} in {storage}; "
            f"{args.trials} trials of seeds {settings.seeds[0]}-{settings.seeds[-1]}, "
            f"{config.total_steps} agent steps each; searching {', '.join(searched)} -> {out}",
            flush=True,
        )

        def report_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            result = (
                f"objective {trial.value:,.1f}"
                if trial.state == optuna.trial.TrialState.COMPLETE and trial.value is not None
                else trial.state.name.lower()
            )
            print(
                f"trial {trial.number}: {result} ({trial.user_attrs.get('pruned_at', '')}) "
                f"{flags_of(trial.params)}".replace(" () ", " "),
                flush=True,
            )

        start = time.perf_counter()
        study.optimize(
            lambda trial: run_trial(trial, config, args.preset, settings),
            n_trials=args.trials,
            timeout=args.timeout,
            callbacks=[report_trial],
        )
        table = write_report(study, settings, command, args.task)
    except (DQNRefError, OSError, KeyboardInterrupt) as error:
        return report_failure(
            error,
            "tune",
            out,
            "the study keeps its finished trials",
            "(rerun the same command to continue it)",
        )
    print()
    print(table)
    print(f"tune folder: {out} ({time.perf_counter() - start:.0f} s)")
    return 0

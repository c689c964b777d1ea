"""python -m dqn_ref.run tune TASK: its flags, and the command that runs an Optuna search and prints
its best trials (the search itself: dqn_ref/studies/tune.py)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dqn_ref.config import MAX_TORCH_THREADS, SEED_LIMIT, DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.run.failure import report_failure
from dqn_ref.run.flags import PROG, add_per_task_command, config_from_args, int_at_least
from dqn_ref.run.study_command import MAX_STUDY_SEEDS
from dqn_ref.studies.tune import (
    INSTALL_HINT,
    PENALTY_FACTOR,
    PENALTY_STEPS_PER_S,
    TuneSettings,
    required_threshold,
    run_search,
)
from dqn_ref.studies.tune_report import flags_of, worst_seed, write_report
from dqn_ref.studies.tune_space import search_space
from dqn_ref.studies.tune_stale import fail_abandoned_trials
from dqn_ref.studies.tune_storage import check_same_space, open_search, shown_storage

if TYPE_CHECKING:
    import optuna


TUNE_HELP = "search hyperparameters with Optuna for the fastest stable solve (needs dqn_ref[tune])"
TUNE_DESCRIPTION = """\
Search the task's hyperparameters with Optuna (pip install 'dqn_ref[tune]'). The first trial is the
preset itself; each later one samples a config from a space built around it (flags you give are
held fixed and not searched), trains it on --seeds seeds, and scores it by the mean agent steps to
a stable solve (spec/evaluation.md#eq-stable-solve; a seed without one scores twice the budget);
hopeless trials are pruned after any evaluation. The study is kept in --storage, so rerunning the
command continues it with new trials, and processes or machines given the same --storage and
--study-name search together (--workers N starts N such processes here). Each trial's worst seed is
reported beside its score. dqn_ref/studies/tune.py states the objective,
dqn_ref/studies/tune_space.py the search space; docs/cartpole-search.md reports a search.

examples:
  python -m dqn_ref.run tune cartpole --trials 30 --budget 20000
  python -m dqn_ref.run tune cartpole --storage sqlite:///tune.db --study-name cp  # in 2 shells
  python -m dqn_ref.run tune cartpole --layer-norm --trials 10   # layer_norm fixed, rest searched
  python -m dqn_ref.run tune pong --device cuda --budget 500000  # the pong preset's space

A search writes runs/tune-<study>/ (or --out): study.db (the default storage), trial<N>/seed<S>/
(each trial's run folders), and tune.md, tune.csv and tune.json: the best trials, their per-seed
results and the study command that reruns the best one on ten seeds."""


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0, or a one-line usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive, finite number of seconds")
    return value


def add_tune_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tune")
    group.add_argument(
        "--trials",
        type=int_at_least(1),
        default=20,
        metavar="N",
        help="trials this command runs, over its --workers (default 20)",
    )
    group.add_argument(
        "--workers",
        type=int_at_least(1, MAX_TORCH_THREADS),
        default=1,
        metavar="N",
        help="trials trained at once, one process each, sharing the search's --storage "
        "(default 1); each process uses --torch-threads threads",
    )
    group.add_argument(
        "--seeds",
        type=int_at_least(1, MAX_STUDY_SEEDS),
        default=8,
        metavar="K",
        help="seeds each trial trains, one after another (default 8: one seed in eight that "
        "never stabilises moves the objective by a quarter of the budget, so a config that holds "
        "on 8 of 8 is told from one that fails 1 in 10)",
    )
    group.add_argument(
        "--first-seed",
        type=int_at_least(0, SEED_LIMIT - 1),
        default=100,
        metavar="S",
        help="trials train seeds S..S+K-1 (default 100: apart from the 0-9 a study reports)",
    )
    group.add_argument(
        "--budget",
        type=int_at_least(1),
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
        type=positive_seconds,
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
        type=int_at_least(0),
        default=0,
        metavar="N",
        help="seed of the TPE sampler (default 0), mixed with each trial's number: a search run "
        "in one process is repeatable, and one continued or shared by other processes samples "
        "new trials",
    )
    group.add_argument(
        "--timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="start no trial after this many seconds (default: none; --trials alone ends it)",
    )
    group.add_argument(
        "--no-pruning", action="store_true", help="train every seed of every trial to the end"
    )


def add_tune_command(commands: Any) -> None:
    """tune TASK: the Optuna search (dqn_ref/studies/tune.py), with the task's flags and its own."""
    add_per_task_command(
        commands,
        "tune",
        TUNE_HELP,
        TUNE_DESCRIPTION,
        f"{PROG} tune TASK [--trials N] [--seeds K] [--budget STEPS] [--storage URL] "
        "[--study-name NAME] [--FIELD VALUE ...]",
        "[--trials N] [--seeds K] [--first-seed S] [--budget STEPS] [--objective steps|seconds] "
        "[--storage URL] [--study-name NAME] [--preset NAME] [--out DIR] [--FIELD VALUE ...]",
        "a search for",
        add_tune_flags,
        "runs/tune-<study>",
        "each trial's result is still printed",
    )


def print_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """The line each finished trial prints: its objective (or how it ended), its worst seed and
    the flags that reproduce it. Module-level, so that a worker process can run it."""
    import optuna

    result = (
        f"objective {trial.value:,.1f}"
        if trial.state == optuna.trial.TrialState.COMPLETE and trial.value is not None
        else trial.state.name.lower()
    )
    worst = worst_seed(trial.user_attrs.get("seeds", []))
    details = [trial.user_attrs.get("pruned_at", ""), f"worst seed {worst}" if worst else ""]
    shown = "; ".join(detail for detail in details if detail)
    print(
        f"trial {trial.number}: {result}{f' ({shown})' if shown else ''} {flags_of(trial.params)}",
        flush=True,
    )


def tune_main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """python -m dqn_ref.run tune TASK ...: one-line errors with status 2, as for a run."""
    try:
        import optuna  # noqa: F401 - its absence is a one-line error here, not in a trial
    except ImportError:
        print(f"dqn_ref: error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    out: Path | None = None
    try:
        from dqn_ref.training.interrupt import sigterm_as_ctrl_c

        # Every flag is checked before anything is opened or written.
        if "seed" in vars(args):
            raise DQNRefError("--seed sets a single run's seed; tune trains --first-seed S..S+K-1")
        last_seed = args.first_seed + args.seeds - 1
        if last_seed >= SEED_LIMIT:
            raise DQNRefError(
                f"--first-seed {args.first_seed} with --seeds {args.seeds} reaches seed "
                f"{last_seed}, beyond the largest, {SEED_LIMIT - 1}; lower --first-seed or --seeds"
            )
        config = config_from_args(args)
        required_threshold(config)  # refused now, in one line, rather than after a trial
        if args.budget is not None:
            config = config.replace(total_steps=args.budget)
        # Before the folder is made (torch loads here, not for --help); trial 0 is this config.
        from dqn_ref.training.preflight import check_can_run_here

        check_can_run_here(config)
        penalty_seconds = args.penalty_seconds
        if penalty_seconds is None:
            penalty_seconds = PENALTY_FACTOR * config.total_steps / PENALTY_STEPS_PER_S
        fixed = frozenset(
            name for name in vars(args) if name in {f.name for f in dataclasses.fields(DQNConfig)}
        )
        space = search_space(config, fixed)
        name = args.study_name or f"{args.task}-{args.preset}-{args.objective}"
        out = args.out or Path("runs") / f"tune-{name}"
        if out.exists() and not out.is_dir():
            raise DQNRefError(f"--out {out} is a file; give a folder path")
        settings = TuneSettings(
            seeds=list(range(args.first_seed, args.first_seed + args.seeds)),
            objective=args.objective,
            penalty_seconds=penalty_seconds,
            prune=not args.no_pruning,
            space=space,
            out=out,
        )
        # A storage given is opened and checked before the folder is made, so that a bad one
        # writes nothing; the default storage lives in the folder.
        storage = args.storage or f"sqlite:///{out / 'study.db'}"
        if args.storage:
            study = open_search(name, storage, args.sampler_seed)
            check_same_space(study, space)
        out.mkdir(parents=True, exist_ok=True)
        if not args.storage:
            study = open_search(name, storage, args.sampler_seed)
            check_same_space(study, space)
        fail_abandoned_trials(study)  # a killed search's trials, left RUNNING
        command = shlex.join([*PROG.split(), *argv])
        print(
            f"dqn_ref tune: {args.task}, preset {args.preset}, study {name!r} in "
            f"{shown_storage(storage)}; {args.trials} trials of seeds {settings.seeds[0]}-"
            f"{settings.seeds[-1]}, {config.total_steps} agent steps each; searching "
            f"{', '.join(space) or 'nothing (every field is fixed)'} -> {out}",
            flush=True,
        )

        start = time.perf_counter()
        with sigterm_as_ctrl_c():
            if args.workers == 1:
                run_search(
                    study, config, args.preset, settings, args.trials, args.timeout, print_trial
                )
            else:
                # Imported here: the worker pool loads torch, which --help need not wait for.
                from dqn_ref.studies.tune_workers import search_in_workers

                search_in_workers(
                    study,
                    storage,
                    args.sampler_seed,
                    config,
                    args.preset,
                    settings,
                    args.trials,
                    args.timeout,
                    args.workers,
                    print_trial,
                )
        table = write_report(study, settings, command, f"{PROG} study {args.task}")
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

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

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.run.failure import report_failure
from dqn_ref.run.flags import PROG, add_per_task_command, config_from_args
from dqn_ref.studies.tune import (
    INSTALL_HINT,
    PENALTY_FACTOR,
    PENALTY_STEPS_PER_S,
    TuneSettings,
    open_search,
    required_threshold,
    run_search,
)
from dqn_ref.studies.tune_report import flags_of, write_report
from dqn_ref.studies.tune_space import SEARCH_SPACE

if TYPE_CHECKING:
    import optuna


TUNE_HELP = "search hyperparameters with Optuna for the fastest stable solve (needs dqn_ref[tune])"
TUNE_DESCRIPTION = """\
Search the task's hyperparameters with Optuna (pip install 'dqn_ref[tune]'). Each trial samples a
config around the preset (flags you give are held fixed and not searched), trains it on --seeds
seeds, and scores it by the mean agent steps to a stable solve (spec/evaluation.md#eq-stable-solve;
a seed without one scores twice the budget); hopeless trials are pruned after any evaluation. The
study is kept in --storage, so rerunning the command continues it, and processes or machines given
the same --storage and --study-name search together. dqn_ref/studies/tune.py states the objective,
dqn_ref/studies/tune_space.py the search space; docs/cartpole-search.md reports a search.

examples:
  python -m dqn_ref.run tune cartpole --trials 30 --budget 20000
  python -m dqn_ref.run tune cartpole --storage sqlite:///tune.db --study-name cp  # in 2 shells
  python -m dqn_ref.run tune cartpole --layer-norm --trials 10   # layer_norm fixed, rest searched

A search writes runs/tune-<study>/ (or --out): study.db (the default storage), trial<N>/seed<S>/
(each trial's run folders), and tune.md, tune.csv and tune.json: the best trials, their per-seed
results and the study command that reruns the best one on ten seeds."""


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
        required_threshold(config)  # refused now, in one line, rather than after a trial
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
        study = open_search(name, storage, args.sampler_seed)
        searched = [field for field in SEARCH_SPACE if field not in fixed]
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
        run_search(study, config, args.preset, settings, args.trials, args.timeout, report_trial)
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

"""python -m dqn_ref.run study TASK: its flags, and the command that trains one run per seed and
prints the comparison (the study itself: dqn_ref/studies/study.py)."""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dqn_ref.config import SEED_LIMIT
from dqn_ref.errors import DQNRefError
from dqn_ref.run.failure import report_failure
from dqn_ref.run.flags import PROG, add_per_task_command, config_from_args, int_at_least
from dqn_ref.studies.ray_address import CONNECT_TIMEOUT_S
from dqn_ref.training.run_folder import folder_lock
from dqn_ref.training.wording import count

if TYPE_CHECKING:
    from dqn_ref.studies.study import SeedBackend


# A study holds every seed's row, curve and box in its tables and figures; ten thousand is far
# beyond any study's need and keeps a mistyped --seeds from queueing a billion runs.
MAX_STUDY_SEEDS = 10_000
STUDY_HELP = "train one run per seed in parallel and compare them (the seed paper's 10-run study)"
STUDY_DESCRIPTION = """\
Train the same config once per seed, several seeds at a time in worker processes (or as Ray
tasks on a cluster), and compare the seeds: the replication paper's 10-run experiment as one
command. One progress bar follows all seeds; each seed's result is printed as it finishes. Flags
are those of the task (its presets and config fields), plus the study's below.

examples:
  python -m dqn_ref.run study cartpole --seeds 10                  # the default preset
  python -m dqn_ref.run study cartpole --seeds 10 --preset paper   # the paper's settings
  python -m dqn_ref.run study cartpole --seeds 4 --steps 20000 --workers 2
  python -m dqn_ref.run study pong --seeds 5 --device cuda --backend ray --address HEAD:6379

A study writes runs/study-<env>-<preset>-<time>/ (or --out):
  seed<S>/     each seed's run folder (what a single run writes, plus train.log: its output)
  study.csv    one row per seed: solved or not (an evaluation mean reached the solved
               threshold), agent steps and seconds to that first solve and to the stable one
               (every later evaluation solves too), success rate (the fraction of training
               episodes whose return reached the time limit's, 500 on CartPole-v1: the
               paper's measure), mean training return, best and final evaluation
  study.md     that table, led by the stable solve, its time and the final evaluation, then
               the aggregates (seeds stably solved; for steps and seconds to solve and the
               final evaluation: median, range, and the interquartile mean with its 95%
               bootstrap interval) and the command line; the success rate only for a config
               that trains on after solving (with stop_when_solved it says nothing)
  study.json   all of the above and the config, machine-readable
  curves.png   evaluation mean and smoothed training return against agent steps: each seed,
               the mean over seeds and the min-max band
  boxplot.png  one box per seed of its training-episode returns (the paper's figure)
With --backend ray each seed's run folder is sent back to this machine when it finishes, so the
cluster's workers need not share its disk; a seed whose worker dies is trained again from its
start (up to twice). Ctrl-C stops every worker and keeps what they wrote (with Ray: the finished
seeds' folders)."""


def add_study_flags(study_parser: argparse.ArgumentParser) -> None:
    group = study_parser.add_argument_group("study")
    group.add_argument(
        "--seeds",
        type=int_at_least(1, MAX_STUDY_SEEDS),
        default=10,
        metavar="N",
        help="how many seeds (runs) to train (default: 10, as in the paper)",
    )
    group.add_argument(
        "--first-seed",
        type=int_at_least(0, SEED_LIMIT - 1),
        default=0,
        metavar="K",
        help="the seeds are K, K+1, ..., K+N-1 (default: 0); --seed is not used in a study",
    )
    group.add_argument(
        "--workers",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="runs trained at once, one process each (default: the smaller of --seeds and the "
        "CPU cores); each process uses --torch-threads threads. With --backend ray and no "
        "--address, the CPUs of the local Ray instance",
    )
    group.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="where the seeds train: worker processes on this machine (default), or one Ray task "
        "each, on the cluster at --address or on a local Ray instance (pip install 'dqn_ref[ray]')",
    )
    group.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="with --backend ray, the cluster to connect to: host:port of its head, "
        "ray://host:10001 (a Ray client server), or auto (default: RAY_ADDRESS if set, else a new "
        f"local Ray instance); refused if nothing answers there within {CONNECT_TIMEOUT_S:g} s",
    )


def add_study_command(commands: Any) -> None:
    """study TASK: one run per seed, compared, with the task's flags and the study's own."""
    add_per_task_command(
        commands,
        "study",
        STUDY_HELP,
        STUDY_DESCRIPTION,
        f"{PROG} study TASK [--seeds N] [--workers N] [--preset NAME] [--FIELD VALUE ...]",
        "[--seeds N] [--first-seed K] [--workers N] [--preset NAME] [--out DIR] "
        "[--FIELD VALUE ...]",
        "a study of",
        add_study_flags,
        "runs/study-<env>-<preset>-<time>",
        "each seed's result is still printed",
    )


def study_main(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """python -m dqn_ref.run study TASK ...: errors are one line with status 2, as for a run."""
    study_dir: Path | None = None
    try:
        # Imported here so that --help and argument errors answer without loading torch.
        from dqn_ref.studies.local_backend import LocalBackend
        from dqn_ref.studies.study import prepare_study_dir, run_study, study_dir_path
        from dqn_ref.studies.study_report import aggregate_lines
        from dqn_ref.training.build import resolve_device
        from dqn_ref.training.interrupt import sigterm_as_ctrl_c
        from dqn_ref.training.preflight import (
            check_config_suits,
            check_run_can_start,
            environment_spaces,
            run_warnings,
        )

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
            from dqn_ref.studies.ray_backend import RayBackend  # a one-line error without Ray

            # An environment that cannot be made, or a config that does not suit it, fails
            # here, once, rather than in every task; the seeds' device is resolved, and their
            # memory checked, where they train, on the cluster's workers.
            check_config_suits(config, environment_spaces(config))
            device: str = config.device
            backend = RayBackend(args.address, workers, config)
            details: dict[str, object] = {
                "backend": "ray",
                "workers": workers if backend.address is None else None,
                "address": backend.address,
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
                limit = f"{count(config.total_episodes, 'episode')} (at most {limit})"
            first, last = seeds[0], seeds[-1]
            seed_range = f"seed {first}" if len(seeds) == 1 else f"seeds {first}-{last}"
            print(
                f"dqn_ref study: {args.task}, preset {args.preset}, {seed_range}, "
                f"{backend.description}, device {device}, {limit} each -> {study_dir}",
                flush=True,
            )
            for warning in run_warnings(config):
                print(f"dqn_ref study: warning: {warning}", flush=True)
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

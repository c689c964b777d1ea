"""Command line: python -m dqn_ref.run TASK [--preset NAME] [--FIELD VALUE ...] to train,
python -m dqn_ref.run resume RUN_DIR to continue a run, python -m dqn_ref.run eval RUN_DIR to
evaluate one, python -m dqn_ref.run study TASK [--seeds N] [...] for one run per seed, compared,
and python -m dqn_ref.run tune TASK [...] for an Optuna hyperparameter search (dqn_ref/tune.py).

Every DQNConfig field is a flag (--learning-rate 3e-4, --no-reward-clip, --hidden-sizes 64,64);
flags override the chosen preset. Errors in what you type print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from dqn_ref.command_line import PROG, config_from_args, folder_safe, report_failure
from dqn_ref.config import MAX_ENV_COPIES, SEED_LIMIT, DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.interrupt import SignalStop, TrainingInterruptedError
from dqn_ref.presets import PRESETS, TASK_PRESETS
from dqn_ref.run_folder import folder_lock, remove_leftover_temporaries
from dqn_ref.tensorboard_log import EVENT_FILE_PREFIX

if TYPE_CHECKING:
    from dqn_ref.train import TrainResult

RUN_FILES = ("config.json", "metrics.csv", "checkpoint.pt", "curve.png", "summary.json")
FLAG_ALIASES = {"total_steps": ["--steps"]}
# A study holds every seed's row, curve and box in its tables and figures; ten thousand is far
# beyond any study's need and keeps a mistyped --seeds from queueing a billion runs.
MAX_STUDY_SEEDS = 10_000

TASK_HELP = {
    "cartpole": "train DQN on CartPole-v1 (about 45 s on a 2-core CPU with the default preset)",
    "pong": "train DQN on Atari Pong (ALE/Pong-v5) from pixels: a GPU job; on a CPU, use --steps",
}

DESCRIPTION = """\
Train the reference DQN. Each task has presets; flags named after config fields override them.

examples:
  python -m dqn_ref.run cartpole                      # the tuned default, CPU, about 45 s
  python -m dqn_ref.run cartpole --preset paper       # the replication paper's exact settings
  python -m dqn_ref.run cartpole --seed 3 --steps 20000 --learning-rate 5e-4
  python -m dqn_ref.run study cartpole --seeds 10     # seeds 0-9 in parallel, compared
  python -m dqn_ref.run pong                          # 2M agent steps: GPU, about 30 min
  python -m dqn_ref.run pong --steps 20000            # a short CPU run, a few minutes
  python -m dqn_ref.run pong --preset nature          # Mnih et al. (2015), 50M frames
  python -m dqn_ref.run resume runs/NAME              # continue a stopped run
  python -m dqn_ref.run eval runs/NAME --episodes 20  # evaluate a saved run
A run writes runs/<env>-<preset>-s<seed>-<time>/ (or --out): config.json, metrics.csv,
checkpoint.pt, curve.png and summary.json. `study --help` says what a study writes.
Ctrl-C (or SIGTERM) saves a checkpoint and says how to resume; spec/reliability.md says what
resuming guarantees."""

RESUME_HELP = "continue a run from its checkpoint.pt to its total_steps"
RESUME_DESCRIPTION = """\
Continue the run in RUN_DIR from its checkpoint.pt, with the run's own config, until its
total_steps; metrics.csv is cut back to the checkpoint's rows and appended to. With the replay
buffer in the checkpoint (--checkpoint-replay when training) the result equals that of a run never
interrupted, wall-clock columns aside; without it the buffer refills before learning goes on."""

EVAL_HELP = "evaluate a saved run's network as the final evaluation does"
EVAL_DESCRIPTION = """\
Evaluate the online network in RUN_DIR/checkpoint.pt under the protocol of spec/evaluation.md:
fresh environments seeded as the final evaluation's, one episode each, and print the mean, std,
min and max return. With the run's own --episodes and --epsilon it replays its final evaluation
exactly, also at an epsilon above 0, on the same kind of device (cpu, cuda) as the run."""

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
  study.md     that table, the aggregates (seeds solved; for steps and seconds to solve and
               the final evaluation: median, range, and the interquartile mean with its 95%
               bootstrap interval; mean success rate) and the command line
  study.json   all of the above and the config, machine-readable
  curves.png   evaluation mean and smoothed training return against agent steps: each seed,
               the mean over seeds and the min-max band
  boxplot.png  one box per seed of its training-episode returns (the paper's figure)
With --backend ray each seed's run folder is sent back to this machine when it finishes, so the
cluster's workers need not share its disk; a seed whose worker dies is trained again from its
start (up to twice). Ctrl-C stops every worker and keeps what they wrote (with Ray: the finished
seeds' folders)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line on stderr rather than the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def parse_int_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)


def flag_type(annotation: Any) -> dict[str, Any]:
    """argparse keyword arguments for one DQNConfig field's type annotation."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is Literal:
        return {"choices": list(typing.get_args(annotation))}
    if origin is tuple:
        return {"type": parse_int_tuple, "metavar": "N,N,..."}
    if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation):
        return {"type": parse_optional_float, "metavar": "X|none"}
    return {"type": annotation, "metavar": {int: "N", float: "X"}.get(annotation, "NAME")}


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an int no smaller than `minimum` (nor larger than `maximum`, if given),
    or a one-line usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum, {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is above the maximum, {maximum}")
        return value

    return parse


def add_config_flags(parser: argparse.ArgumentParser, preset_names: Sequence[str]) -> None:
    """One flag per DQNConfig field; help text from the field, with each preset's value."""
    hints = typing.get_type_hints(DQNConfig)
    group = parser.add_argument_group("config fields (override the preset)")
    for config_field in dataclasses.fields(DQNConfig):
        name = config_field.name
        values = ", ".join(f"{preset}: {getattr(PRESETS[preset], name)}" for preset in preset_names)
        group.add_argument(
            f"--{name.replace('_', '-')}",
            *FLAG_ALIASES.get(name, []),
            dest=name,
            default=argparse.SUPPRESS,  # absent from the namespace unless the user gives it
            help=f"{config_field.metadata['help']} [{values}]".replace("%", "%%"),
            **flag_type(hints[name]),
        )


def add_task_flags(
    task_parser: argparse.ArgumentParser,
    preset_names: Sequence[str],
    folder: str,
    default_folder: str,
    progress_note: str,
) -> None:
    """The flags a task takes, whether trained once or as a study: its preset, the output folder
    (`folder` is "run" or "study"), and one flag per config field."""
    task_parser.add_argument(
        "--preset",
        default=preset_names[0],
        choices=preset_names,
        help=f"starting config (default: {preset_names[0]}); "
        "spec/presets.md gives each value's source",
    )
    task_parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"{folder} folder (default: {default_folder})",
    )
    task_parser.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace the {folder} files in --out if it already holds a {folder}",
    )
    task_parser.add_argument(
        "--no-progress",
        action="store_true",
        help=f"no progress bar ({progress_note})",
    )
    add_config_flags(task_parser, preset_names)


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
        "ray://host:10001, or auto (default: start a local Ray instance)",
    )


def float_between(low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a float in [low, high], or a one-line usage error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in [{low:g}, {high:g}]")
        return value

    return parse


def add_run_dir_commands(commands: Any) -> None:
    """The commands that act on a run folder: resume and eval."""
    device_help = "where the network runs (default: the run's own device setting)"
    resume_parser = commands.add_parser(
        "resume",
        help=RESUME_HELP,
        description=RESUME_DESCRIPTION,
        allow_abbrev=False,
        usage=f"{PROG} resume RUN_DIR [--device DEVICE] [--no-progress]",
    )
    resume_parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run's folder")
    resume_parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help=device_help)
    resume_parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    eval_parser = commands.add_parser(
        "eval",
        help=EVAL_HELP,
        description=EVAL_DESCRIPTION,
        allow_abbrev=False,
        usage=f"{PROG} eval RUN_DIR [--episodes N] [--epsilon E] [--device DEVICE]",
    )
    eval_parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run's folder")
    eval_parser.add_argument(
        "--episodes",
        type=int_at_least(1, MAX_ENV_COPIES),  # one environment copy per episode
        default=None,
        metavar="N",
        help="episodes to play (default: the run's final_eval_episodes, or 100)",
    )
    eval_parser.add_argument(
        "--epsilon",
        type=float_between(0.0, 1.0),
        default=None,
        metavar="E",
        help="exploration rate while evaluating (default: the run's eval_epsilon, 0: greedy)",
    )
    eval_parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where the network runs (default: auto, cuda when present)",
    )


TUNE_HELP = "search hyperparameters with Optuna for the fastest stable solve (needs dqn_ref[tune])"

TUNE_DESCRIPTION = """\
Search the task's hyperparameters with Optuna (pip install 'dqn_ref[tune]'). Each trial samples a
config around the preset (flags you give are held fixed and not searched), trains it on --seeds
seeds, and scores it by the mean agent steps to a stable solve (spec/evaluation.md#eq-stable-solve;
a seed without one scores twice the budget); hopeless trials are pruned after any evaluation. The
study is kept in --storage, so rerunning the command continues it, and processes or machines given
the same --storage and --study-name search together. dqn_ref/tune.py states the objective and the
search space; docs/cartpole-search.md reports a search.

examples:
  python -m dqn_ref.run tune cartpole --trials 30 --budget 20000
  python -m dqn_ref.run tune cartpole --storage sqlite:///tune.db --study-name cp  # in 2 shells
  python -m dqn_ref.run tune cartpole --layer-norm --trials 10   # layer_norm fixed, rest searched

A search writes runs/tune-<study>/ (or --out): study.db (the default storage), trial<N>/seed<S>/
(each trial's run folders), and tune.md, tune.csv and tune.json: the best trials, their per-seed
results and the study command that reruns the best one on ten seeds."""


def add_per_task_command(
    commands: Any,
    command: str,
    help_text: str,
    description: str,
    usage: str,
    task_usage: str,
    task_help: str,
    add_own_flags: Callable[[argparse.ArgumentParser], None],
    out_default: str,
    no_progress_note: str,
) -> None:
    """COMMAND TASK (study, tune): one subcommand per task, each with the command's own flags and
    then the task's. `task_usage` is the usage after `COMMAND TASK`; `task_help` begins each
    task's line in the command's help."""
    command_parser = commands.add_parser(
        command,
        help=help_text,
        description=description,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=usage,
    )
    tasks = command_parser.add_subparsers(
        dest="task", metavar="TASK", required=True, parser_class=OneLineParser
    )
    for task, preset_names in TASK_PRESETS.items():
        task_parser = tasks.add_parser(
            task,
            help=f"{task_help}: {TASK_HELP[task]}",
            description=description,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            usage=f"{PROG} {command} {task} {task_usage}",
        )
        add_own_flags(task_parser)
        add_task_flags(task_parser, preset_names, command, out_default, no_progress_note)


def add_tune_commands(commands: Any) -> None:
    """tune TASK: the Optuna search (dqn_ref/tune.py), with the task's flags and its own."""
    from dqn_ref.tune import add_tune_flags  # no torch, no optuna: --help stays quick

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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description=DESCRIPTION,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser
    )
    for task, preset_names in TASK_PRESETS.items():
        task_parser = commands.add_parser(
            task,
            help=TASK_HELP[task],
            description=TASK_HELP[task],
            allow_abbrev=False,
            usage=f"{PROG} {task} [--preset NAME] [--out DIR] [--FIELD VALUE ...]",
        )
        task_parser.set_defaults(task=task)
        add_task_flags(
            task_parser,
            preset_names,
            "run",
            "runs/<env>-<preset>-s<seed>-<time>",
            "evaluations are still printed",
        )
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
    add_tune_commands(commands)
    add_run_dir_commands(commands)
    return parser


def run_dir_path(out: Path | None, config: DQNConfig, preset: str) -> Path:
    """--out, or the default runs/<env>-<preset>-s<seed>-<time>; refused if it is a file."""
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{folder_safe(config.env_id)}-{preset}-s{config.seed}-{stamp}"
    if out.exists() and not out.is_dir():
        raise DQNRefError(f"--out {out} is a file; give a folder path")
    return out


def prepare_run_dir(out: Path | None, config: DQNConfig, preset: str, overwrite: bool) -> Path:
    """The run folder to write, refusing to mix two runs' files unless asked to overwrite.
    Called while holding the folder's lock, so no live run's files are replaced."""
    out = run_dir_path(out, config, preset)
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise DQNRefError(
            f"{out} already holds a run ({existing[0]}); pass --overwrite to replace "
            "it or choose another --out"
        )
    for name in existing:
        (out / name).unlink()
    if out.is_dir():
        remove_leftover_temporaries(out)
    if existing:  # the replaced run's TensorBoard events, which would mix with the new run's
        for events in out.glob(f"{EVENT_FILE_PREFIX}*"):
            events.unlink()
    return out


def report_interruption(interrupted: TrainingInterruptedError) -> int:
    print(f"dqn_ref: {interrupted}", file=sys.stderr)
    return interrupted.exit_status()


def after(seconds: float | None, train_seconds: float | None) -> str:
    """ "after 5.2 s (4.0 s training only)": wall-clock, then without the evaluations' time."""
    text = f"after {seconds or 0.0:.1f} s"
    return text if train_seconds is None else f"{text} ({train_seconds:.1f} s training only)"


def print_result(result: TrainResult) -> None:
    solved = (
        f"first solved (eval mean >= {result.solved_threshold:g}) at step "
        f"{result.first_solved_step} "
        f"{after(result.first_solved_time_s, result.first_solved_train_time_s)}"
        if result.first_solved_step is not None
        else "never solved during training"
    )
    if result.stable_solved_step is not None:
        solved += (
            f", stably (every later evaluation too) from step {result.stable_solved_step} "
            f"{after(result.stable_solved_time_s, result.stable_solved_train_time_s)}"
        )
    elif result.first_solved_step is not None:
        solved += ", not stably (the last evaluation is below the threshold)"
    print(
        f"done: {result.steps} agent steps, {result.episodes} episodes, {result.updates} updates "
        f"in {result.wall_time_s:.1f} s; {solved}"
    )
    if result.final_eval is not None:
        final = result.final_eval
        print(
            f"final evaluation (epsilon {result.eval_epsilon:g}) over {final.episodes} episodes: "
            f"mean {final.mean:.1f}, "
            f"std {final.std:.1f}, min {final.min:.0f}, max {final.max:.0f}"
        )
    print(f"run folder: {result.run_dir}")


def train_main(args: argparse.Namespace) -> int:
    run_dir: Path | None = None
    try:
        config = config_from_args(args)
        # Imported here so that --help and argument errors answer without loading torch.
        from dqn_ref.build import resolve_device
        from dqn_ref.preflight import check_run_can_start
        from dqn_ref.train import train

        device = resolve_device(config.device)
        check_run_can_start(config, device)
        run_dir = run_dir_path(args.out, config, args.preset)
        with folder_lock(run_dir):
            prepare_run_dir(run_dir, config, args.preset, args.overwrite)
            print(
                f"dqn_ref: {args.task}, preset {args.preset}, seed {config.seed}, "
                f"device {device}, {config.total_steps} agent steps -> {run_dir}",
                flush=True,
            )
            with SignalStop() as stop:
                result = train(
                    config, run_dir, args.preset, progress=not args.no_progress, stop=stop
                )
    except TrainingInterruptedError as interrupted:
        return report_interruption(interrupted)
    except (DQNRefError, OSError, KeyboardInterrupt) as error:
        return report_failure(
            error,
            "run",
            run_dir,
            "what was written so far is kept",
            "(metrics.csv, and checkpoint.pt from the last evaluation)",
        )
    print_result(result)
    return 0


def resume_main(args: argparse.Namespace) -> int:
    try:
        from dqn_ref.train import resume

        # A missing folder is reported by resume itself; the lock would create it.
        lock = folder_lock(args.run_dir) if args.run_dir.is_dir() else contextlib.nullcontext()
        with lock:
            if args.run_dir.is_dir():
                remove_leftover_temporaries(args.run_dir)
            with SignalStop() as stop:
                result = resume(args.run_dir, not args.no_progress, stop, args.device)
    except TrainingInterruptedError as interrupted:
        return report_interruption(interrupted)
    except (DQNRefError, OSError, KeyboardInterrupt) as error:
        return report_failure(
            error,
            "run",
            args.run_dir,
            "what was written so far is kept",
            "(metrics.csv, and checkpoint.pt from the last evaluation)",
        )
    print_result(result)
    return 0


def eval_main(args: argparse.Namespace) -> int:
    try:
        from dqn_ref.build import resolve_device
        from dqn_ref.evaluate import evaluate_saved_run

        device = resolve_device(args.device)
        config, summary = evaluate_saved_run(args.run_dir, args.episodes, args.epsilon, device)
    except (DQNRefError, OSError, KeyboardInterrupt) as error:
        return report_failure(error, "run", args.run_dir, "nothing was written", "")
    print(
        f"evaluation of {args.run_dir} over {summary.episodes} episodes "
        f"(epsilon {config.eval_epsilon:g}, seed {config.seed}): mean {summary.mean:.1f}, "
        f"std {summary.std:.1f}, min {summary.min:.0f}, max {summary.max:.0f}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "study":
        # Imported here, as train is below, so that --help and argument errors answer quickly.
        from dqn_ref.study import study_main

        return study_main(args, sys.argv[1:] if argv is None else argv)
    if args.command == "tune":
        from dqn_ref.tune import tune_main

        return tune_main(args, sys.argv[1:] if argv is None else argv)
    if args.command == "resume":
        return resume_main(args)
    if args.command == "eval":
        return eval_main(args)
    return train_main(args)


if __name__ == "__main__":
    sys.exit(main())

"""The command line's flags: one per DQNConfig field (its help from the field, with each preset's
value), the flags every task takes, the one-line usage errors, and the config a command line asks
for. Each command's own flags live beside it (train_command.py, study_command.py,
tune_command.py)."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, Literal, NoReturn

from dqn_ref.config import CONFIG_GROUPS, DQNConfig, field_group
from dqn_ref.env_source import env_kwargs_of
from dqn_ref.envs import ATARI, VECTOR, check_env_kind, with_env_threshold
from dqn_ref.errors import DQNRefError
from dqn_ref.presets import PRESETS, TASK_PRESETS, get_preset, preset_for
from dqn_ref.run.task_help import TASK_HIDES, HelpAll, TaskHelpFormatter, preset_listing
from dqn_ref.training.config_file import read_config_file
from dqn_ref.training.tensorboard_log import TENSORBOARD_INSTALL, tensorboard_available

PROG = "python -m dqn_ref.run"
FLAG_ALIASES = {"total_steps": ["--steps"], "total_minutes": ["--minutes"]}
TASK_HELP = {
    # The figures are docs/claims.json's, word for word (tests/test_claims.py).
    "cartpole": "train DQN on CartPole-v1 (the default preset: a median 2.3 s of training to a "
    "stable solve on a 2-core Intel Xeon, docs/cartpole/study-heldout.md)",
    "pong": "train DQN on Atari Pong (ALE/Pong-v5) from pixels: a GPU job (the default preset: 2M "
    "agent steps; it trained at 511 agent steps/s on one NVIDIA H200, docs/results.md); on a "
    "2-core CPU, "
    "--preset pong-cpu (650,003 agent steps in 56 minutes of training on a 2-core Intel Xeon)",
    "control": "train DQN on any Gymnasium environment with discrete actions and vector "
    "observations (--env-id Acrobot-v1, MountainCar-v0, LunarLander-v3, ...)",
    "atari": "train DQN on any Atari game from pixels (--env-id ALE/Breakout-v5, ...): a GPU job",
}
# The tasks that train any environment of one kind, chosen by --env-id; the others (cartpole,
# pong) are flagship tasks with a default environment of their own.
TASK_ENV_KIND = {"control": VECTOR, "atari": ATARI}


class OneLineParser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line on stderr rather than the whole usage,
    and a mistyped flag names the flags it is close to."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """argparse's, except that a command's own parser (one without subcommands) notes which
        of its flags an unknown flag is close to: the parser above, which refuses the unknown
        flag, does not know this command's flags."""
        parsed, extras = super().parse_known_args(args, namespace)
        if self._subparsers is None and extras:
            setattr(parsed, HINT_DEST, did_you_mean(extras, list(self._option_string_actions)))
        return parsed, extras

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        hint = vars(parsed).pop(HINT_DEST, "")
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{'; ' if hint else ''}{hint}")
        return parsed


HINT_DEST = "_did_you_mean"  # where a command's parser leaves its hint for the parser above


def did_you_mean(given: Sequence[str], known: Sequence[str]) -> str:
    """ "did you mean --learning-rate?" for the first given flag that is close to a known one
    (difflib's ratio of at least 0.75), else ""."""
    for flag in (text.split("=", 1)[0] for text in given if text.startswith("--")):
        matches = difflib.get_close_matches(flag, known, n=2, cutoff=0.75)
        if matches:
            return f"did you mean {' or '.join(matches)}?"
    return ""


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


def add_config_flags(
    parser: argparse.ArgumentParser,
    preset_names: Sequence[str],
    hides: AbstractSet[str] = frozenset(),
) -> None:
    """One flag per DQNConfig field, under its group's heading. --help lists them compactly as
    the task's default preset sets them, leaving out those that need what `hides` names;
    --help-all explains each (help text from the field, with each preset's value)."""
    hints = typing.get_type_hints(DQNConfig)
    parser.formatter_class = TaskHelpFormatter
    groups = {
        name: parser.add_argument_group(f"config fields: {name} (override the preset)")
        for name in CONFIG_GROUPS
    }
    helps: dict[str, str] = {}
    for config_field in dataclasses.fields(DQNConfig):
        name = config_field.name
        flag = f"--{name.replace('_', '-')}"
        values = ", ".join(f"{preset}: {getattr(PRESETS[preset], name)}" for preset in preset_names)
        helps[flag] = f"{config_field.metadata['help']} [{values}]".replace("%", "%%")
        groups[field_group(name)].add_argument(
            flag,
            *FLAG_ALIASES.get(name, []),
            dest=name,
            default=argparse.SUPPRESS,  # absent from the namespace unless the user gives it
            help=argparse.SUPPRESS,  # listed in the epilog; explained by --help-all
            **flag_type(hints[name]),
        )
    parser.add_argument("--help-all", action=HelpAll, helps=helps)
    parser.epilog = preset_listing(preset_names[0], hides)


def add_task_flags(
    task_parser: argparse.ArgumentParser,
    task: str,
    folder: str,
    default_folder: str,
    progress_note: str,
) -> None:
    """The flags a task takes, whether trained once or as a study: its preset, the output folder
    (`folder` is "run" or "study"), and one flag per config field."""
    preset_names = TASK_PRESETS[task]
    default_help = (
        f"default: the --env-id's own preset if it has one here, else {preset_names[0]}"
        if task in TASK_ENV_KIND
        else f"default: {preset_names[0]}"
    )
    starting_point = task_parser.add_mutually_exclusive_group()
    starting_point.add_argument(
        "--preset",
        default=None,
        choices=preset_names,
        help=f"starting config ({default_help}); spec/presets.md gives each value's source",
    )
    starting_point.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="start from a run's config.json instead of a preset, to train that run again; "
        "flags given beside it still override it",
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
    add_config_flags(task_parser, preset_names, TASK_HIDES[task])


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
    for task in TASK_PRESETS:
        task_parser = tasks.add_parser(
            task,
            # Named here: argparse would name it after the command's usage line, which its
            # one-line errors would then begin with.
            prog=f"{PROG} {command} {task}",
            help=f"{task_help}: {TASK_HELP[task]}",
            description=description,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            usage=f"{PROG} {command} {task} {task_usage}",
        )
        add_own_flags(task_parser)
        add_task_flags(task_parser, task, command, out_default, no_progress_note)


def config_from_args(args: argparse.Namespace) -> DQNConfig:
    """The preset (or the --config file) with every flag the user gave applied on top, validated,
    its solved threshold stated (the environment's own unless --solved-threshold gives one).

    With --config, args.preset becomes the file's preset name, which the new run records. Without
    either, the task's default preset is chosen (for control and atari, the --env-id's own preset
    where the task has one) and written into args.preset, which names the run's folder. The
    control and atari tasks refuse an environment of the other kind, in one line.
    """
    given = vars(args)
    overrides = {f.name: given[f.name] for f in dataclasses.fields(DQNConfig) if f.name in given}
    if given.get("tensorboard") and not tensorboard_available():
        raise DQNRefError(f"--tensorboard needs the tensorboard package: {TENSORBOARD_INSTALL}")
    if given.get("config") is not None:
        args.preset, base = read_config_file(args.config)
    else:
        if args.preset is None:
            args.preset = preset_for(args.task, overrides.get("env_id"))
        base = get_preset(args.preset, args.task)
    config = base.replace(**overrides)
    if args.task in TASK_ENV_KIND:
        check_env_kind(config.env_id, TASK_ENV_KIND[args.task], env_kwargs_of(config.env_kwargs))
    return with_env_threshold(config)

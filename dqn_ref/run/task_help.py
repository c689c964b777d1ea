"""A task's help: its config fields listed as the flags that set the default preset's values
(`--help`), and every field explained with each preset's value (`--help-all`)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import textwrap
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from dqn_ref.config import CONFIG_GROUPS, field_needs
from dqn_ref.presets import PRESETS

# What each task's --help leaves out (--help-all shows it): fields that do something only on
# Atari games or only on a CUDA device say nothing to a CartPole user.
TASK_HIDES = {
    "cartpole": {"atari", "cuda"},
    "control": {"atari", "cuda"},
    "pong": set(),
    "atari": set(),
}
HELP_WIDTH = 78


class TaskHelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that a text holding line breaks (the listing of the preset's
    fields) is printed as it is written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return text
        return super()._fill_text(text, width, indent)


def flag_with_value(name: str, value: Any) -> str:
    """The flag that sets config field `name` to `value`, as one would type it."""
    flag = name.replace("_", "-")
    if isinstance(value, bool):
        return f"--{flag}" if value else f"--no-{flag}"
    if value is None:
        return f"--{flag} none"
    if isinstance(value, tuple):
        return f"--{flag} {','.join(str(item) for item in value)}"
    return f"--{flag} {shlex.quote(str(value))}"  # an empty string as


def preset_listing(preset_name: str, hides: AbstractSet[str]) -> str:
    """The preset's config fields as the flags that set them, one group a paragraph."""
    preset = PRESETS[preset_name]
    header = (
        f"config fields, as the {preset_name} preset sets them (give any to override it; "
        "--help-all explains each field"
        + (", and shows the Atari-only and CUDA-only ones):" if hides else "):")
    )
    lines = textwrap.wrap(header, HELP_WIDTH)
    for group, fields_of in CONFIG_GROUPS.items():
        tokens = [
            flag_with_value(item.name, getattr(preset, item.name))
            for item in dataclasses.fields(fields_of)
            if field_needs(item.name) not in hides
        ]
        line = f"  {group:<12}"
        for token in tokens:
            if len(line) + len(token) + 2 > HELP_WIDTH and not line.endswith("  "):
                lines.append(line)
                line = " " * 14
            line += ("" if line.endswith(" ") else "  ") + token
        if tokens:
            lines.append(line)
    return "\n".join(lines)


class HelpAll(argparse.Action):
    """--help-all: every config field's flag with its explanation and each preset's value."""

    def __init__(self, option_strings: Sequence[str], dest: str, helps: dict[str, str]):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS)
        self.helps = helps  # option string -> its help text
        self.help = "explain every config field, with each preset's value"

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        for action in parser._actions:
            if action.option_strings and action.option_strings[0] in self.helps:
                action.help = self.helps[action.option_strings[0]]
        parser.epilog = None
        parser.print_help()
        parser.exit()

"""Counts in what a run, a study and the command line print: "1 episode", "2 episodes"."""

from __future__ import annotations

IRREGULAR_PLURALS = {"copy": "copies"}


def plural(number: int, noun: str) -> str:
    """The noun as `number` of it reads: "episode" for 1, "episodes" otherwise (0 too)."""
    return noun if number == 1 else IRREGULAR_PLURALS.get(noun, noun + "s")


def count(number: int, noun: str) -> str:
    """ "1 episode", "3 episodes", "0 updates"."""
    return f"{number} {plural(number, noun)}"

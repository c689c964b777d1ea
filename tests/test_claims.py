"""One source for every measured figure: docs/claims.json.

Each claim there is a sentence (its text, naming its machine), the command that measured it and
the committed files it is read from. These tests fail when a claim and its source disagree, when a
place that should quote a claim (the README, the site's pages, a command's --help) says it
differently, and when one of those places states a time that is not a claim's text, such as a
figure computed from a step count and a speed rather than measured."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import statistics
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from dqn_ref.presets import TASK_PRESETS
from dqn_ref.run.main import main

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = json.loads((ROOT / "docs" / "claims.json").read_text())["claims"]
COMMANDS = ["", *TASK_PRESETS, "study", "tune", "resume", "eval"]
# A time: a number (or a range of two) and a unit, or the words that state one without digits.
TIME = re.compile(
    r"\b\d[\d,.]*(?:\s*(?:-|to)\s*\d[\d,.]*)?\s*"
    r"(?:s|ms|us|sec|seconds?|min|minutes?|h|hours?)\b"
    r"|\b(?:an|half an) hour\b|\ba few (?:seconds|minutes|hours)\b",
    re.IGNORECASE,
)


def squeeze(text: str) -> str:
    """Whitespace as one space, so that a claim wrapped by argparse or the editor still matches."""
    return " ".join(text.split())


def help_text(command: str) -> str:
    """What `python -m dqn_ref.run [COMMAND] --help` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*command.split(), "--help"])
    return out.getvalue()


@cache
def place_text(place: str) -> str:
    """A place that quotes claims: "help:COMMAND" (the top level for "help:") or a file."""
    if place.startswith("help:"):
        return squeeze(help_text(place.removeprefix("help:")))
    return squeeze((ROOT / place).read_text())


def places() -> list[str]:
    """Every place whose times must be claims: the README, the site's own pages (the guides and
    the home page; the results pages are the sources), and every command's --help."""
    pages = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs" / "guides").glob("*.md"))
    return ["README.md", "docs/index.md", *pages, *(f"help:{command}" for command in COMMANDS)]


def measured(check: dict[str, Any]) -> str:
    """The figure a check reads from its source, formatted as the claim states it."""
    source = ROOT / check["source"]
    if "csv_median" in check or "csv_count" in check:
        rows = list(csv.DictReader(source.open()))
        column = check.get("csv_median") or check["csv_count"]
        values = [float(row[column]) for row in rows if row[column] != ""]
        if "csv_count" in check:
            return f"{len(values)}"
        return f"{statistics.median(values):,.{check['digits']}f}"
    if "json" in check:
        value: Any = json.loads(source.read_text())
        for key in check["json"]:
            value = value[key]
        return f"{float(value) * check.get('scale', 1.0):,.{check['digits']}f}"
    match = re.search(check["regex"], source.read_text(), re.MULTILINE)
    assert match is not None, f"{check['regex']!r} finds nothing in {check['source']}"
    return str(match.group(1))


@pytest.mark.parametrize("claim", CLAIMS, ids=[claim["id"] for claim in CLAIMS])
def test_every_claim_is_what_its_source_says(claim: dict[str, Any]) -> None:
    # A time or a speed depends on the machine, so its text names it; a count of seeds need not.
    if TIME.search(claim["text"]) or re.search(r"/s\b|\bseconds\b", claim["text"]):
        assert claim.get("machine"), f"{claim['id']} states a time but gives no machine"
    if claim.get("machine"):
        assert claim["machine"] in claim["text"], f"{claim['id']} does not name its machine"
    assert claim["command"].startswith(("python -m ", "bash ")), claim["command"]
    for check in claim["checks"]:
        assert measured(check) == check["equals"], (
            f"{claim['id']}: {check['source']} gives {measured(check)}, the claim says "
            f"{check['equals']}"
        )
        assert check["equals"] in claim["text"]


@pytest.mark.parametrize("claim", CLAIMS, ids=[claim["id"] for claim in CLAIMS])
def test_every_place_quotes_its_claims_word_for_word(claim: dict[str, Any]) -> None:
    for place in claim["quoted_in"]:
        assert claim["text"] in place_text(place), f"{place} does not say {claim['text']!r}"


@pytest.mark.parametrize("place", places())
def test_no_place_states_a_time_that_is_not_a_claim(place: str) -> None:
    text = place_text(place)
    quoted = [
        range(match.start(), match.end())
        for claim in CLAIMS
        for match in re.finditer(re.escape(claim["text"]), text)
    ]
    stray = [
        text[max(0, time.start() - 40) : time.end() + 10]
        for time in TIME.finditer(text)
        if not any(time.start() in span and time.end() - 1 in span for span in quoted)
    ]
    assert not stray, f"{place} states times that docs/claims.json does not hold: {stray}"

"""The tune command's inputs: every flag, the storage and the study it continues are checked before
anything is opened or written; each refusal is one line with exit status 2, never a traceback
(spec/reliability.md#tune-and-ray), and a trial that fails ends the search in one line too."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dqn_ref.run.main import main
from tests.studies.test_study import one_line_error
from tests.studies.test_tune import TINY_TUNE

optuna = pytest.importorskip("optuna")

NOT_A_DATABASE = "a text file, not a database\n"


def text_file(tmp_path: Path) -> str:
    path = tmp_path / "notes.txt"
    path.write_text(NOT_A_DATABASE)
    return f"sqlite:///{path}"


# (flags, the refusal's fragments); a callable flag is given tmp_path, for a file it prepares.
REFUSALS: dict[str, tuple[list[str | Callable[[Path], str]], tuple[str, ...]]] = {
    "storage not a URL": (["--storage", "tune.db"], ("--storage tune.db", "sqlite:///")),
    "storage a text file": (["--storage", text_file], ("file is not a database", "SQLite URL")),
    "storage in a missing folder": (
        ["--storage", "sqlite:////no/such/folder/tune.db"],
        ("unable to open database file", "folder that exists"),
    ),
    "storage of an unknown database": (["--storage", "nosuchdb://host/db"], ("'nosuchdb'",)),
    "storage whose driver is missing": (
        ["--storage", "postgresql+psycopg2://user:secret@localhost/db"],
        ("driver that is not installed", "psycopg2", "user:***@", "sqlite:///"),
    ),
    "first seed negative": (["--first-seed", "-1"], ("--first-seed", "minimum, 0")),
    "last seed beyond the range": (
        ["--first-seed", "2145473640", "--seeds", "3"],
        ("reaches seed 2145473642", "lower --first-seed or --seeds"),
    ),
    "no seeds": (["--seeds", "0"], ("--seeds", "minimum, 1")),
    "too many seeds": (["--seeds", "10001"], ("--seeds", "maximum, 10000")),
    "no trials": (["--trials", "0"], ("--trials", "minimum, 1")),
    "no budget": (["--budget", "0"], ("--budget", "minimum, 1")),
    "timeout zero": (["--timeout", "0"], ("--timeout", "positive, finite")),
    "timeout nan": (["--timeout", "nan"], ("--timeout", "positive, finite")),
    "timeout inf": (["--timeout", "inf"], ("--timeout", "positive, finite")),
    "penalty negative": (["--penalty-seconds", "-1"], ("--penalty-seconds", "positive")),
    "sampler seed negative": (["--sampler-seed", "-1"], ("--sampler-seed", "minimum, 0")),
    "a single run's seed": (["--seed", "3"], ("--first-seed",)),
    "invalid config": (["--gamma", "2"], ("gamma=2.0",)),
}


def exit_status(arguments: list[str]) -> int | str | None:
    """main's return value, or the status of argparse's SystemExit for a usage error."""
    try:
        return main(arguments)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_bad_tune_input_is_refused_in_one_line_and_writes_nothing(
    case: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    flags, fragments = REFUSALS[case]
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # the driver is missing, wherever run
    arguments = [flag(tmp_path) if callable(flag) else flag for flag in flags]
    out = tmp_path / "tune"
    assert exit_status([*TINY_TUNE, "--trials", "1", *arguments, "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, *fragments)
    assert not out.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == (
        ["notes.txt"] if case == "storage a text file" else []
    )
    if case == "storage a text file":
        assert (tmp_path / "notes.txt").read_text() == NOT_A_DATABASE


FULL_DISK_DURING_A_TRIAL = """
import errno, sys
from dqn_ref.run.main import main
from tests.faults import Fault, failing_disk
with failing_disk(Fault("metrics.csv", errno.ENOSPC, after_bytes=100)) as fault:
    status = main(sys.argv[1:])
sys.exit(status if fault.fired else 99)
"""


def test_a_trial_that_fails_ends_the_search_in_one_line_without_optunas_traceback(
    tmp_path: Path,
) -> None:
    """A full disk while the first trial writes its metrics.csv: the search stops with the write
    failure's one line, where Optuna logged the trial's whole traceback first. In a process of its
    own: Optuna's log handler holds the stderr of the moment it was made, which pytest's capture
    fixtures do not see."""
    out = tmp_path / "tune"
    process = subprocess.run(
        [sys.executable, "-c", FULL_DISK_DURING_A_TRIAL, *TINY_TUNE, "--trials", "1",
         "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert process.returncode == 2, process.stderr
    one_line_error(process.stderr, "metrics.csv", "no space left on device")
    assert not (out / "tune.md").exists()  # no report claims a finished search


def test_a_study_continued_with_another_preset_is_refused_before_any_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same --study-name with another preset samples another space, which Optuna would refuse
    half-way through the first trial with a traceback."""
    out = tmp_path / "tune"
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    common = ["--trials", "1", "--study-name", "shared", "--storage", storage]
    assert main([*TINY_TUNE, *common, "--no-pruning", "--out", str(out)]) == 0
    capsys.readouterr()
    other = tmp_path / "other"
    assert main([*TINY_TUNE, *common, "--preset", "paper", "--out", str(other)]) == 2
    one_line_error(capsys.readouterr().err, "study 'shared'", "gamma", "--study-name")
    assert not other.exists()
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 1

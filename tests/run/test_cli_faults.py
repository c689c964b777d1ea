"""Write failures through the command line: every OSError while a run file is written ends the
run with one line naming the file, the cause and the fix, and every file written before stays
whole and loadable (spec/reliability.md#write-failures)."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dqn_ref.errors import DQNRefError
from dqn_ref.run.main import main
from dqn_ref.studies.study_report import write_table_csv
from dqn_ref.training.atomic import WRITE_FAILURES, write_error
from dqn_ref.training.checkpoint import load_checkpoint
from dqn_ref.training.metrics import COLUMNS
from tests.faults import Fault, failing_disk

# A short CartPole run with a checkpoint at steps 100, 200 and 300 (one evaluation each), then
# the final checkpoint, evaluation, curve and summary.
TINY_RUN = [
    "cartpole",
    "--steps", "300",
    "--num-envs", "1",
    "--learning-starts", "50",
    "--batch-size", "16",
    "--buffer-size", "500",
    "--eval-interval", "100",
    "--eval-episodes", "2",
    "--final-eval-episodes", "2",
    "--no-progress",
]  # fmt: skip


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_whole_run_files(run_dir: Path) -> None:
    """Every run file present loads; no temporary file is left; metrics.csv has whole rows."""
    assert not list(run_dir.glob(".*.tmp"))
    if (run_dir / "config.json").exists():
        json.loads((run_dir / "config.json").read_text())
    if (run_dir / "summary.json").exists():
        json.loads((run_dir / "summary.json").read_text())
    if (run_dir / "checkpoint.pt").exists():
        load_checkpoint(run_dir / "checkpoint.pt")
    if (run_dir / "metrics.csv").exists():
        text = (run_dir / "metrics.csv").read_text()
        assert text == "" or text.endswith("\n")
        for cells in csv.reader(text.splitlines()):
            assert len(cells) == len(COLUMNS), cells


def cause_and_fix(code: int) -> tuple[str, str]:
    cause, fix = WRITE_FAILURES[code]
    return f"{cause} ({errno.errorcode[code]})", fix


@pytest.mark.parametrize(
    ("name", "code", "on_open", "after_bytes", "checkpointed"),
    [
        ("config.json", errno.ENOSPC, 1, 0, False),
        ("metrics.csv", errno.ENOSPC, 1, 700, True),
        ("checkpoint.pt", errno.ENOSPC, 1, 0, False),
        ("checkpoint.pt", errno.EIO, 2, 4096, True),
        ("curve.png", errno.EROFS, 1, 0, True),
        ("summary.json", errno.EDQUOT, 1, 10, True),
    ],
)
def test_a_failed_write_of_any_run_file_is_one_line_and_keeps_the_files_written_before(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    code: int,
    on_open: int,
    after_bytes: int,
    checkpointed: bool,
) -> None:
    run_dir = tmp_path / "run"
    with failing_disk(Fault(name, code, on_open, after_bytes)) as fault:
        status, _, err = run_main(capsys, *TINY_RUN, "--out", str(run_dir))
    assert fault.fired
    assert status == 2
    cause, fix = cause_and_fix(code)
    if checkpointed:
        kept = "every file written before is intact; once fixed, resume with: python -m "
        kept += f"dqn_ref.run resume {run_dir}"
    else:
        kept = "every file written before is intact, but no checkpoint was saved yet; once "
        kept += "fixed, train again (--overwrite to reuse the folder)"
    assert err.splitlines() == [
        f"dqn_ref: error: cannot write {run_dir / name}: {cause}; {fix}; {kept}"
    ]
    assert_whole_run_files(run_dir)
    if checkpointed:  # nothing is lost: the run finishes from its last checkpoint
        status, out, err = run_main(capsys, "resume", str(run_dir), "--no-progress")
        assert status == 0, err
        assert "done: 300 agent steps" in out
        assert_whole_run_files(run_dir)
        assert (run_dir / "curve.png").is_file() and (run_dir / "summary.json").is_file()


def test_a_failed_write_of_a_study_table_names_the_file(tmp_path: Path) -> None:
    with failing_disk(Fault("study.csv", errno.ENOSPC)), pytest.raises(DQNRefError) as raised:
        write_table_csv(tmp_path / "study.csv", [])
    cause, fix = cause_and_fix(errno.ENOSPC)
    assert str(raised.value) == f"cannot write {tmp_path / 'study.csv'}: {cause}; {fix}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [*WRITE_FAILURES, errno.ENAMETOOLONG])
def test_every_cause_is_named_with_its_fix_in_one_line(code: int) -> None:
    message = str(write_error(Path("runs/x/checkpoint.pt"), OSError(code, os.strerror(code))))
    assert message.startswith("cannot write runs/x/checkpoint.pt: ")
    assert f"({errno.errorcode[code]}); " in message and "--out" in message
    assert "\n" not in message


@contextlib.contextmanager
def small_tmpfs(mount_point: Path, size_bytes: int) -> Iterator[Path]:
    """A tmpfs of `size_bytes` mounted at `mount_point`, or a skip where that is not allowed."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root")
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one_and_resume_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a real filesystem that fills up: the first checkpoint fits, the second does not (a
    save needs room for the old file and the new one until the rename)."""
    measured = tmp_path / "measured"
    status, _, _ = run_main(capsys, *TINY_RUN, "--steps", "100", "--out", str(measured))
    assert status == 0
    checkpoint_bytes = (measured / "checkpoint.pt").stat().st_size
    # Room for the small files and one checkpoint and a half: the second save runs out of space.
    size = 256 * 1024 + checkpoint_bytes * 3 // 2
    with small_tmpfs(tmp_path / "disk", size) as disk:
        run_dir = disk / "run"
        status, _, err = run_main(capsys, *TINY_RUN, "--out", str(run_dir))
        assert status == 2
        cause, fix = cause_and_fix(errno.ENOSPC)
        assert err.splitlines() == [
            f"dqn_ref: error: cannot write {run_dir / 'checkpoint.pt'}: {cause}; {fix}; every "
            f"file written before is intact; once fixed, resume with: python -m dqn_ref.run "
            f"resume {run_dir}"
        ]
        assert_whole_run_files(run_dir)
        assert load_checkpoint(run_dir / "checkpoint.pt")["counters"]["step"] == 100
        # Free space (a bigger disk, as a user would move the folder to), then resume.
        subprocess.run(["mount", "-o", f"remount,size={4 * size}", str(disk)], check=True)
        status, out, err = run_main(capsys, "resume", str(run_dir), "--no-progress")
        assert status == 0, err
        assert "done: 300 agent steps" in out
        assert_whole_run_files(run_dir)

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
import sys
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


# A run that films its agent after the final evaluation: one CartPole episode, a few seconds.
FILMED_RUN = [*TINY_RUN, "--steps", "200", "--eval-interval", "0"]


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC])
def test_a_video_that_cannot_be_written_names_its_path_and_eval_as_the_way_to_film_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], code: int
) -> None:
    """spec/reliability.md#write-failures: the run's files are complete, so the line names the
    video path as what to fix and `eval RUN --video PATH` as the way to film again, never
    resume (which refuses a finished run); eval's own failed video says the same, and the
    command it names then films the run."""
    run_dir, video = tmp_path / "run", tmp_path / "films" / "agent.gif"
    cause = f"{WRITE_FAILURES[code][0]} ({errno.errorcode[code]})"
    again = f"film it again with: python -m dqn_ref.run eval {run_dir} --video {video}"
    with failing_disk(Fault("agent.gif", code)) as fault:
        status, out, err = run_main(
            capsys, *FILMED_RUN, "--out", str(run_dir), "--video", str(video)
        )
    assert fault.fired and status == 2
    assert "done: 200 agent steps" in out
    assert err.splitlines() == [
        f"dqn_ref: error: cannot write the video {video}: {cause}; name a video path in a "
        f"writable folder with free space; the run's files in {run_dir} are complete; {again}"
    ]
    assert_whole_run_files(run_dir)
    assert (run_dir / "summary.json").is_file() and not video.exists()
    assert list(video.parent.iterdir()) == []  # no temporary file left
    with failing_disk(Fault("agent.gif", code)):
        status, _, err = run_main(capsys, "eval", str(run_dir), "--video", str(video))
    assert status == 2
    assert err.splitlines() == [
        f"dqn_ref: error: cannot write the video {video}: {cause}; name a video path in a "
        f"writable folder with free space; the run's files in {run_dir} are unchanged; {again}"
    ]
    status, out, err = run_main(capsys, "eval", str(run_dir), "--video", str(video))
    assert status == 0, err
    assert video.stat().st_size > 0


def test_a_video_path_in_a_read_only_folder_is_refused_before_the_run_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read-only filesystem (a tmpfs mounted read-only) is known before training: the run is
    refused in one line and writes nothing, rather than failing after an hour of training."""
    read_only = tmp_path / "read-only"
    with small_tmpfs(read_only, 1024 * 1024):
        subprocess.run(["mount", "-o", "remount,ro", str(read_only)], check=True)
        video = read_only / "agent.gif"
        status, _, err = run_main(
            capsys, *FILMED_RUN, "--out", str(tmp_path / "run"), "--video", str(video)
        )
        assert status == 2
        assert err.splitlines() == [
            f"dqn_ref: error: cannot write a video to {video}: {read_only} is not a folder this "
            "process may write to; name a video path in a writable folder"
        ]
        assert not (tmp_path / "run").exists()


# Runs `main` with write_video replaced by one that receives SIGTERM half-way, as a `kill` while
# the GIF is written would; argv[1:] are the command's arguments.
SIGTERM_WHILE_FILMING = """
import os, signal, sys, time
import dqn_ref.training.saved_agent as saved_agent
from dqn_ref.run.main import main

def killed_while_writing(frames, fps, path):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)  # the signal's handler runs here
    raise AssertionError("SIGTERM did not arrive")

saved_agent.write_video = killed_while_writing
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_while_a_video_is_written_says_what_happened_as_ctrl_c_does(
    tmp_path: Path,
) -> None:
    """After training, and in eval: exit status 143 and one line that the video was interrupted,
    the run's files as they were, and how to film it again (the default SIGTERM would end the
    process silently, status -15)."""
    run_dir, video = tmp_path / "run", tmp_path / "agent.gif"
    again = f"film it again with: python -m dqn_ref.run eval {run_dir} --video {video}"
    commands = {
        "train": [*FILMED_RUN, "--out", str(run_dir), "--video", str(video)],
        "eval": ["eval", str(run_dir), "--video", str(video)],
    }
    kept = {"train": "are complete", "eval": "are unchanged"}
    for command, args in commands.items():
        ended = subprocess.run(
            [sys.executable, "-c", SIGTERM_WHILE_FILMING, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert ended.returncode == 143, (command, ended.returncode, ended.stderr)
        assert ended.stderr.splitlines() == [
            f"dqn_ref: interrupted by SIGTERM while writing the video {video}; the run's files "
            f"in {run_dir} {kept[command]}; {again}"
        ], command
        assert_whole_run_files(run_dir)
        assert not video.exists()

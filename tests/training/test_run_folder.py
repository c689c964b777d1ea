"""dqn_ref.training.run_folder and resume's repairs: one process per run folder, a lock that a
killed run does not leave stuck, and the leftovers of a crash removed or repaired in one line each
(spec/reliability.md#one-process-per-folder, #crash-leftovers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dqn_ref.run.main import main
from dqn_ref.training.checkpoint import load_checkpoint
from dqn_ref.training.metrics import read_metrics
from dqn_ref.training.run_folder import folder_lock

TINY_RUN = [
    "cartpole",
    "--steps", "200",
    "--num-envs", "1",
    "--learning-starts", "50",
    "--batch-size", "16",
    "--buffer-size", "500",
    "--hidden-sizes", "16",
    "--eval-interval", "100",
    "--eval-episodes", "2",
    "--final-eval-episodes", "2",
    "--no-progress",
]  # fmt: skip

# A process that takes a folder's lock, says so, and keeps it until it is killed.
HOLD_LOCK = """
import sys, time
from pathlib import Path
from dqn_ref.training.run_folder import folder_lock
with folder_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(600)
"""


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def finished_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    run_dir = tmp_path / "run"
    status, _, err = run_main(capsys, *TINY_RUN, "--out", str(run_dir))
    assert status == 0, err
    return run_dir


@pytest.fixture
def killed_run(finished_run: Path) -> Path:
    """A run killed after its final checkpoint, before it wrote summary.json: what is left to do
    is the final evaluation and the summary, and resume does it (a finished run is refused)."""
    (finished_run / "summary.json").unlink()
    return finished_run


def test_a_second_process_on_a_live_run_folder_is_refused_until_the_first_is_killed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], finished_run: Path
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(finished_run)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        refusal = (
            f"dqn_ref: error: {finished_run} is in use by another process, which is writing "
            "there; wait for it to end, or choose another folder"
        )
        for command in (
            ["resume", str(finished_run), "--no-progress"],
            [*TINY_RUN, "--out", str(finished_run), "--overwrite"],
            ["study", *TINY_RUN, "--seeds", "1", "--out", str(finished_run), "--overwrite"],
        ):
            status, _, err = run_main(capsys, *command)
            assert (status, err.splitlines()) == (2, [refusal]), command
        assert (finished_run / "checkpoint.pt").is_file()  # --overwrite removed nothing
    finally:
        holder.kill()  # SIGKILL: no handler runs, no cleanup; the OS releases the lock
        holder.wait()
    (finished_run / "summary.json").unlink()  # as if killed before its summary: resumable
    status, _, err = run_main(capsys, "resume", str(finished_run), "--no-progress")
    assert status == 0, err


def test_the_lock_is_held_for_the_block_and_released_after_it(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with folder_lock(folder):
        (folder / "config.json").write_text("{}")
        with pytest.raises(Exception, match="is in use by another process"), folder_lock(folder):
            pass
    with folder_lock(folder):
        pass
    assert [entry.name for entry in folder.iterdir()] == ["config.json"]  # no lock file left


def test_a_refused_run_leaves_no_folder_behind(tmp_path: Path) -> None:
    """A folder the lock created and nothing else wrote is removed when the block ends."""
    folder = tmp_path / "new" / "run"
    with pytest.raises(RuntimeError), folder_lock(folder):
        raise RuntimeError
    assert not folder.exists()


def test_resume_removes_a_temporary_file_left_by_a_killed_save_and_says_so(
    capsys: pytest.CaptureFixture[str], killed_run: Path
) -> None:
    leftover = killed_run / ".checkpoint.pt.k1ll3d.tmp"
    leftover.write_bytes(b"half a checkpoint")
    status, out, err = run_main(capsys, "resume", str(killed_run), "--no-progress")
    assert status == 0, err
    assert (
        f"dqn_ref: removed {leftover}, the temporary file of a save that was interrupted"
        in out.splitlines()
    )
    assert not leftover.exists()


def test_resume_drops_a_metrics_row_cut_short_by_a_crash_and_says_so(
    capsys: pytest.CaptureFixture[str], killed_run: Path
) -> None:
    metrics = killed_run / "metrics.csv"
    rows_kept = load_checkpoint(killed_run / "checkpoint.pt")["metrics_rows"]
    lines = metrics.read_text().splitlines(keepends=True)
    # After the checkpoint: the final evaluation's row, and half a row that a kill cut short.
    metrics.write_text("".join(lines) + "train,201,9,0.5,1")
    status, out, err = run_main(capsys, "resume", str(killed_run), "--no-progress")
    assert status == 0, err
    after = len(lines) - 1 - rows_kept + 1
    assert (
        f"dqn_ref: {metrics}: dropped {after} rows written after the checkpoint, the last one "
        "cut short by the crash"
    ) in out.splitlines()
    assert [row["kind"] for row in read_metrics(metrics)][-1] == "final"


def test_resume_drops_a_checkpointed_row_cut_short_and_says_so(
    capsys: pytest.CaptureFixture[str], killed_run: Path
) -> None:
    """A power cut can lose the end of a row the checkpoint counted (flushed, not yet on disk)."""
    metrics = killed_run / "metrics.csv"
    rows_kept = load_checkpoint(killed_run / "checkpoint.pt")["metrics_rows"]
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("".join(lines[:rows_kept]) + lines[rows_kept][:5])
    status, out, err = run_main(capsys, "resume", str(killed_run), "--no-progress")
    assert status == 0, err
    assert (
        f"dqn_ref: {metrics}: dropped its last checkpointed row, cut short by a crash"
        in out.splitlines()
    )
    assert len(read_metrics(metrics)) == rows_kept  # the rows kept, less the cut one, + final

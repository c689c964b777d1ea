"""dqn_ref.training.atomic: a process killed at any moment of a save leaves the previous file
whole."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dqn_ref.training.atomic import atomic_write

# A child that saves a 16 MB checkpoint-like file over and over, version 0, 1, 2, ..., through
# atomic_write, and prints each version once its save has returned.
SAVE_FOREVER = """
import sys
from pathlib import Path
import torch
from dqn_ref.training.atomic import atomic_write
path = Path(sys.argv[1])
version = 0
while True:
    payload = {"version": version, "weights": torch.full((4_000_000,), float(version))}
    atomic_write(path, lambda file: torch.save(payload, file))
    print(version, flush=True)
    version += 1
"""
SECONDS_TO_A_SAVE = 30.0  # generous: the child imports torch before its first save


def test_a_kill_during_a_save_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    """spec/reliability.md#checkpoints: SIGKILL while a save is under way (its temporary file
    exists) leaves checkpoint.pt loadable and equal to a version whose save had finished or was
    just renaming into place; never a truncated mix."""
    path = tmp_path / "checkpoint.pt"
    child = subprocess.Popen(
        [sys.executable, "-c", SAVE_FOREVER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdout is not None
    killed_mid_save = 0
    try:
        last_saved = int(child.stdout.readline())  # one whole save before the first kill
        deadline = time.monotonic() + SECONDS_TO_A_SAVE
        while not list(tmp_path.glob(".checkpoint.pt.*.tmp")):
            assert time.monotonic() < deadline, "the child never started a second save"
            time.sleep(0.001)
        # SIGKILL: no handler, no cleanup; a later version's temporary file is left behind.
        child.kill()
        child.wait()
        killed_mid_save = len(list(tmp_path.glob(".checkpoint.pt.*.tmp")))
    finally:
        child.kill()
        child.wait()
    printed = [last_saved] + [int(line) for line in child.stdout.read().split()]
    payload = torch.load(path, weights_only=True)
    assert payload["version"] in (printed[-1], printed[-1] + 1)
    assert bool((payload["weights"] == payload["version"]).all())
    assert killed_mid_save == 1, "the kill should have landed inside a save"


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    atomic_write(path, lambda file: file.write(b"old"))

    def fail_half_way(file: object) -> None:
        file.write(b"half")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, fail_half_way)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_a_written_file_gets_the_mode_open_would_give_it(tmp_path: Path) -> None:
    """The temporary file's private 0600 mode is not left on the result: with umask 022 a run's
    files are 0644, readable by the tools and people who share the machine, as open()'s are."""
    previous = os.umask(0o022)
    try:
        atomic_write(tmp_path / "file.bin", lambda file: file.write(b"x"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "file.bin").stat().st_mode) == 0o644

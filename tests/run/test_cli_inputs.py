"""Command lines generated from the real flag set: each one either starts a run or is refused
with exit status 2 and one line, never a traceback or a hang (spec/reliability.md#input-validation).

The CLI's main runs in this process (no interpreter start per example). Runs that start are
stopped after a few agent steps by a stop request, as Ctrl-C would stop them (exit status 130
and one line), so that a generated --steps 10**18 costs no more than --steps 64.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import typing
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from unittest import mock

import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st

import dqn_ref.run.train_command
from dqn_ref.config import DQNConfig
from dqn_ref.run.main import main
from dqn_ref.training.run_folder import folder_lock

STOP_AFTER_STEPS = 32  # agent steps a started run makes before its stop request
HANG_SECONDS = 60  # one example, from parsing to exit; a hang fails the test instead of CI
MOMENT_S = 0.01

# Small, fast defaults that generated flags override (argparse keeps the last value given).
BASE = [
    "--steps", "64",
    "--n-step", "1",  # the preset's 5-step returns with 8 copies need 40 steps before learning
    "--learning-starts", "8",
    "--batch-size", "8",
    "--buffer-size", "64",
    "--hidden-sizes", "16",
    "--eval-interval", "0",
    "--final-eval-episodes", "2",
    "--no-progress",
]  # fmt: skip

# Edge values per flag type: in range, at the edges, beyond what numpy and torch take, malformed.
INTS = ["-1", "0", "1", "2", "3", "8", "64", "1000", "2147483648", "4294967296",
        "9223372036854775808", "10" * 15, "x", "1.5", ""]  # fmt: skip
FLOATS = ["nan", "inf", "-inf", "-1", "0", "1e-3", "0.5", "1", "1.5", "1e308", "1e-400", "x", ""]
WIDTHS = ["1", "8,8", "0", "-1", "100000,100000", ",", "a", "9223372036854775808"]
# Fields whose generic values would be slow or disturb the machine when valid: a thousand torch
# threads, or Atari (Pong's evaluation episodes take minutes); refusals for those are in
# tests/test_config.py.
VALUES_BY_FIELD = {
    "torch_threads": ["-2", "-1", "0", "1", "2", "1025", "4294967296", "x"],
    "env_id": ["CartPole-v1", "CartPol-v1", "Pendulum-v1", "MountainCar-v0", ""],
    "env_kwargs": ["", "{}", '{"sutton_barto_reward": true}', '{"bogus": 1}', "[1]", "x", "nan"],
    # Refused before W&B is reached (no valid target: a valid one would log online).
    "wandb": ["", "/x", "a/b/c", "/"],
}
ERROR_LINE = re.compile(r"^(dqn_ref: error: |python -m dqn_ref\.run( \w+)*: error: ).+")


def field_arguments(name: str, annotation: Any) -> list[list[str]]:
    """Every `--flag=value` (or bare boolean flag) tried for one DQNConfig field, from its type;
    --flag=value, so that values starting with "-" are values, not flags."""
    flag = f"--{name.replace('_', '-')}"
    if annotation is bool:
        return [[flag], [f"--no-{flag[2:]}"]]
    if name in VALUES_BY_FIELD:
        values = VALUES_BY_FIELD[name]
    elif typing.get_origin(annotation) is typing.Literal:
        values = [*typing.get_args(annotation), "bogus"]
    elif typing.get_origin(annotation) is tuple:
        values = WIDTHS
    elif annotation is int:
        values = INTS
    else:  # float, or float | None
        values = ["none", *FLOATS]
    return [[f"{flag}={value}"] for value in values]


HINTS = typing.get_type_hints(DQNConfig)
FIELD_ARGUMENTS = {
    config_field.name: field_arguments(config_field.name, HINTS[config_field.name])
    for config_field in dataclasses.fields(DQNConfig)
}
ODD_ARGUMENTS = [["--no-such-field=1"], ["--steps"], ["--preset=fast"], ["--preset=paper"]]
config_flags = st.sampled_from(
    [*(arguments for options in FIELD_ARGUMENTS.values() for arguments in options), *ODD_ARGUMENTS]
)

TRAIN_FOLDERS = ["new", "empty", "file", "inside_a_file", "holds_run", "leftover", "locked"]
RUN_FOLDERS = ["missing", "empty", "finished", "cut_metrics", "leftover", "corrupt", "locked"]


@dataclasses.dataclass
class StopAfter:
    """Stands in for SignalStop: asks the loop to stop once it has made STOP_AFTER_STEPS."""

    signal_number: int | None = None

    def should_stop(self, step: int) -> bool:
        return step >= STOP_AFTER_STEPS

    def __enter__(self) -> StopAfter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


class HangError(Exception):
    pass


def hang(signal_number: int, frame: FrameType | None) -> None:
    raise HangError(f"no exit within {HANG_SECONDS} s")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("inputs") / "run"
    assert main(["cartpole", *BASE, "--steps", "100", "--out", str(run_dir)]) == 0
    return run_dir


def make_folder(state: str, path: Path, finished_run: Path, stack: contextlib.ExitStack) -> None:
    """Put `path` in one of the states TRAIN_FOLDERS and RUN_FOLDERS name."""
    if state in ("finished", "holds_run", "cut_metrics", "leftover", "locked"):
        shutil.copytree(finished_run, path)
    if state == "empty":
        path.mkdir()
    elif state == "file":
        path.write_text("not a folder")
    elif state == "inside_a_file":
        path.write_text("not a folder")
        path /= "run"
    elif state == "cut_metrics":
        with (path / "metrics.csv").open("a") as metrics:
            metrics.write("train,101,9,0.5")  # a row a kill cut short
    elif state == "leftover":
        (path / ".checkpoint.pt.k1ll3d.tmp").write_bytes(b"half a save")
    elif state == "corrupt":
        path.mkdir()
        (path / "checkpoint.pt").write_bytes(b"PK\x03\x04 cut short")
    elif state == "locked":
        stack.enter_context(folder_lock(path))


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[list[str], str]:
    """A command, its arguments, and the state of the run folder it names."""
    command = draw(st.sampled_from(["cartpole", "cartpole", "cartpole", "resume", "eval"]))
    if command == "cartpole":
        flags = draw(st.lists(config_flags, min_size=1, max_size=4))
        overwrite = draw(st.sampled_from([[], ["--overwrite"]]))
        argv = ["cartpole", *BASE, *[part for pair in flags for part in pair]]
        return [*argv, *overwrite], draw(st.sampled_from(TRAIN_FOLDERS))
    if command == "resume":
        options = draw(st.sampled_from([[], ["--device=cpu"], ["--device=tpu"], ["--bogus"]]))
        return ["resume", "--no-progress", *options], draw(st.sampled_from(RUN_FOLDERS))
    episodes = draw(st.sampled_from(["1", "3", "0", "-1", "10001", "x"]))
    epsilon = draw(st.sampled_from(["0", "0.5", "1", "1.5", "nan", "x"]))
    options = [f"--episodes={episodes}", f"--epsilon={epsilon}"]
    return ["eval", *options], draw(st.sampled_from(RUN_FOLDERS))


@contextlib.contextmanager
def one_example() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """Captured output, the hang alarm, the stop request, and torch's thread count restored.

    The alarm shares the process's one real-time timer with the suite's per-test time limit
    (pytest-timeout's signal method, pyproject.toml): that limit's timer is set again, less the
    time this example took, once the example ends."""
    threads = torch.get_num_threads()
    out, err = io.StringIO(), io.StringIO()
    outer_remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_SECONDS)
    try:
        with (
            mock.patch.object(dqn_ref.run.train_command, "SignalStop", StopAfter),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            yield out, err
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining > 0:  # at least a moment, so that a limit already spent still fires
            left = outer_remaining - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, MOMENT_S))
        torch.set_num_threads(threads)


def scratch_folder() -> tempfile.TemporaryDirectory[str]:
    """A scratch folder, in memory where the machine has /dev/shm: runs fsync every save."""
    shm = Path("/dev/shm")
    return tempfile.TemporaryDirectory(
        dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    )


def run_command_line(argv: list[str]) -> tuple[int, list[str]]:
    """main(argv) as the shell would see it: exit status and stderr lines."""
    with one_example() as (_, err):
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse's refusals
            status = exit_.code if isinstance(exit_.code, int) else 2
    assert "Traceback" not in err.getvalue(), (argv, err.getvalue())
    return status, err.getvalue().splitlines()


def assert_started_or_refused(argv: list[str], status: int, lines: list[str]) -> None:
    if status == 2:
        assert len(lines) == 1 and ERROR_LINE.match(lines[0]), (argv, lines)
    elif status == 130:  # started, then stopped by StopAfter
        assert len(lines) == 1 and lines[0].startswith("dqn_ref: interrupted"), (argv, lines)
    else:
        assert status == 0, (argv, status, lines)


# The one refusal that comes from a run under way, with its files kept: the numerical guard.
STOPPED_RUN = "became non-finite"


@pytest.mark.parametrize("name", list(FIELD_ARGUMENTS))
def test_each_flag_at_each_edge_value_starts_a_run_or_is_refused_in_one_line(name: str) -> None:
    """Every value tried for one config field, alone on top of the small defaults; a refused one
    leaves no run folder (spec/reliability.md#input-validation: refusals come before a write)."""
    for arguments in FIELD_ARGUMENTS[name]:
        with scratch_folder() as scratch:
            run_dir = Path(scratch) / "run"
            argv = ["cartpole", *BASE, *arguments, "--out", str(run_dir)]
            status, lines = run_command_line(argv)
            assert_started_or_refused(argv, status, lines)
            if status == 2 and STOPPED_RUN not in lines[0]:
                assert not run_dir.exists(), (argv, lines, sorted(run_dir.iterdir()))


@settings(max_examples=100, deadline=None)
@given(command_lines())
def test_every_command_line_starts_a_run_or_is_refused_in_one_line(
    finished_run: Path, command_line: tuple[list[str], str]
) -> None:
    """Combinations of flags, and run folders in every state, for training, resume and eval."""
    argv, state = command_line
    with scratch_folder() as scratch, contextlib.ExitStack() as stack:
        folder = Path(scratch) / "run"
        make_folder(state, folder, finished_run, stack)
        if state == "inside_a_file":
            folder /= "run"
        where = ["--out", str(folder)] if argv[0] == "cartpole" else [str(folder)]
        argv = [argv[0], *where, *argv[1:]] if argv[0] != "cartpole" else [*argv, *where]
        status, lines = run_command_line(argv)
        event(f"{argv[0]}, {state}: exit {status}")
        assert_started_or_refused(argv, status, lines)


def test_an_examples_hang_alarm_fires_and_the_per_test_time_limit_survives_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hanging example ends with HangError at its own alarm, also under the suite's per-test
    time limit (pytest-timeout's signal method: a SIGALRM timer too), and once the example is
    over that limit's timer runs again, less the time the example took."""
    monkeypatch.setattr(sys.modules[__name__], "HANG_SECONDS", 1)
    outer_before, _ = signal.getitimer(signal.ITIMER_REAL)
    with pytest.raises(HangError), one_example():
        while True:
            time.sleep(0.05)
    outer_after, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_before > 0:  # run under the suite's time limit
        assert 0 < outer_after <= outer_before - 1
    else:
        assert outer_after == 0

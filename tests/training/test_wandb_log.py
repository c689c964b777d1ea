"""Weights & Biases logging (dqn_ref/training/wandb_log.py), offline (WANDB_MODE=offline, no
network): the W&B run file in the run folder holds the TensorBoard event file's scalars, at the
same agent steps, and the run's config."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dqn_ref.training.wandb_log as wandb_log
from dqn_ref.errors import DQNRefError
from dqn_ref.run.main import main
from tests.training.test_tensorboard_log import TINY_RUN, assert_points, scalars

BLOCK = 32_768  # the LevelDB log format of W&B's run file: 32 KiB blocks
HEADER = struct.Struct("<4sHB")  # ":W&B", magic, version
RECORD = struct.Struct("<IHB")  # crc32, length, type (1 full, 2 first, 3 middle, 4 last)


def chunks(data: bytes) -> Iterator[bytes]:
    """The records of a W&B run file (its LevelDB log format), whole."""
    assert HEADER.unpack(data[: HEADER.size])[0] == b":W&B"
    position, pieces = HEADER.size, b""
    while position + RECORD.size <= len(data):
        left = BLOCK - position % BLOCK
        _, length, kind = RECORD.unpack(data[position : position + RECORD.size])
        if left < RECORD.size or (kind == 0 and length == 0):  # a block's zero padding
            position += left
            continue
        piece = data[position + RECORD.size : position + RECORD.size + length]
        position += RECORD.size + length
        pieces = piece if kind in (1, 2) else pieces + piece
        if kind in (1, 4):
            yield pieces


def wandb_run(run_dir: Path) -> tuple[Any, dict[str, list[tuple[int, float]]]]:
    """The run record (project, name, config) and tag -> [(agent step, value)] of the one
    offline W&B run under run_dir/wandb/."""
    from wandb.proto import wandb_internal_pb2

    (path,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    run: Any = None
    history: dict[str, list[tuple[int, float]]] = {}
    for raw in chunks(path.read_bytes()):
        record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
        if kind == "history":
            row = {
                item.key or "/".join(item.nested_key): json.loads(item.value_json)
                for item in record.history.item
            }
            assert wandb_log.STEP_METRIC in row, row
            for tag, value in row.items():
                if not tag.startswith("_") and tag != wandb_log.STEP_METRIC:
                    history.setdefault(tag, []).append((row[wandb_log.STEP_METRIC], value))
    return run, history


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    pytest.importorskip("tensorboard")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


def test_wandb_holds_tensorboards_scalars_and_the_config(tmp_path: Path, offline: None) -> None:
    """`--wandb PROJECT/NAME` from the command line: every TensorBoard tag, at the same agent
    steps with the same values, and config.json's fields as the W&B run's config."""
    run_dir = tmp_path / "run"
    args = ["cartpole", "--steps", "600", "--num-envs", "1", "--learning-starts", "100"]
    args += ["--buffer-size", "1000", "--eval-interval", "200", "--eval-episodes", "2"]
    args += ["--final-eval-episodes", "2", "--max-episode-steps", "50", "--device", "cpu"]
    args += ["--no-progress", "--tensorboard", "--wandb", "dqn-ref-test/tiny"]
    args += ["--out", str(run_dir)]
    assert main(args) == 0
    run, history = wandb_run(run_dir)
    board = scalars(run_dir)
    assert set(history) == set(board) >= {"train/episode_return", "eval/mean", "final/mean"}
    for tag, points in board.items():
        assert_points(history[tag], points, tag)
    assert (run.project, run.display_name) == ("dqn-ref-test", "tiny")
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    written = json.loads((run_dir / "config.json").read_text())["config"]
    assert {name: config[name] for name in written} == written


def test_the_run_name_defaults_to_the_run_folders(tmp_path: Path, offline: None) -> None:
    from dqn_ref.training.train import train

    config = TINY_RUN.replace(total_steps=200, eval_interval=0, tensorboard=False, wandb="proj")
    train(config, tmp_path / "my-run", progress=False)
    run, history = wandb_run(tmp_path / "my-run")
    assert (run.project, run.display_name) == ("proj", "my-run")
    assert "final/mean" in history and "eval/mean" not in history


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("proj/name/extra", "wandb='proj/name/extra' must be PROJECT or PROJECT/RUN_NAME"),
        ("/name", "wandb='/name' must be PROJECT or PROJECT/RUN_NAME"),
    ],
)
def test_a_wandb_target_w_and_b_cannot_name_is_one_line(
    tmp_path: Path, target: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["cartpole", "--steps", "100", "--wandb", target, "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line and not out.exists()


def test_wandb_without_the_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wandb_log, "wandb_available", lambda: False)
    with pytest.raises(DQNRefError, match=r"--wandb needs the wandb package: pip install"):
        wandb_log.check_wandb("proj")
    wandb_log.check_wandb("")  # off: nothing to check


def test_wandb_online_without_a_key_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No WANDB_MODE=offline, no WANDB_API_KEY, no netrc entry: W&B would ask for a key (or
    raise); the run is refused in one line instead, its folder unwritten."""
    pytest.importorskip("wandb")
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "absent-netrc"))
    out = tmp_path / "run"
    assert main(["cartpole", "--steps", "100", "--wandb", "proj", "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--wandb needs a W&B login" in line and "WANDB_MODE=offline" in line
    assert not out.exists()
    (tmp_path / "netrc").write_text("machine api.wandb.ai\n  login user\n  password key\n")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert wandb_log.wandb_can_log()

"""The study's Ray backend: a tiny two-seed study on a local Ray instance of one CPU, one of whose
workers dies, writes what the local backend writes; without Ray, --backend ray says what to
install."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from dqn_ref.config import DQNConfig
from dqn_ref.run.main import main
from dqn_ref.training.metrics import read_metrics
from dqn_ref.training.tensorboard_log import EVENT_FILE_PREFIX
from tests.studies.test_study import TINY_STUDY, one_line_error

DEATH_MARKER = "DQN_REF_TEST_DEATH_MARKER"


def dying_once(config: DQNConfig, preset_name: str, board: Any, unit: str) -> dict[str, bytes]:
    """Seed 1's first attempt kills its worker process, as a crash or an out-of-memory kill
    would; the retry trains it."""
    from dqn_ref.studies.ray_backend import train_seed_task

    marker = Path(os.environ[DEATH_MARKER])
    if config.seed == 1 and not marker.exists():
        marker.write_text("died once")
        os._exit(1)
    return train_seed_task(config, preset_name, board, unit)


def folder_files(folder: Path) -> list[str]:
    """The files under folder; a TensorBoard event file's name, which holds the time and host that
    wrote it, shortened to its prefix."""
    names = (path.relative_to(folder).as_posix() for path in folder.rglob("*"))
    event_file = re.compile(f"{re.escape(EVENT_FILE_PREFIX)}.*")
    return sorted(event_file.sub(EVENT_FILE_PREFIX, name) for name in names)


def without_clock(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    clocks = {"wall_time_s", "train_time_s"}
    return [{key: value for key, value in row.items() if key not in clocks} for row in rows]


@pytest.mark.slow
def test_ray_study_survives_a_dead_worker_and_writes_what_the_local_backend_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two seeds, one Ray task each on a local instance of 1 CPU: seed 1's first worker dies and
    Ray trains it again. The study folder holds the same files as a local study's, and each
    seed's metrics.csv is the local seed's row for row (clocks aside): a CPU run is
    deterministic, so this checks that each task trained its own seed with the study's config."""
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    import dqn_ref.studies.ray_backend

    monkeypatch.setenv(DEATH_MARKER, str(tmp_path / "died"))
    # The workers import dqn_ref, not this test module: the task goes to them by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(dqn_ref.studies.ray_backend, "train_seed_task", dying_once)
    try:
        ray_out, local_out = tmp_path / "ray", tmp_path / "local"
        ray_flags = ["--backend", "ray", "--workers", "1", "--out", str(ray_out)]
        assert main([*TINY_STUDY, *ray_flags]) == 0
        assert (tmp_path / "died").exists()  # seed 1's first worker did die
        assert not ray.is_initialized()  # the local instance was shut down
        assert main([*TINY_STUDY, "--workers", "1", "--out", str(local_out)]) == 0
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    printed = capsys.readouterr().out
    assert "one Ray task each on a local Ray instance of 1 CPUs" in printed

    assert folder_files(ray_out) == folder_files(local_out)
    for seed in (0, 1):
        ray_rows = read_metrics(ray_out / f"seed{seed}" / "metrics.csv")
        local_rows = read_metrics(local_out / f"seed{seed}" / "metrics.csv")
        assert without_clock(ray_rows) == without_clock(local_rows)
    ray_study = json.loads((ray_out / "study.json").read_text())
    local_study = json.loads((local_out / "study.json").read_text())
    assert (ray_study["backend"], local_study["backend"]) == ("ray", "local")
    assert ray_study["seeds"] == local_study["seeds"] == [0, 1]
    for ray_seed, local_seed in zip(ray_study["per_seed"], local_study["per_seed"], strict=True):
        assert ray_seed["steps_to_solve"] == local_seed["steps_to_solve"]
        assert ray_seed["final_eval"] == local_seed["final_eval"]
    assert (ray_out / "study.csv").read_text().splitlines()[0] == (
        (local_out / "study.csv").read_text().splitlines()[0]
    )


def test_ray_backend_without_ray_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    out = tmp_path / "study"
    assert main([*TINY_STUDY, "--backend", "ray", "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, "--backend ray needs Ray", "pip install 'dqn_ref[ray]'")
    assert not out.exists()


def test_address_without_the_ray_backend_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    assert main([*TINY_STUDY, "--address", "auto", "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, "--address", "--backend ray")
    assert not out.exists()

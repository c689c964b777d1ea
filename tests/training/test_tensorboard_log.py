"""The run's TensorBoard event file, read back with TensorBoard's own reader: each metrics.csv row
is there at its agent step, with the mean Q of the taken actions and the speeds; --no-tensorboard
writes none; without the package, --tensorboard is a one-line error."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import pytest

from dqn_ref.presets import cartpole
from dqn_ref.run.main import main
from dqn_ref.training.metrics import read_metrics
from dqn_ref.training.tensorboard_log import EVENT_FILE_PREFIX
from dqn_ref.training.train import train
from tests.studies.test_study import one_line_error

TINY_RUN = cartpole.replace(
    total_steps=600,
    num_envs=1,
    learning_starts=100,
    buffer_size=1000,
    eval_interval=200,
    eval_episodes=2,
    final_eval_episodes=2,
    max_episode_steps=50,
    device="cpu",
)


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value), ...] from the run folder's event file(s)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})  # keep all
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


def assert_points(
    logged: list[tuple[int, float]], expected: list[tuple[int, float]], tag: str
) -> None:
    """Same steps exactly; values equal to the 6 significant digits metrics.csv keeps."""
    assert [step for step, _ in logged] == [step for step, _ in expected], tag
    assert [value for _, value in logged] == pytest.approx(
        [value for _, value in expected], rel=1e-5
    ), tag


def test_event_file_holds_every_metrics_row_at_its_agent_step(tmp_path: Path) -> None:
    """Training rows give return, length, epsilon and loss at their step; evaluation rows their
    mean and std; the mean Q of taken actions and both speeds are there and finite."""
    pytest.importorskip("tensorboard")
    run_dir = tmp_path / "run"
    result = train(TINY_RUN, run_dir, "cartpole", progress=False)
    assert len(list(run_dir.glob(f"{EVENT_FILE_PREFIX}*"))) == 1
    logged = scalars(run_dir)
    rows = read_metrics(run_dir / "metrics.csv")
    train_rows = [row for row in rows if row["kind"] == "train"]

    def expected(kind: str, column: str) -> list[tuple[int, float]]:
        return [
            (int(row["step"]), float(row[column]))
            for row in rows
            if row["kind"] == kind and row[column] != ""
        ]

    for tag, column in [
        ("train/episode_return", "return"),
        ("train/episode_length", "length"),
        ("train/epsilon", "epsilon"),
        ("train/loss", "loss"),
    ]:
        assert_points(logged[tag], expected("train", column), tag)
    assert_points(logged["eval/mean"], expected("eval", "return"), "eval/mean")
    assert_points(logged["eval/std"], expected("eval", "eval_std"), "eval/std")
    assert_points(logged["final/mean"], expected("final", "return"), "final/mean")
    assert [step for step, _ in logged["eval/mean"]] == [200, 400, 600]

    # One mean Q per training row with updates since the previous row: the rows with a loss.
    assert [step for step, _ in logged["train/mean_q_taken"]] == [
        int(row["step"]) for row in train_rows if row["loss"] != ""
    ]
    assert all(math.isfinite(value) for _, value in logged["train/mean_q_taken"])
    assert logged["speed/steps_per_s"] and logged["speed/updates_per_s"]
    assert all(value > 0 for _, value in logged["speed/steps_per_s"])
    assert result.updates > 0


def test_no_tensorboard_writes_no_event_file(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train(TINY_RUN.replace(total_steps=200, tensorboard=False), run_dir, progress=False)
    assert (run_dir / "metrics.csv").is_file()
    assert not list(run_dir.glob(f"{EVENT_FILE_PREFIX}*"))


def test_tensorboard_flag_without_the_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # find_spec and import then fail
    out = tmp_path / "run"
    assert main(["cartpole", "--steps", "100", "--tensorboard", "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, "--tensorboard", "pip install 'dqn_ref[tensorboard]'")
    assert not out.exists()


def hparams_in(run_dir: Path) -> dict[str, object]:
    """The run's hyperparameters as TensorBoard's HPARAMS tab reads them, from the event file."""
    from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    (event_file,) = run_dir.glob(f"{EVENT_FILE_PREFIX}*")
    for event in EventFileLoader(str(event_file)).Load():
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name != "hparams":
                continue
            data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
            if data.HasField("session_start_info"):
                hparams = MessageToDict(data.session_start_info)["hparams"]
                return dict(hparams)
    raise AssertionError("no hparams in the event file")


def test_the_event_file_holds_the_config_as_hyperparameters(tmp_path: Path) -> None:
    """Every field, with its value: numbers as numbers, tuples and None as text."""
    config = TINY_RUN.replace(total_steps=150, eval_interval=0, learning_rate_end=None)
    train(config, tmp_path / "run", progress=False)
    hparams = hparams_in(tmp_path / "run")
    assert set(hparams) == set(dataclasses.asdict(config))
    assert hparams["learning_rate"] == config.learning_rate
    assert hparams["total_steps"] == 150 and hparams["env_id"] == "CartPole-v1"
    assert hparams["hidden_sizes"] == ",".join(map(str, config.hidden_sizes))
    assert hparams["learning_rate_end"] == "none"
    assert hparams["double_q"] == str(config.double_q).lower()

"""`resume` on run folders it must refuse: one line naming the problem and the fix, exit status 2,
and every file of the folder byte for byte as it was (spec/reliability.md#resume).

Each case starts from a run stopped part-way (or one that finished), changes one thing the way a
user could (an edit by hand, a file replaced), and resumes it from the command line.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from dqn_ref.loop import updates_due
from dqn_ref.run.main import main
from dqn_ref.training.checkpoint import config_of, load_checkpoint

# A short CartPole run, stopped at step 150 of 300 by SIGINT's stand-in, or left to finish.
TINY_RUN = [
    "cartpole",
    "--steps", "300",
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
STOP_AT = 150


class StopAt:
    """Stands in for SignalStop: a stop request at STOP_AT, as Ctrl-C would make one."""

    signal_number: int | None = None

    def should_stop(self, step: int) -> bool:
        return step >= STOP_AT

    def __enter__(self) -> StopAt:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


# Two other ways a run finishes before total_steps: at its total_episodes, and, with
# stop_when_solved, at its first evaluation solved in every episode (a threshold of 1 is, at the
# first evaluation, step 100), as the default CartPole run ends.
ENDS_AT_EPISODES = ["--total-episodes", "3"]
ENDS_SOLVED = ["--stop-when-solved", "--solved-threshold", "1"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Runs finished at their step limit, at their episode limit and once solved, and one
    stopped at step 150 (with a checkpoint there)."""
    folder = tmp_path_factory.mktemp("resume")
    assert main([*TINY_RUN, "--out", str(folder / "finished")]) == 0
    assert main([*TINY_RUN, *ENDS_AT_EPISODES, "--out", str(folder / "episodes")]) == 0
    assert main([*TINY_RUN, *ENDS_SOLVED, "--out", str(folder / "solved")]) == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("dqn_ref.run.train_command.SignalStop", StopAt)
        assert main([*TINY_RUN, "--out", str(folder / "stopped")]) == 130
    return {name: folder / name for name in ("finished", "episodes", "solved", "stopped")}


def edit_config_json(run_dir: Path, **changes: object) -> None:
    path = run_dir / "config.json"
    written = json.loads(path.read_text())
    written["config"].update(changes)
    path.write_text(json.dumps(written, indent=2))


def edit_checkpoint_config(run_dir: Path, **changes: object) -> None:
    """The checkpoint's own config changed (and config.json with it, so that the two agree)."""
    payload = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    payload["config"].update(changes)
    torch.save(payload, run_dir / "checkpoint.pt")
    edit_config_json(run_dir, **changes)


def as_another_task(run_dir: Path) -> None:
    """config.json of another task beside the checkpoint (or the checkpoint of another task
    copied in): its env id differs, and so do fields that sort before it."""
    written = json.loads((run_dir / "config.json").read_text())["config"]
    edit_config_json(run_dir, env_id="Acrobot-v1", double_q=not written["double_q"], batch_size=64)


def write_text(path: Path, text: str) -> None:
    path.write_text(text)


def cut_metrics(run_dir: Path) -> None:
    rows = load_checkpoint(run_dir / "checkpoint.pt")["metrics_rows"]
    lines = (run_dir / "metrics.csv").read_text().splitlines(keepends=True)
    (run_dir / "metrics.csv").write_text("".join(lines[:rows]))  # header and one row short


def leave_a_temporary_file(run_dir: Path) -> None:
    (run_dir / ".checkpoint.pt.k1ll3d.tmp").write_bytes(b"half a save")


# (case, the run it starts from, what is done to it, the message's start after "error: ", and a
# fragment naming the fix)
REFUSALS: list[tuple[str, str, Callable[[Path], None], str, str]] = [
    (
        "finished",
        "finished",
        lambda run_dir: None,
        "{run_dir} holds a finished run (300 agent steps, summary.json written)",
        "evaluate it with: python -m dqn_ref.run eval",
    ),
    (
        "finished at its total_episodes",
        "episodes",
        lambda run_dir: None,
        "{run_dir} holds a finished run (its 3 episodes in ",
        "evaluate it with: python -m dqn_ref.run eval",
    ),
    (
        "stopped once solved",
        "solved",
        lambda run_dir: None,
        "{run_dir} holds a finished run (stopped once solved at step 100: every episode of that "
        "evaluation reached 1, summary.json written)",
        "evaluate it with: python -m dqn_ref.run eval",
    ),
    (
        "finished, with a crash leftover",
        "finished",
        leave_a_temporary_file,
        "{run_dir} holds a finished run",
        "or continue it to N agent steps: python -m dqn_ref.run resume",
    ),
    (
        "config.json's network edited",
        "stopped",
        lambda run_dir: edit_config_json(run_dir, hidden_sizes=[64, 64]),
        "{run_dir}/config.json says hidden_sizes=[64, 64] but checkpoint.pt was trained with "
        "hidden_sizes=[16]",
        "put config.json's value back",
    ),
    (
        "config.json's learning rate edited",
        "stopped",
        lambda run_dir: edit_config_json(run_dir, learning_rate=0.5),
        "{run_dir}/config.json says learning_rate=0.5 but checkpoint.pt was trained with",
        "train a new run with the new value",
    ),
    (
        "config.json's steps edited on a finished run",
        "finished",
        lambda run_dir: edit_config_json(run_dir, total_steps=600),
        "{run_dir} holds a finished run",
        "--steps N",
    ),
    (
        "config.json of another task",
        "stopped",
        as_another_task,
        "{run_dir}/config.json says env_id='Acrobot-v1' but checkpoint.pt was trained with "
        "env_id='CartPole-v1' (and differs in 2 other fields)",
        "train a new run with the new value",
    ),
    (
        "config.json not JSON",
        "stopped",
        lambda run_dir: write_text(run_dir / "config.json", "{hidden_sizes: 64"),
        "{run_dir}/config.json is not the config a run writes (JSONDecodeError)",
        "remove it and resume writes it again",
    ),
    (
        "the checkpoint's networks do not fit its config",
        "stopped",
        lambda run_dir: edit_checkpoint_config(run_dir, hidden_sizes=[64, 64]),
        "the checkpoint's networks do not fit its config (RuntimeError)",
        "its config was edited",
    ),
    (
        "the checkpoint's config invalid",
        "stopped",
        lambda run_dir: edit_checkpoint_config(run_dir, gamma=2.0),
        "invalid config: gamma=2.0 must lie in [0, 1]",
        "[0, 1]",
    ),
    (
        "metrics.csv cut by hand",
        "stopped",
        cut_metrics,
        "{run_dir}/metrics.csv does not hold the",
        "as the run left it",
    ),
]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by relative path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    ("start", "damage", "message", "fix"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_a_refused_resume_is_one_line_and_changes_no_file(
    runs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    start: str,
    damage: Callable[[Path], None],
    message: str,
    fix: str,
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(runs[start], run_dir)
    damage(run_dir)
    before = snapshot(run_dir)
    status = main(["resume", str(run_dir), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("dqn_ref: error: " + message.format(run_dir=run_dir)), lines[0]
    assert fix in lines[0]
    assert snapshot(run_dir) == before


def test_a_stopped_run_resumes_and_its_summary_names_the_folder_absolutely(
    runs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The refusals above are not over-eager: the stopped run, config.json as written and a
    crash's leftover in the folder, resumes from a relative path, also on another --device
    setting, and finishes with the counts of its steps; summary.json's run_dir is absolute."""
    shutil.copytree(runs["stopped"], tmp_path / "run")
    leave_a_temporary_file(tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    status = main(["resume", "run", "--device", "cpu", "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0
    assert "dqn_ref: removed run/.checkpoint.pt.k1ll3d.tmp" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["run_dir"] == str(tmp_path / "run")
    assert summary["steps"] == 300
    # The updates skipped while the buffer refilled (50 steps from 150) and those made add up
    # to the schedule's, and the skipped ones are those of the refill.
    config = config_of(load_checkpoint(tmp_path / "run" / "checkpoint.pt"))
    assert summary["updates"] == updates_due(config, 300)
    refill = updates_due(config, STOP_AT + config.learning_starts - 1) - updates_due(
        config, STOP_AT
    )
    assert summary["updates_skipped"] == refill > 0


def test_a_run_killed_before_its_summary_resumes_to_the_summary_it_would_have_written(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without its replay buffer in the checkpoint, a resume counts the updates of the refill as
    skipped in advance; in a run whose loop is over none of them are due, so the summary counts
    the updates the run made, none skipped, as the run's own summary did."""
    shutil.copytree(runs["finished"], tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    (tmp_path / "run" / "summary.json").unlink()
    assert main(["resume", str(tmp_path / "run"), "--no-progress"]) == 0, capsys.readouterr().err
    again = json.loads((tmp_path / "run" / "summary.json").read_text())
    for name in ("steps", "episodes", "updates", "updates_skipped", "final_eval"):
        assert again[name] == summary[name], name
    assert again["updates_skipped"] == 0

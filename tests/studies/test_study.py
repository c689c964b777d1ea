"""The study command: one real run per seed in worker processes, a table that says what each seed's
run folder says, the paper's success rate, and the command line's refusals and errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dqn_ref.presets import PRESETS, cartpole
from dqn_ref.run.main import main
from dqn_ref.studies.seed_result import (
    SeedResult,
    StudyAggregate,
    episode_return_cap,
    read_seed_result,
    success_rate,
)
from dqn_ref.studies.study import STUDY_FILES, prepare_study_dir
from dqn_ref.studies.study_report import aggregate_lines, describe_seed
from dqn_ref.training.metrics import COLUMNS, read_metrics

TIME_LIMIT = 20  # a random policy's CartPole episodes last about 20 steps: some reach the limit
SOLVED_THRESHOLD = 12.0
TINY_STUDY = [
    "study",
    "cartpole",
    "--seeds",
    "2",
    "--workers",
    "2",
    "--steps",
    "400",
    "--num-envs",
    "1",  # one copy, so evaluations fall exactly on multiples of --eval-interval
    "--learning-starts",
    "100",
    "--buffer-size",
    "1000",
    "--eval-interval",
    "200",
    "--eval-episodes",
    "2",
    "--final-eval-episodes",
    "2",
    "--max-episode-steps",
    str(TIME_LIMIT),
    "--solved-threshold",
    str(SOLVED_THRESHOLD),
    "--no-progress",
]


def one_line_error(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def blank_if_none(value: object) -> str:
    return "" if value is None else str(value)


def test_tiny_study_writes_a_table_that_matches_each_seeds_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two seeds trained side by side: every study file is written, and each row of study.csv
    is what that seed's summary.json and metrics.csv say, recomputed here independently."""
    out = tmp_path / "study"
    assert main([*TINY_STUDY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in STUDY_FILES:
        assert (out / name).is_file(), name
    for name in ("curves.png", "boxplot.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not list(out.glob(".*.tmp"))

    with (out / "study.csv").open(newline="") as file:
        table = list(csv.DictReader(file))
    assert [row["seed"] for row in table] == ["0", "1"]
    for row in table:
        run_dir = out / f"seed{row['seed']}"
        assert (run_dir / "train.log").is_file()
        summary = json.loads((run_dir / "summary.json").read_text())
        metrics = read_metrics(run_dir / "metrics.csv")
        assert json.loads((run_dir / "config.json").read_text())["config"]["seed"] == int(
            row["seed"]
        )
        train_returns = [float(m["return"]) for m in metrics if m["kind"] == "train"]
        evaluations = [(int(m["step"]), float(m["return"])) for m in metrics if m["kind"] == "eval"]
        assert [step for step, _ in evaluations] == [200, 400]
        solving = [step for step, mean in evaluations if mean >= SOLVED_THRESHOLD]
        # The stable solve, by its definition: the first evaluation from which all solve.
        stably = [
            step
            for index, (step, _) in enumerate(evaluations)
            if all(mean >= SOLVED_THRESHOLD for _, mean in evaluations[index:])
        ]

        assert row["solved"] == ("yes" if solving else "no")
        assert row["steps_to_solve"] == blank_if_none(solving[0] if solving else None)
        assert row["steps_to_solve"] == blank_if_none(summary["first_solved_step"])
        assert row["seconds_to_solve"] == blank_if_none(summary["first_solved_time_s"])
        assert row["train_seconds_to_solve"] == blank_if_none(
            summary.get("first_solved_train_time_s")
        )
        assert row["stable_steps_to_solve"] == blank_if_none(stably[0] if stably else None)
        assert row["stable_steps_to_solve"] == blank_if_none(summary["stable_solved_step"])
        assert row["stable_seconds_to_solve"] == blank_if_none(summary["stable_solved_time_s"])
        stable_train_s = [
            m["train_time_s"] for m in metrics if m["kind"] == "eval" and stably
            and int(m["step"]) == stably[0]
        ]  # fmt: skip
        assert row["stable_train_seconds_to_solve"] == (stable_train_s[0] if stably else "")
        assert row["stable_train_seconds_to_solve"] == blank_if_none(
            summary["stable_solved_train_time_s"]
        )
        reached = sum(episode_return >= TIME_LIMIT for episode_return in train_returns)
        assert float(row["success_rate"]) == pytest.approx(reached / len(train_returns))
        assert int(row["episodes"]) == len(train_returns) == summary["episodes"]
        assert int(row["steps"]) == 400 == summary["steps"]
        assert float(row["mean_train_return"]) == pytest.approx(
            sum(train_returns) / len(train_returns)
        )
        assert float(row["best_eval"]) == max(mean for _, mean in evaluations)
        assert float(row["final_eval"]) == summary["final_eval"]["mean"]
        assert f"seed {row['seed']}: " in printed

    study = json.loads((out / "study.json").read_text())
    assert study["episode_return_cap"] == TIME_LIMIT
    assert study["seeds"] == [0, 1] and study["config"]["total_steps"] == 400
    aggregate = study["aggregate"]
    assert aggregate["solved"] == sum(row["solved"] == "yes" for row in table)
    assert aggregate["stably_solved"] == sum(row["stable_steps_to_solve"] != "" for row in table)
    finals = sorted(float(row["final_eval"]) for row in table)
    # Two seeds: a quarter of 2 rounds down to none cut, so the IQM is their mean.
    assert aggregate["final_eval"]["iqm"] == pytest.approx(sum(finals) / 2)
    assert aggregate["final_eval"]["iqm_ci_low"] == finals[0]
    assert aggregate["final_eval"]["iqm_ci_high"] == finals[1]
    assert [seed["success_rate"] for seed in study["per_seed"]] == [
        float(row["success_rate"]) for row in table
    ]
    markdown = (out / "study.md").read_text()
    assert "--seeds 2 --workers 2" in markdown  # the command line that made the study
    assert "| 0 | " in markdown and "| 1 | " in markdown
    assert "of 2 seeds" in markdown and f"study folder: {out}" in printed
    assert "IQM" in markdown and "95% CI" in markdown and "stable solve" in markdown


def write_metrics(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)


def test_success_rate_counts_training_episodes_that_reach_the_time_limit(tmp_path: Path) -> None:
    """The paper's success rate on a hand-made run folder: 2 of the 4 training episodes return
    500 (499 falls short); evaluation rows, even at 500, are not training episodes."""
    assert episode_return_cap(cartpole) == 500.0  # CartPole-v1's own time limit, +1 per step
    assert episode_return_cap(cartpole.replace(max_episode_steps=200)) == 200.0
    run_dir = tmp_path / "seed7"
    run_dir.mkdir()
    write_metrics(
        run_dir / "metrics.csv",
        [
            {"kind": "train", "step": 500, "episode": 1, "return": 500, "length": 500},
            {"kind": "train", "step": 999, "episode": 2, "return": 499, "length": 499},
            {"kind": "eval", "step": 1000, "episode": 2, "return": 500, "length": 20},
            {"kind": "train", "step": 1499, "episode": 3, "return": 500, "length": 500},
            {"kind": "train", "step": 1511, "episode": 4, "return": 12, "length": 12},
            {"kind": "eval", "step": 2000, "episode": 4, "return": 350.5, "length": 20},
            {"kind": "final", "step": 2000, "episode": 4, "return": 420, "length": 100},
        ],
    )
    summary = {
        "steps": 2000,
        "episodes": 4,
        "wall_time_s": 9.0,
        "first_solved_step": 1000,
        "first_solved_time_s": 4.5,
        "first_solved_train_time_s": 3.0,
        "stable_solved_step": None,
        "stable_solved_time_s": None,
        "final_eval": {"mean": 420.0, "std": 1.0, "min": 418.0, "max": 422.0, "episodes": 100},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))

    rows = read_metrics(run_dir / "metrics.csv")
    assert success_rate(rows, 500.0) == 2 / 4
    assert success_rate(rows, 12.0) == 4 / 4
    assert success_rate(rows, None) is None  # no time limit, no success rate
    result = read_seed_result(run_dir, 7, 500.0)
    assert result.success_rate == 0.5
    assert result.mean_train_return == (500 + 499 + 500 + 12) / 4
    assert result.best_eval == 500.0 and result.final_eval == 420.0
    assert result.solved and result.steps_to_solve == 1000 and result.seconds_to_solve == 4.5
    assert result.train_seconds_to_solve == 3.0
    assert result.stable_steps_to_solve is None  # 350.5 at step 2000 fell below 475
    del summary["first_solved_train_time_s"]  # written only by runs that time evaluations apart
    (run_dir / "summary.json").write_text(json.dumps(summary))
    assert read_seed_result(run_dir, 7, 500.0).train_seconds_to_solve is None


def test_stable_solve_of_an_older_run_is_read_off_its_metrics(tmp_path: Path) -> None:
    """A summary.json without the stable solve (written before it was reported): the study reads
    it off metrics.csv at the run's own threshold. Evaluations 480, 300, 476, 490 against 475:
    the first solve is step 100, the stable one step 300, at that row's wall-clock, 7.5 s."""
    run_dir = tmp_path / "seed0"
    run_dir.mkdir()
    evaluations = [(100, 480, 2.5), (200, 300, 5.0), (300, 476, 7.5), (400, 490, 10.0)]
    write_metrics(
        run_dir / "metrics.csv",
        [
            {"kind": "eval", "step": step, "episode": 0, "wall_time_s": seconds, "return": mean}
            for step, mean, seconds in evaluations
        ]
        + [{"kind": "final", "step": 400, "episode": 0, "wall_time_s": 11.0, "return": 10}],
    )
    summary = {
        "steps": 400,
        "episodes": 0,
        "wall_time_s": 10.0,
        "first_solved_step": 100,
        "first_solved_time_s": 2.5,
        "final_eval": None,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    (run_dir / "config.json").write_text(
        json.dumps({"preset": "cartpole", "config": {"solved_threshold": 475.0}})
    )
    result = read_seed_result(run_dir, 0, 500.0)
    assert result.steps_to_solve == 100
    assert (result.stable_steps_to_solve, result.stable_seconds_to_solve) == (300, 7.5)
    assert result.stable_train_seconds_to_solve is None  # no train_time_s column then


def test_existing_folder_is_refused_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main([*TINY_STUDY, "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, f"{out} is not empty", "--overwrite")
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt"]  # nothing was started


def test_overwrite_removes_the_earlier_study_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "study"
    (out / "seed3").mkdir(parents=True)
    (out / "seed3" / "metrics.csv").write_text("kind\n")
    (out / "study.csv").write_text("seed\n")
    (out / "notes.txt").write_text("mine")
    assert prepare_study_dir(out, cartpole, "cartpole", overwrite=True) == out
    assert sorted(path.name for path in out.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--seeds", "0"], ["--seeds", "0 is below the minimum, 1"]),
        (["--workers", "two"], ["--workers", "invalid int value: 'two'"]),
        (["--sedes", "3"], ["unrecognized arguments: --sedes"]),
        (["--preset", "fast"], ["invalid choice: 'fast'"]),
    ],
)
def test_bad_flag_is_a_one_line_usage_error(
    flags: list[str], fragments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["study", "cartpole", *flags])
    assert exit_info.value.code == 2
    one_line_error(capsys.readouterr().err, *fragments, "(see --help)")


def test_single_run_seed_flag_is_refused_with_the_study_flags_to_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["study", "cartpole", "--seed", "3", "--out", str(tmp_path / "s")]) == 2
    one_line_error(capsys.readouterr().err, "--seed", "--first-seed")
    assert not (tmp_path / "s").exists()


def worker_pids(parent_pid: int) -> list[int]:
    """The processes whose parent is `parent_pid` (Linux /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while it was read
            continue
        if int(fields[1]) == parent_pid:
            children.append(int(stat.parent.name))
    return children


def is_running(pid: int) -> bool:
    """Alive and not a zombie (a dead child not yet reaped still has a /proc entry)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("how", "status", "says"),
    [
        ("ctrl-c", 130, "interrupted;"),
        ("kill", 143, "interrupted by SIGTERM;"),
        ("kill -9", -signal.SIGKILL, None),
    ],
)
def test_stopping_a_study_stops_its_workers(
    tmp_path: Path, how: str, status: int, says: str | None
) -> None:
    """A study stopped while seed 0 trains and seed 1 waits for the one worker: by Ctrl-C, as a
    terminal sends it to the whole process group; by `kill` (SIGTERM to the study's process
    alone); or by `kill -9`, which the study cannot catch. In each case its worker stops too
    (its metrics.csv stops growing, the process is gone) and seed 1 never starts; the first two
    exit with 128 + the signal's number and one line naming the study folder."""
    if how == "kill -9" and not sys.platform.startswith("linux"):
        pytest.skip("a worker follows a killed parent on Linux only (prctl)")
    out = tmp_path / "study"
    long_study = ["study", "cartpole", "--seeds", "2", "--workers", "1", "--steps", "200000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "dqn_ref.run", *long_study, "--no-progress", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job has
        # A shell without job control starts background jobs with SIGINT ignored, which a child
        # inherits; a terminal's Ctrl-C finds it at its default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    metrics = out / "seed0" / "metrics.csv"
    workers: list[int] = []
    outlived: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not (metrics.exists() and metrics.stat().st_size > 200):
            assert process.poll() is None and time.monotonic() < deadline, "seed 0 never started"
            time.sleep(0.2)
        workers = [pid for pid in worker_pids(process.pid) if is_running(pid)]
        assert workers
        if how == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        deadline = time.monotonic() + 30
        while any(is_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        outlived = [pid for pid in workers if is_running(pid)]
        for pid in outlived:  # so that a failure leaves no worker training on
            os.kill(pid, signal.SIGKILL)
    assert not outlived, "a worker outlived its study"
    assert process.returncode == status
    if says is not None:
        one_line_error(stderr, says, str(out))
    size = metrics.stat().st_size
    time.sleep(1.0)
    assert metrics.stat().st_size == size  # the worker stopped with the command
    assert not (out / "seed1").exists() and not (out / "study.csv").exists()


def test_only_a_plus_one_per_step_environment_has_a_time_limit_return() -> None:
    """Acrobot's 500-step limit is not a return of 500 (it pays -1 a step): no success rate."""
    for name in ("acrobot", "mountaincar", "lunarlander"):
        assert episode_return_cap(PRESETS[name]) is None
    assert episode_return_cap(cartpole.replace(env_id="CartPole-v0")) == 200.0


def test_a_study_without_a_threshold_says_no_solve_is_measured() -> None:
    """Breakout's spec gives no reward threshold: the seed's line and the summary say that no
    solve is measured rather than comparing with a threshold that does not exist."""
    config = PRESETS["atari"].replace(env_id="ALE/Breakout-v5")
    result = SeedResult(
        seed=0,
        solved=False,
        steps_to_solve=None,
        seconds_to_solve=None,
        train_seconds_to_solve=None,
        stable_steps_to_solve=None,
        stable_seconds_to_solve=None,
        stable_train_seconds_to_solve=None,
        success_rate=None,
        episodes=3,
        steps=300,
        mean_train_return=1.0,
        best_eval=2.0,
        final_eval=1.5,
        wall_time_s=4.0,
    )
    assert describe_seed(result, config, None).startswith("seed 0: no solved threshold (best")
    lines = aggregate_lines(StudyAggregate.of([result]), config, None)
    assert lines[0].startswith("no solve measured: ALE/Breakout-v5's gymnasium spec gives no")
    assert not any("mean >=" in line or "stably" in line for line in lines)

"""The command line, run as users run it: python -m dqn_ref.run ... in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dqn_ref.presets import cartpole
from dqn_ref.run.flags import config_from_args
from dqn_ref.run.main import build_parser, main
from dqn_ref.training.metrics import read_metrics
from dqn_ref.training.train import train


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dqn_ref.run", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_lists_tasks_and_examples() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "cartpole" in result.stdout and "--preset paper" in result.stdout


def test_task_help_all_lists_every_config_field_with_each_presets_value() -> None:
    result = run_cli("cartpole", "--help-all")
    assert result.returncode == 0
    assert "--learning-rate" in result.stdout and "--steps" in result.stdout
    assert "cartpole: 0.995, paper: 0.95" in " ".join(
        result.stdout.split()
    )  # gamma of both presets


def test_unknown_flag_is_a_one_line_error() -> None:
    assert_one_line_error(
        run_cli("cartpole", "--learning-rat", "1e-3"),
        "unrecognized arguments: --learning-rat",
        "--help",
    )


def test_unknown_task_and_unknown_preset_are_one_line_errors() -> None:
    assert_one_line_error(run_cli("cartpol"), "invalid choice: 'cartpol'")
    assert_one_line_error(run_cli("cartpole", "--preset", "fast"), "invalid choice: 'fast'")


def test_malformed_value_is_a_one_line_error() -> None:
    assert_one_line_error(
        run_cli("cartpole", "--batch-size", "many"), "--batch-size", "invalid int"
    )


def test_out_of_range_value_is_a_one_line_error() -> None:
    assert_one_line_error(run_cli("cartpole", "--gamma", "1.5"), "gamma=1.5 must lie in [0, 1]")
    assert_one_line_error(
        run_cli("cartpole", "--buffer-size", "64", "--batch-size", "128"),
        "buffer_size=64 is smaller than batch_size=128",
    )


def test_unknown_environment_names_the_closest_ids(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli("cartpole", "--env-id", "CartPol-v1", "--out", str(tmp_path / "r")),
        "unknown environment id 'CartPol-v1'",
        "CartPole-v1",
    )


def test_continuous_action_space_is_refused(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli("cartpole", "--env-id", "Pendulum-v1", "--out", str(tmp_path / "r")),
        "discrete action space",
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_one_line_error(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli("cartpole", "--device", "cuda", "--out", str(tmp_path / "r")),
        "--device cuda",
        "--device cpu",
    )


def test_flags_override_the_preset() -> None:
    args = build_parser().parse_args(
        [
            "cartpole",
            "--preset",
            "paper",
            "--steps",
            "1234",
            "--hidden-sizes",
            "64,32",
            "--max-grad-value",
            "none",
            "--no-truncation-as-terminal",
        ]
    )
    config = config_from_args(args)
    assert config.total_steps == 1234 and config.hidden_sizes == (64, 32)
    assert config.max_grad_value is None and config.truncation_as_terminal is False
    assert config.gamma == 0.95  # untouched fields keep the paper's values


def test_double_q_and_dueling_flags_switch_the_options_on_and_off_for_a_run_and_a_study() -> None:
    """Double DQN and the dueling head are flags of the task and of its study: the paper preset
    has them off, the cartpole preset on, and the flags switch them either way."""
    paper = config_from_args(build_parser().parse_args(["cartpole", "--preset", "paper"]))
    assert (paper.double_q, paper.dueling) == (False, False)
    default = config_from_args(build_parser().parse_args(["cartpole"]))
    assert (default.double_q, default.dueling) == (True, True)
    for argv in (["cartpole"], ["study", "cartpole", "--seeds", "2"]):
        args = build_parser().parse_args([*argv, "--preset", "paper", "--double-q", "--dueling"])
        assert (config_from_args(args).double_q, config_from_args(args).dueling) == (True, True)
        args = build_parser().parse_args([*argv, "--no-double-q", "--no-dueling"])
        assert (config_from_args(args).double_q, config_from_args(args).dueling) == (False, False)


def test_short_run_end_to_end_and_refusal_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [
        "cartpole",
        "--steps",
        "600",
        "--learning-starts",
        "100",
        "--eval-interval",
        "300",
        "--eval-episodes",
        "2",
        "--final-eval-episodes",
        "3",
        "--no-progress",
        "--out",
        str(out),
    ]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "final evaluation (epsilon 0) over 3 episodes" in result.stdout
    for name in ("config.json", "metrics.csv", "checkpoint.pt", "curve.png", "summary.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text())["config"]["total_steps"] == 600

    before = (out / "metrics.csv").read_bytes()
    assert_one_line_error(run_cli(*args), "already holds a run", "--overwrite")
    assert (out / "metrics.csv").read_bytes() == before  # the earlier run is untouched
    assert run_cli(*args, "--overwrite").returncode == 0


def test_unwritable_run_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert_one_line_error(
        run_cli("cartpole", "--steps", "100", "--out", str(blocker / "run")),
        "cannot write the run folder",
        "choose another --out",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tau", "0"], "tau=0.0 must lie in (0, 1]"),
        (["--tau", "1.5"], "tau=1.5 must lie in (0, 1]"),
        (["--gamma", "-0.1"], "gamma=-0.1 must lie in [0, 1]"),
        (["--steps", "-5"], "total_steps=-5 must be positive"),
        (["--num-envs", "0"], "num_envs=0 must be >= 1"),
        (["--learning-rate", "0"], "learning_rate=0.0 must be positive"),
        (["--eval-epsilon", "1.5"], "eval_epsilon=1.5 must lie in [0, 1]"),
        (["--no-such-field", "1"], "unrecognized arguments: --no-such-field"),
    ],
)
def test_invalid_value_or_unknown_field_is_a_one_line_error(args: list[str], message: str) -> None:
    """spec/reliability.md#errors: each is refused before anything is built or written."""
    assert_one_line_error(run_cli("cartpole", *args), message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epsilon", "2"], "argument --epsilon: 2.0 is not in [0, 1]"),
        (["--episodes", "0"], "argument --episodes: 0 is below the minimum, 1"),
        ([], "the following arguments are required: RUN_DIR"),
    ],
)
def test_invalid_eval_arguments_are_one_line_errors(args: list[str], message: str) -> None:
    folder = [] if not args else ["runs/any"]
    assert_one_line_error(run_cli("eval", *folder, *args), message)


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI in this process (no torch import per call): exit status, stdout, stderr."""
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_main_error(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    status, _, err = run_main(capsys, *args)
    assert status == 2
    assert err.strip().splitlines() == [f"dqn_ref: error: {message}"]


def tiny_run(run_dir: Path) -> None:
    config = cartpole.replace(
        num_envs=1,
        total_steps=300,
        learning_starts=100,
        buffer_size=1_000,
        eval_interval=0,
        final_eval_episodes=3,
        checkpoint_replay=True,
    )
    train(config, run_dir, "cartpole", progress=False)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    tiny_run(run_dir)
    return run_dir


@pytest.mark.parametrize("command", ["resume", "eval"])
def test_a_missing_empty_corrupt_or_foreign_run_folder_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    missing = tmp_path / "missing"
    assert_main_error(
        capsys,
        [command, str(missing)],
        f"run folder {missing} does not exist; pass the folder a run wrote",
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_main_error(
        capsys,
        [command, str(empty)],
        f"no checkpoint at {empty / 'checkpoint.pt'}; pass a run folder that holds checkpoint.pt",
    )
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "checkpoint.pt").write_bytes(b"PK\x03\x04 cut short by a full disk")
    status, _, err = run_main(capsys, command, str(corrupt))
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "is not a readable checkpoint" in err and "truncated or corrupt" in err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    torch.save({"state_dict": {"weight": torch.zeros(2)}}, foreign / "checkpoint.pt")
    assert_main_error(
        capsys,
        [command, str(foreign)],
        f"{foreign / 'checkpoint.pt'} is not a dqn_ref checkpoint",
    )


def test_a_checkpoint_of_another_version_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], finished_run: Path
) -> None:
    payload = torch.load(finished_run / "checkpoint.pt", weights_only=True)
    payload["version"] = 1
    old = tmp_path / "old"
    old.mkdir()
    torch.save(payload, old / "checkpoint.pt")
    assert_main_error(
        capsys,
        ["eval", str(old)],
        f"{old / 'checkpoint.pt'} has checkpoint version 1, this dqn_ref reads 2",
    )


def test_eval_prints_mean_std_min_and_max_and_replays_the_final_evaluation(
    capsys: pytest.CaptureFixture[str], finished_run: Path
) -> None:
    """`eval RUN_DIR` with the run's own episode count and epsilon is its final evaluation: same
    seeds, same network, same returns (spec/evaluation.md)."""
    status, out, _ = run_main(capsys, "eval", str(finished_run), "--device", "cpu")
    assert status == 0
    final = json.loads((finished_run / "summary.json").read_text())["final_eval"]
    assert out.strip() == (
        f"evaluation of {finished_run} over 3 episodes (epsilon 0, seed 0): "
        f"mean {final['mean']:.1f}, std {final['std']:.1f}, min {final['min']:.0f}, "
        f"max {final['max']:.0f}"
    )
    status, out, _ = run_main(
        capsys, "eval", str(finished_run), "--episodes", "5", "--epsilon", "1"
    )
    assert status == 0 and "over 5 episodes (epsilon 1, seed 0)" in out


def test_resume_of_a_run_killed_before_its_summary_redoes_only_its_final_evaluation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], finished_run: Path
) -> None:
    """A run killed after its loop's last checkpoint and before summary.json: resume makes no
    step and no update, redoes the final evaluation and writes the summary the run would have
    written."""
    finished_run = Path(shutil.copytree(finished_run, tmp_path / "run"))
    before = read_metrics(finished_run / "metrics.csv")
    summary = json.loads((finished_run / "summary.json").read_text())
    (finished_run / "summary.json").unlink()
    status, out, _ = run_main(capsys, "resume", str(finished_run), "--no-progress")
    assert status == 0
    assert f"resuming {finished_run} at step 300 (bit-exact)" in out
    after = read_metrics(finished_run / "metrics.csv")
    assert [row["kind"] for row in after] == [row["kind"] for row in before]
    again = json.loads((finished_run / "summary.json").read_text())
    counts = ("steps", "episodes", "updates", "updates_skipped", "final_eval")
    assert {name: again[name] for name in counts} == {name: summary[name] for name in counts}


@pytest.mark.parametrize(("n_step", "size"), [("1", "45.0 TB"), ("5", "67.0 TB")])
def test_a_replay_buffer_that_does_not_fit_in_memory_is_a_one_line_error(
    tmp_path: Path, n_step: str, size: str
) -> None:
    """10^12 CartPole transitions are 45 TB, and 67 TB with the n-step links (22 bytes a row);
    the run stops before allocating either, naming the size."""
    assert_one_line_error(
        run_cli(
            "cartpole",
            "--n-step",
            n_step,
            "--buffer-size",
            str(10**12),
            "--out",
            str(tmp_path / "r"),
        ),
        f"the replay buffer of 1000000000000 transitions needs {size} but only",
        "lower --buffer-size",
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_eval_on_a_missing_gpu_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], finished_run: Path
) -> None:
    status, _, err = run_main(capsys, "eval", str(finished_run), "--device", "cuda")
    assert status == 2 and "--device cuda asked for" in err and len(err.splitlines()) == 1


def test_video_flags_film_the_trained_and_the_saved_agent(tmp_path: Path) -> None:
    """TASK --video films the agent after training (RUN_DIR/video.gif by default); eval --video
    PATH films a saved run; a path of another kind is refused in one line before anything runs."""
    run_dir = tmp_path / "run"
    short = ["--steps", "300", "--num-envs", "1", "--learning-starts", "100"]
    short += ["--eval-interval", "0", "--final-eval-episodes", "2", "--no-progress"]
    trained = run_cli("cartpole", *short, "--out", str(run_dir), "--video")
    assert trained.returncode == 0, trained.stderr
    assert f"-> {run_dir / 'video.gif'}" in trained.stdout
    assert (run_dir / "video.gif").stat().st_size > 0
    filmed = run_cli("eval", str(run_dir), "--episodes", "2", "--video", str(tmp_path / "a.mp4"))
    assert filmed.returncode == 0, filmed.stderr
    assert "video: 1 episode, return" in filmed.stdout and (tmp_path / "a.mp4").is_file()
    assert_one_line_error(
        run_cli("eval", str(run_dir), "--video", str(tmp_path / "a.avi")),
        "name a .gif or an .mp4 file",
    )
    refused = run_cli("cartpole", *short, "--out", str(tmp_path / "new"), "--video", "x.png")
    assert_one_line_error(refused, "name a .gif or an .mp4 file")
    assert not (tmp_path / "new" / "config.json").exists()

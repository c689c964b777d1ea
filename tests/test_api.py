"""The Python API of dqn_ref/__init__.py: the README's example runs as written, and the names it
promises load without torch until used."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dqn_ref
from dqn_ref.errors import DQNRefError

README = Path(__file__).resolve().parent.parent / "README.md"
TINY = {
    "num_envs": 1,
    "total_steps": 300,
    "learning_starts": 100,
    "buffer_size": 1_000,
    "eval_interval": 0,
    "final_eval_episodes": 3,
    "tensorboard": False,
}


def readme_block(heading: str) -> str:
    """The first ```python block under `heading` in README.md."""
    text = README.read_text()
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no python block under {heading}"
    return match.group(1)


def test_the_readme_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a fresh folder, with get_preset's config cut to 300 steps: a run folder, a trained
    agent's action and Q-values, an evaluation and a GIF come out."""
    real_get_preset = dqn_ref.get_preset
    monkeypatch.setattr(dqn_ref, "get_preset", lambda *args: real_get_preset(*args).replace(**TINY))
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_block("## From Python"), "README.md", "exec"), {})
    run_dir = tmp_path / "runs" / "from-python"
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "video.gif").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "EvalSummary(mean=" in printed and "episodes=10)" in printed
    assert (run_dir / "policy.pt").is_file()


def test_an_agent_acts_on_one_observation_as_its_network_ranks_the_actions(
    tmp_path: Path,
) -> None:
    config = dqn_ref.get_preset("cartpole").replace(**TINY)
    dqn_ref.train(config, tmp_path / "run")
    agent = dqn_ref.load(tmp_path / "run", device="cpu")
    # The run states the environment's own threshold (CartPole-v1: 475) where the preset left it
    # to the environment; every other value is the one trained with.
    assert config.solved_threshold is None
    assert agent.config == config.replace(solved_threshold=475.0) and agent.num_actions == 2
    for observation in np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32):
        assert agent.act(observation) == int(np.argmax(agent.q_values(observation)))
    # At epsilon 1 every action is random: both come up in 200 draws.
    assert {agent.act(np.zeros(4, np.float32), epsilon=1.0) for _ in range(200)} == {0, 1}
    with pytest.raises(DQNRefError, match=r"shape \(1, 5\) given; .* shape \(4,\)"):
        agent.act(np.zeros((1, 5), np.float32))
    with pytest.raises(DQNRefError, match="epsilon=2"):
        agent.act(np.zeros(4, np.float32), epsilon=2)


def test_verbose_0_prints_nothing_and_verbose_1_each_evaluation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = dqn_ref.get_preset("cartpole").replace(
        **{**TINY, "eval_interval": 100, "checkpoint_replay": True}
    )
    dqn_ref.train(config, tmp_path / "loud")
    loud = capsys.readouterr().out
    assert loud.count("\nevaluation at step") == 3 and "final evaluation at step 300" in loud
    assert "checkpoints include the replay buffer" in loud
    dqn_ref.train(config, tmp_path / "quiet", verbose=0)
    assert capsys.readouterr().out == ""
    assert (tmp_path / "quiet" / "summary.json").is_file()
    with pytest.raises(DQNRefError, match=r"verbose=2 must be 0 .* or 1"):
        dqn_ref.train(config, tmp_path / "other", verbose=2)
    assert not (tmp_path / "other").exists()


def test_train_refuses_a_folder_that_holds_a_run_unless_told_to_overwrite(tmp_path: Path) -> None:
    config = dqn_ref.get_preset("cartpole").replace(**TINY)
    dqn_ref.train(config, tmp_path / "run")
    with pytest.raises(DQNRefError, match=r"already holds a run .*overwrite=True"):
        dqn_ref.train(config.replace(seed=1), tmp_path / "run")
    result = dqn_ref.train(config.replace(seed=1), tmp_path / "run", overwrite=True)
    assert dqn_ref.load(result.run_dir).config.seed == 1


def test_loading_a_folder_without_a_run_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DQNRefError, match="does not exist"):
        dqn_ref.load(tmp_path / "absent")
    with pytest.raises(DQNRefError, match="no checkpoint"):
        dqn_ref.load(tmp_path)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("api") / "run"
    dqn_ref.train(dqn_ref.get_preset("cartpole").replace(**TINY), run_dir)
    return run_dir


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"episodes": 0}, "episodes=0 must be a whole number in [1, 10000]"),
        ({"episodes": -3}, "episodes=-3 must be a whole number"),
        ({"episodes": 2.5}, "episodes=2.5 must be a whole number"),
        ({"episodes": True}, "episodes=True must be a whole number"),
        ({"episodes": 10_001}, "episodes=10001 must be a whole number in [1, 10000]"),
        ({"epsilon": -0.1}, "epsilon=-0.1 must be a number in [0, 1]"),
        ({"epsilon": float("nan")}, "epsilon=nan must be a number in [0, 1]"),
        ({"epsilon": "0.1"}, "epsilon='0.1' must be a number in [0, 1]"),
    ],
)
def test_evaluate_refuses_what_it_cannot_play_in_one_line(
    saved_run: Path, arguments: dict[str, object], message: str
) -> None:
    """As `eval --episodes 0` is refused: 0 episodes is no evaluation, never the run's default."""
    agent = dqn_ref.load(saved_run, device="cpu")
    with pytest.raises(DQNRefError) as error:
        agent.evaluate(**arguments)  # type: ignore[arg-type]
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_evaluate_plays_the_episodes_and_epsilon_it_is_given(saved_run: Path) -> None:
    """1 episode is one, none given the run's 3; record checks its epsilon as evaluate does."""
    agent = dqn_ref.load(saved_run, device="cpu")
    assert agent.evaluate(episodes=1).episodes == 1
    assert agent.evaluate().episodes == TINY["final_eval_episodes"]
    with pytest.raises(DQNRefError, match=r"epsilon=1\.5 must be a number in"):
        agent.record(epsilon=1.5)


@pytest.mark.parametrize("device", ["gpu", "tpu", "cuda:x", "cpu:0", "cuda:", "", "CUDA"])
def test_load_refuses_a_device_name_dqn_ref_does_not_run_on(saved_run: Path, device: str) -> None:
    with pytest.raises(DQNRefError) as error:
        dqn_ref.load(saved_run, device=device)
    assert str(error.value) == (
        f"device {device!r} is not one dqn_ref runs on; use auto, cpu, cuda, or cuda:N for the "
        "GPU numbered N"
    )


def test_load_refuses_a_gpu_this_machine_does_not_have(saved_run: Path) -> None:
    """cuda:0 on a CPU-only machine (torch would fail an assertion), or a GPU number beyond
    those present."""
    import torch

    if torch.cuda.is_available():
        absent = f"cuda:{torch.cuda.device_count()}"
        expected = f"device {absent} asked for, but this machine has "
    else:
        absent = "cuda:0"
        expected = "--device cuda:0 asked for, but this torch sees no CUDA device"
    with pytest.raises(DQNRefError) as error:
        dqn_ref.load(saved_run, device=absent)
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)
    assert dqn_ref.load(saved_run, device="cpu").evaluate(episodes=1).episodes == 1


def test_importing_the_package_leaves_torch_unloaded_until_train_or_load() -> None:
    code = (
        "import sys, dqn_ref; "
        "assert dqn_ref.get_preset('cartpole').env_id == 'CartPole-v1'; "
        "assert 'torch' not in sys.modules, 'torch loaded by import dqn_ref'; "
        "dqn_ref.load; assert 'torch' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_every_promised_name_is_there() -> None:
    for name in dqn_ref.__all__:
        assert getattr(dqn_ref, name) is not None
    with pytest.raises(AttributeError):
        dqn_ref.no_such_name  # noqa: B018

"""Environments given as objects or with arguments (dqn_ref/env_source.py), through dqn_ref.train,
dqn_ref.load, dqn_ref.resume and the command line: a callable called once per copy inside
dqn_ref's wrappers, env_kwargs, gymnasium's `module:EnvId` form, and the one-line refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import dqn_ref
from dqn_ref.errors import DQNRefError
from dqn_ref.training.metrics import read_metrics

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "num_envs": 2,
    "total_steps": 300,
    "learning_starts": 100,
    "buffer_size": 1_000,
    "eval_interval": 0,
    "final_eval_episodes": 3,
    "tensorboard": False,
}
MADE: list[dict[str, Any]] = []  # the keyword arguments of each call of make_cartpole


def make_cartpole(**kwargs: Any) -> gym.Env[Any, Any]:
    """A module-level callable: importable again by its qualified name."""
    MADE.append(kwargs)
    return gym.make("CartPole-v1", max_episode_steps=None, **kwargs).unwrapped


def tiny(**changes: Any) -> dqn_ref.DQNConfig:
    return dqn_ref.get_preset("cartpole").replace(**{**TINY, **changes})


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dqn_ref.run", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )


def test_a_callable_is_called_once_per_copy_inside_the_runs_time_limit(tmp_path: Path) -> None:
    """The unwrapped CartPole has no time limit; dqn_ref's max_episode_steps puts one around
    every copy. Calls: one for the check before the run, one per training copy, one per final
    evaluation episode. config.json records the callable's qualified name."""
    MADE.clear()
    config = tiny(max_episode_steps=12)
    dqn_ref.train(config, tmp_path / "run", env=make_cartpole, verbose=0)
    assert len(MADE) == 1 + config.num_envs + config.final_eval_episodes
    written = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert written["env_id"] == "callable/tests.test_env_source.make_cartpole"
    lengths = [int(row["length"]) for row in read_metrics(tmp_path / "run" / "metrics.csv")]
    assert max(lengths) == 12  # truncated by dqn_ref's limit; random CartPole episodes reach it


def test_env_kwargs_reach_every_copy_and_the_evaluations(tmp_path: Path) -> None:
    """sutton_barto_reward: 0 per step, -1 at the pole's fall; the final evaluation's episodes
    (made from config.json's env_kwargs) score -1, and so does a later evaluation of the run."""
    MADE.clear()
    result = dqn_ref.train(
        tiny(), tmp_path / "run", env=make_cartpole, env_kwargs={"sutton_barto_reward": True}
    )
    assert MADE and all(kwargs == {"sutton_barto_reward": True} for kwargs in MADE)
    assert result.final_eval is not None and result.final_eval.max == -1.0
    written = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert json.loads(written["env_kwargs"]) == {"sutton_barto_reward": True}
    assert dqn_ref.load(tmp_path / "run").evaluate(episodes=2).mean == -1.0
    by_id = dqn_ref.train(
        tiny(), tmp_path / "by-id", env="CartPole-v1", env_kwargs={"sutton_barto_reward": True}
    )
    assert by_id.final_eval is not None and by_id.final_eval.max == -1.0


def test_a_callable_that_cannot_be_imported_is_asked_for_again(tmp_path: Path) -> None:
    """A lambda's run, in a process that has not registered it (the registry entry removed):
    evaluate and resume refuse in one line naming it; given again, the run evaluates. A module
    function is found again by its qualified name."""

    def make() -> gym.Env[Any, Any]:
        return gym.make("CartPole-v1")

    dqn_ref.train(tiny(), tmp_path / "inner", env=make, verbose=0)
    env_id = dqn_ref.load(tmp_path / "inner").config.env_id
    assert env_id.endswith("cannot_be_imported_is_asked_for_again._locals_.make")
    gym.registry.pop(env_id)
    with pytest.raises(DQNRefError, match=r"made by the callable .*\.make, which cannot be"):
        dqn_ref.load(tmp_path / "inner").evaluate(episodes=2)
    with pytest.raises(DQNRefError, match="cannot be rebuilt here; pass it again"):
        dqn_ref.resume(tmp_path / "inner", total_steps=400)
    assert dqn_ref.load(tmp_path / "inner", env=make).evaluate(episodes=2).episodes == 2
    assert env_id in gym.registry
    gym.registry.pop(env_id)
    assert dqn_ref.resume(tmp_path / "inner", total_steps=400, env=make, verbose=0).steps >= 400

    dqn_ref.train(tiny(), tmp_path / "module", env=make_cartpole, verbose=0)
    gym.registry.pop("callable/tests.test_env_source.make_cartpole")
    assert dqn_ref.load(tmp_path / "module").evaluate(episodes=2).episodes == 2


def test_a_run_from_an_id_takes_no_callable(tmp_path: Path) -> None:
    dqn_ref.train(tiny(), tmp_path / "run", verbose=0)
    with pytest.raises(DQNRefError, match="CartPole-v1, rebuilt from its id; env= is for runs"):
        dqn_ref.load(tmp_path / "run", env=make_cartpole)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (gym.make("CartPole-v1"), r"env is an environment object \(TimeLimit\); .* callable"),
        (3, "env must be an environment id or a callable that returns a gymnasium.Env, not int"),
        (lambda: 3, "returned int, not a gymnasium.Env"),
        (lambda: gym.make("Pendulum-v1"), "DQN needs a discrete action space"),
        (lambda: gym.make("FrozenLake-v1"), "needs a Box observation space, but .* Discrete"),
        (lambda: gym.make("ALE/Pong-v5"), "returned an Atari game; pass its id instead"),
        ("CartPol-v1", "unknown environment id 'CartPol-v1'; did you mean CartPole-v1"),
    ],
)
def test_an_env_the_run_cannot_use_is_one_line_and_writes_nothing(
    tmp_path: Path, env: Any, message: str
) -> None:
    with pytest.raises(DQNRefError, match=message) as refused:
        dqn_ref.train(tiny(), tmp_path / "run", env=env)
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "run").exists()


def test_bad_env_kwargs_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DQNRefError, match="cannot make CartPole-v1 with env_kwargs"):
        dqn_ref.train(tiny(), tmp_path / "a", env_kwargs={"no_such_argument": 1})
    with pytest.raises(DQNRefError, match="env_kwargs must hold values JSON can write"):
        dqn_ref.train(tiny(), tmp_path / "b", env_kwargs={"reward": object()})
    with pytest.raises(DQNRefError, match=r"env_kwargs are passed to gymnasium\.make, but ALE"):
        dqn_ref.train("atari", tmp_path / "c", env_kwargs={"mode": 1})
    with pytest.raises(DQNRefError, match="must be a JSON object of keyword arguments"):
        tiny(env_kwargs="[1, 2]")
    assert not any(tmp_path.iterdir())


def test_the_command_line_takes_env_kwargs_and_the_module_form(tmp_path: Path) -> None:
    """--env-kwargs JSON reaches the environment; `module:EnvId` imports the module, which
    registers the id, in the training process and again in eval's."""
    short = ["--steps", "200", "--learning-starts", "100", "--eval-interval", "0"]
    short += ["--final-eval-episodes", "2", "--no-progress", "--no-tensorboard"]
    result = run_cli(
        "control",
        "--env-id",
        "tests.module_env:ModuleCartPole-v0",
        "--env-kwargs",
        '{"sutton_barto_reward": true}',
        *short,
        "--out",
        str(tmp_path / "module"),
    )
    assert result.returncode == 0, result.stderr
    assert "mean -1.0" in result.stdout  # the final evaluation, under sutton_barto_reward
    config = json.loads((tmp_path / "module" / "config.json").read_text())["config"]
    assert config["env_id"] == "tests.module_env:ModuleCartPole-v0"
    assert config["solved_threshold"] == 45.0  # the module's registration's threshold
    evaluated = run_cli("eval", str(tmp_path / "module"), "--episodes", "2")
    assert evaluated.returncode == 0 and "mean -1.0" in evaluated.stdout, evaluated.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env-kwargs", "not json"], "env_kwargs='not json' must be a JSON object"),
        (["--env-id", "no_such_module:Env-v0"], "cannot import 'no_such_module', the module"),
        (["--env-id", "tests.module_env:Absent-v0"], "unknown environment id"),
    ],
)
def test_the_command_line_refuses_bad_env_arguments_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli("control", *args, "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert message in line

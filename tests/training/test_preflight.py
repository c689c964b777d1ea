"""dqn_ref/training/preflight.py: what this environment or this machine cannot run is refused
before a run's folder is made (spec/reliability.md#input-validation), through every way of
starting runs: a run, a study (local and Ray), a search and the Python API.

Each case names a combination that DQNConfig accepts (it holds for some environment or machine)
but that the task's own environment or this machine cannot run. Were any of them refused while
the run is built, the folder would already hold config.json, metrics.csv and an event file, and
training again without the flag would meet "already holds a run".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import dqn_ref
from dqn_ref import frame_replay, replay
from dqn_ref.config import DQNConfig
from dqn_ref.envs import EnvSpaces
from dqn_ref.errors import DQNRefError
from dqn_ref.presets import cartpole, pong
from dqn_ref.run.flags import config_from_args
from dqn_ref.run.main import build_parser, main
from dqn_ref.training import preflight
from dqn_ref.training.build import make_replay_buffer

CARTPOLE = EnvSpaces((4,), np.dtype(np.float32), 2)
ATARI = EnvSpaces((4, 84, 84), np.dtype(np.uint8), 6)

# (case, flags on top of the cartpole preset, a fragment of the one-line refusal); the memory
# cases last.
UNRUNNABLE: list[tuple[str, list[str], str]] = [
    (
        "graphed update without frame stacks",
        ["--device-replay", "--graphed-update"],
        "CartPole-v1 gives observations of shape (4,), so drop --graphed-update",
    ),
    (
        "a frame network on flat observations",
        ["--network", "nature_cnn", "--no-layer-norm"],
        "network nature_cnn needs stacked frames",
    ),
    (
        "networks larger than memory",
        ["--hidden-sizes", "1000000,1000000"],
        "lower --hidden-sizes or --batch-size",
    ),
    (
        "a replay buffer larger than memory",
        ["--buffer-size", "100000000000"],
        "the replay buffer of 100000000000 transitions needs",
    ),
]
MEMORY_CASES = 2
SHORT = ["--steps", "200", "--no-progress"]


def cli_run(flags: list[str], out: Path) -> list[str]:
    return ["cartpole", *flags, *SHORT, "--out", str(out)]


def cli_study(flags: list[str], out: Path) -> list[str]:
    return ["study", "cartpole", "--seeds", "1", *flags, *SHORT, "--out", str(out)]


def cli_ray_study(flags: list[str], out: Path) -> list[str]:
    return [*cli_study(flags, out), "--backend", "ray"]


def cli_tune(flags: list[str], out: Path) -> list[str]:
    return ["tune", "cartpole", "--trials", "1", "--seeds", "1", *flags, *SHORT, "--out", str(out)]


COMMANDS: dict[str, Callable[[list[str], Path], list[str]]] = {
    "run": cli_run,
    "study": cli_study,
    "study --backend ray": cli_ray_study,
    "tune": cli_tune,
}


# A Ray study's memory is checked on the workers, where its seeds train.
REFUSED_BEFORE_THE_FOLDER = [
    pytest.param(command, flags, message, id=f"{command}: {case}")
    for command in COMMANDS
    for case, flags, message in (
        UNRUNNABLE[:-MEMORY_CASES] if command.endswith("ray") else UNRUNNABLE
    )
]


@pytest.mark.parametrize(("command", "flags", "message"), REFUSED_BEFORE_THE_FOLDER)
def test_a_config_this_environment_or_machine_cannot_run_is_refused_before_the_folder_is_made(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    flags: list[str],
    message: str,
) -> None:
    out = tmp_path / "out"
    status = main(COMMANDS[command](flags, out))
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0], lines[0]
    assert not out.exists(), sorted(path.name for path in out.iterdir())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "message"), [case[1:] for case in UNRUNNABLE], ids=[case[0] for case in UNRUNNABLE]
)
def test_the_python_api_refuses_the_same_configs_before_the_folder_is_made(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    config = config_from_args(build_parser().parse_args(cli_run(flags, tmp_path / "unused")))
    with pytest.raises(DQNRefError) as error:
        dqn_ref.train(config, tmp_path / "run")
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("config", "spaces"),
    [
        (cartpole.replace(buffer_size=1_000, n_step=1), CARTPOLE),
        (cartpole.replace(buffer_size=1_000, n_step=3, learning_starts=300), CARTPOLE),
        (pong.replace(buffer_size=1_000, num_envs=4, device="cpu"), ATARI),
        (pong.replace(buffer_size=1_000, device="cpu", device_replay=True), ATARI),
    ],
    ids=["cartpole", "cartpole n-step", "pong", "pong device replay"],
)
def test_the_replay_buffers_memory_is_checked_with_the_buffers_own_sums(
    monkeypatch: pytest.MonkeyPatch, config: DQNConfig, spaces: EnvSpaces
) -> None:
    """Preflight asks check_buffer_fits the same questions (bytes, device, transitions) as the
    buffer the run then builds asks before it allocates."""
    asked: dict[str, list[tuple[int, str, int]]] = {"preflight": [], "buffer": []}

    def recorder(who: str) -> Callable[[int, torch.device, int], None]:
        return lambda needed, device, capacity: asked[who].append((needed, str(device), capacity))

    monkeypatch.setattr(preflight, "check_buffer_fits", recorder("preflight"))
    for module in (replay, frame_replay):
        monkeypatch.setattr(module, "check_buffer_fits", recorder("buffer"))
    preflight.check_replay_fits(config, spaces, torch.device("cpu"))
    make_replay_buffer(config, spaces, torch.device("cpu"))
    assert asked["preflight"] == asked["buffer"] != []

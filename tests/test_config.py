"""DQNConfig and the checks before a run: every value outside what the code and its libraries
accept, and every combination that could never make progress, is refused before anything is
built, in one line that names the value and the fix (spec/reliability.md#input-validation)."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dqn_ref.config import (
    CONFIG_GROUPS,
    ENV_SEED_SPAN,
    MAX_ENV_COPIES,
    SEED_LIMIT,
    DQNConfig,
    field_group,
)
from dqn_ref.errors import DQNRefError
from dqn_ref.evaluate import EVAL_SEED_OFFSET
from dqn_ref.memory import network_bytes_lower_bound
from dqn_ref.presets import PRESETS
from dqn_ref.run.main import main

BASE = ["--steps", "64", "--eval-interval", "0", "--final-eval-episodes", "1", "--no-progress"]
TOO_WIDE = str(2**63)


def refusal(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one stderr line of a command refused with status 2, before any folder is made."""
    try:
        status = main(list(args))
    except SystemExit as exit_:  # argparse's own refusals
        status = int(str(exit_.code))
    err = capsys.readouterr().err
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--seed", "-1"], f"seed=-1 must lie in [0, {SEED_LIMIT - 1}]"),
        ([f"--seed={SEED_LIMIT}"], f"seed={SEED_LIMIT} must lie in [0, {SEED_LIMIT - 1}]"),
        (["--learning-rate", "inf"], "learning_rate=inf must be a finite number"),
        (["--learning-rate", "nan"], "learning_rate=nan must be a finite number"),
        (["--gamma", "nan"], "gamma=nan must be a finite number"),
        (["--huber-delta", "inf"], "huber_delta=inf must be a finite number"),
        (["--epsilon-decay", "inf"], "epsilon_decay=inf must be a finite number"),
        (["--gradient-steps=-2"], "gradient_steps=-2 must be -1 (one update per agent step of"),
        (["--gradient-steps=10001"], "gradient_steps=10001 must be -1 (one update per agent"),
        (
            ["--gradient-steps=-1", "--train-frequency=10001"],
            "gradient_steps=-1 makes train_frequency=10001 updates a round; at most 10000",
        ),
        (["--epsilon-fraction", "0"], "epsilon_fraction=0.0 must be positive or none"),
        (["--epsilon-fraction", "inf"], "epsilon_fraction=inf must be a finite number"),
        (["--max-grad-norm", "inf"], "max_grad_norm=inf must be a finite number"),
        (["--solved-threshold=-inf"], "solved_threshold=-inf must be a finite number"),
        (["--optimizer-eps", "0"], "optimizer_eps=0.0 must be positive (it guards a division)"),
        (["--optimizer-eps=-1e-8"], "optimizer_eps=-1e-08 must be positive"),
        (["--weight-decay", "-0.01"], "weight_decay=-0.01 must be >= 0"),
        (["--steps", TOO_WIDE], f"total_steps={TOO_WIDE} must be below 2**63 (a 64-bit integer)"),
        (["--buffer-size", TOO_WIDE], f"buffer_size={TOO_WIDE} must be below 2**63"),
        (["--hidden-sizes", f"64,{TOO_WIDE}"], "hidden_sizes must be positive widths below 2**63"),
        (["--torch-threads", "1025"], "torch_threads=1025 must lie in [-1, 1024]"),
        (["--torch-threads=-2"], "torch_threads=-2 must lie in [-1, 1024] (-1: adaptive"),
        (["--max-episode-steps", "536870912"], "max_episode_steps=536870912 must lie in"),
        (["--eval-max-episode-steps", "-1"], "eval_max_episode_steps=-1 must lie in"),
        (["--noop-max", "108001"], "noop_max=108001 must lie in [0, 108000]"),
        (
            ["--num-envs", str(MAX_ENV_COPIES + 1)],
            f"num_envs={MAX_ENV_COPIES + 1} would build {MAX_ENV_COPIES + 1} environment copies "
            f"at once; at most {MAX_ENV_COPIES} are allowed",
        ),
        (["--eval-episodes", "10001"], "eval_episodes=10001 would build 10001 environment"),
        (["--final-eval-episodes", "10001"], "final_eval_episodes=10001 would build"),
        (
            ["--n-step", "3", "--num-envs", "4", "--learning-starts", "0"],
            "learning_starts=0 is below n_step x num_envs = 12, so the first update would find "
            "no complete 3-step transition to sample; raise learning_starts to at least 12",
        ),
        (
            [
                "--n-step=3",
                "--num-envs=1",
                "--learning-starts=3",
                "--batch-size=2",
                "--buffer-size=2",
            ],
            "buffer_size=2 is below n_step x num_envs = 3, so every transition would be "
            "overwritten before its successors are stored; raise buffer_size to at least 3",
        ),
    ],
)
def test_a_value_out_of_range_or_a_combination_that_never_progresses_is_one_line(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    line = refusal(capsys, "cartpole", *BASE, *flags)
    assert line.startswith(f"dqn_ref: error: invalid config: {message}"), line


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--hidden-sizes", "100000,100000", "--batch-size", "64"],
            "the Q-networks (hidden_sizes 100000,100000) with a minibatch of 64 need at least "
            "240.2 GB but only",
        ),
        (
            ["--network", "nature_cnn", "--no-layer-norm"],
            "network nature_cnn needs stacked frames (K, H, W), but ",
        ),
        (
            ["--env-id", "ALE/Pong-v5", "--network", "mlp"],
            "network mlp needs flat observations, but ALE/Pong-v5 gives shape (4, 84, 84); use "
            "--network nature_cnn",
        ),
        (
            [
                "--env-id=ALE/Pong-v5",
                "--network=nature_cnn",
                "--no-layer-norm",
                "--num-envs=4",
                "--buffer-size=32",
                "--batch-size=32",
            ],
            "buffer_size=32 is too small for 4 copies of 4-frame stacks; raise buffer_size to "
            "at least 40",
        ),
        (
            [
                "--env-id=ALE/Pong-v5",
                "--network=nature_cnn",
                "--no-layer-norm",
                "--noop-max=100",
                "--max-episode-steps=25",
            ],
            "noop_max=100 no-op frames fill a whole episode of 100 frames "
            "(max_episode_steps=25), so the agent would never act; lower noop_max",
        ),
    ],
)
def test_what_this_environment_or_machine_cannot_run_is_one_line(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    line = refusal(capsys, "cartpole", *BASE, *flags)
    assert line.startswith(f"dqn_ref: error: {message}"), line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "runs/x", "--episodes", "10001"], "argument --episodes: 10001 is above the"),
        (["study", "cartpole", "--seeds", "10001"], "argument --seeds: 10001 is above the maximum"),
        (
            ["study", "cartpole", "--first-seed", str(SEED_LIMIT - 1), "--seeds", "2"],
            f"dqn_ref: error: --first-seed {SEED_LIMIT - 1} with --seeds 2 reaches seed "
            f"{SEED_LIMIT}, beyond the largest, {SEED_LIMIT - 1}; lower --first-seed or --seeds",
        ),
    ],
)
def test_command_arguments_beyond_their_range_are_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert message in refusal(capsys, *args)


def test_every_preset_passes_its_own_checks() -> None:
    for name, preset in PRESETS.items():
        assert DQNConfig(**dataclasses.asdict(preset)) == preset, name


def test_the_seed_span_covers_the_final_evaluation_seeds() -> None:
    """The largest seed an environment copy gets stays a 32-bit signed integer."""
    assert ENV_SEED_SPAN == 2 * EVAL_SEED_OFFSET + MAX_ENV_COPIES
    assert SEED_LIMIT - 1 + 2 * EVAL_SEED_OFFSET + MAX_ENV_COPIES - 1 < 2**31


def test_the_network_estimate_counts_parameter_copies_and_activations() -> None:
    """hidden 10-20: parameters 1x10 + 10x20 + 20x1 = 230, six copies; activations 30 units
    x 3 copies x batch 4 = 360; 4 bytes each: 4 x (1380 + 360) = 6960."""
    assert network_bytes_lower_bound("mlp", (10, 20), 4) == 6960


def test_a_new_environment_drops_the_threshold_stated_for_the_old_one() -> None:
    """Pong's 18 means nothing for Breakout: replacing env_id without a threshold goes back to
    the new environment's own (None), while a stated one, or an unchanged env_id, keeps it."""
    pong = PRESETS["pong"]
    assert pong.replace(env_id="ALE/Breakout-v5").solved_threshold is None
    assert pong.replace(env_id="ALE/Breakout-v5", solved_threshold=30.0).solved_threshold == 30.0
    assert pong.replace(env_id="ALE/Pong-v5").solved_threshold == 18.0
    assert pong.replace(total_steps=100).solved_threshold == 18.0


def test_every_field_is_written_once_in_exactly_one_group() -> None:
    """DQNConfig's fields are its groups' fields, each declared by one group, none twice."""
    declared = [item.name for group in CONFIG_GROUPS.values() for item in dataclasses.fields(group)]
    assert sorted(declared) == sorted(f.name for f in dataclasses.fields(DQNConfig))
    assert len(declared) == len(set(declared))
    assert {field_group(name) for name in declared} == set(CONFIG_GROUPS)


def wrong_values(annotation: Any) -> st.SearchStrategy[Any]:
    """Values that are not of `annotation`'s type (spec/reliability.md#input-validation): for a
    Literal, strings outside its choices too; an int is no bool and a bool no int."""
    origin = typing.get_origin(annotation)
    others = st.one_of(st.lists(st.integers(), max_size=2), st.dictionaries(st.text(), st.none()))
    if origin is Literal:
        return st.one_of(others, st.integers(), st.text().map(lambda text: f"{text}-not-a-choice"))
    if origin is tuple:  # hidden_sizes: a list of integers
        return st.one_of(
            st.text(),
            st.lists(st.one_of(st.floats(), st.booleans(), st.text()), min_size=1, max_size=3),
        )
    optional = type(None) in typing.get_args(annotation)
    base = next((arg for arg in typing.get_args(annotation) if arg is not type(None)), annotation)
    wrong = {
        bool: st.one_of(st.integers(0, 1), st.sampled_from(["true", "false", "no"]), st.floats()),
        int: st.one_of(st.floats(allow_nan=False), st.booleans(), st.text(), st.just(5000.0)),
        float: st.one_of(st.booleans(), st.text(), st.just("0.1")),
        str: st.one_of(st.integers(), st.floats(), st.booleans()),
    }[base]
    return st.one_of(others, wrong, st.just(None)) if not optional else st.one_of(others, wrong)


@given(data=st.data())
def test_every_field_refuses_a_value_of_another_type_or_outside_its_choices(
    data: st.DataObject,
) -> None:
    """For each field of DQNConfig, present and added later alike, a value of a wrong type (and
    for a field of choices, one outside them) is refused in one line naming the field, its value
    and what is allowed, from Python (replace) as from a config file."""
    hints = typing.get_type_hints(DQNConfig)
    for item in dataclasses.fields(DQNConfig):
        value = data.draw(wrong_values(hints[item.name]), label=item.name)
        with pytest.raises(DQNRefError) as refusal:
            DQNConfig().replace(**{item.name: value})
        message = str(refusal.value)
        assert "\n" not in message and f"{item.name}=" in message and "must be" in message
        if typing.get_origin(hints[item.name]) is Literal:
            assert all(repr(choice) in message for choice in typing.get_args(hints[item.name]))


@pytest.mark.parametrize(
    ("field", "value"),
    [("optimizer", "sgd"), ("loss", "l1"), ("double_q", "false"), ("seed", 1.5),
     ("buffer_size", 5000.0), ("hidden_sizes", [64.5]), ("env_id", 5), ("device", "tpu"),
     ("network", "resnet")],
)  # fmt: skip
def test_a_config_file_with_a_mistyped_field_is_refused_before_training(
    field: str, value: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The config files that once trained something else or ended in a traceback: exit 2, one
    line naming the field, and no run folder."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({field: value}))
    out = tmp_path / "run"
    assert main(["cartpole", "--config", str(config_file), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and f"{field}=" in error, error
    assert not out.exists()


def test_an_int_in_a_float_field_is_read_as_a_float_and_a_list_as_a_tuple() -> None:
    """JSON writes 1.0 as 1 and tuples as lists: both are taken, as the annotation's type."""
    config = DQNConfig(learning_rate=1, hidden_sizes=[64, 32], learning_rate_end=0)  # type: ignore[arg-type]
    assert type(config.learning_rate) is float and config.learning_rate == 1.0
    assert type(config.learning_rate_end) is float
    assert config.hidden_sizes == (64, 32)

"""The flags a task takes (dqn_ref/run/flags.py), run through the command line's main()."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import pytest

from dqn_ref.config import CONFIG_GROUPS, field_needs
from dqn_ref.presets import PRESETS, TASK_PRESETS, cartpole
from dqn_ref.run.main import main
from dqn_ref.run.task_help import flag_with_value

SHORT = ["--steps", "300", "--num-envs", "1", "--learning-starts", "100", "--eval-interval", "0"]
SHORT += ["--final-eval-episodes", "2", "--no-progress", "--no-tensorboard"]


def test_training_again_from_a_runs_config_json_gives_the_same_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The round trip: a run, then a run from its config.json (same preset name, same fields);
    a flag beside --config still overrides the file."""
    first, second, third = tmp_path / "first", tmp_path / "second", tmp_path / "third"
    assert main(["cartpole", *SHORT, "--gamma", "0.9", "--out", str(first)]) == 0
    assert main(["cartpole", "--config", str(first / "config.json"), "--out", str(second)]) == 0
    written = json.loads((first / "config.json").read_text())
    assert json.loads((second / "config.json").read_text()) == written
    assert written["preset"] == "cartpole" and written["config"]["gamma"] == 0.9
    assert written["config"] != dataclasses.asdict(cartpole)
    config_file = str(first / "config.json")
    assert main(["cartpole", "--config", config_file, "--seed", "3", "--out", str(third)]) == 0
    overridden = json.loads((third / "config.json").read_text())
    assert overridden["config"] == {**written["config"], "seed": 3}
    capsys.readouterr()
    assert main(["cartpole", "--config", str(tmp_path / "absent.json")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def help_text(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit):
        main(argv)
    return capsys.readouterr().out


@pytest.mark.parametrize("task", ["cartpole", "control"])
def test_a_classic_task_help_lists_its_presets_fields_without_atari_or_cuda_ones(
    task: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--help: every field as the flag that sets it to the default preset's value, grouped, and
    none that needs an Atari game or a CUDA device; short enough to read."""
    text = help_text(capsys, [task, "--help"])
    preset = PRESETS[TASK_PRESETS[task][0]]
    listed = " ".join(text.split())
    for group, fields_of in CONFIG_GROUPS.items():
        for item in dataclasses.fields(fields_of):
            flag = f"--{item.name.replace('_', '-')}"
            if field_needs(item.name) is None:
                assert flag_with_value(item.name, getattr(preset, item.name)) in listed, flag
            else:
                assert not re.search(rf"{flag}\b", text), flag
        if group != "Atari only":
            assert re.search(rf"^  {group} +--", text, re.MULTILINE), group
    assert "--help-all" in text
    assert len(text.splitlines()) < 106  # half the 212 lines of one help text per field


def test_help_all_explains_every_field_under_its_group(capsys: pytest.CaptureFixture[str]) -> None:
    """--help-all: each field's flag and help text under its group's heading, Atari-only and
    CUDA-only ones too."""
    text = help_text(capsys, ["cartpole", "--help-all"])
    headings = [f"config fields: {group} (override the preset):" for group in CONFIG_GROUPS]
    positions = [text.index(heading) for heading in headings]
    assert positions == sorted(positions)
    for group, fields_of in CONFIG_GROUPS.items():
        start = text.index(f"config fields: {group} ")
        following = [p for p in positions if p > start]
        section = " ".join(text[start : following[0] if following else len(text)].split())
        for item in dataclasses.fields(fields_of):
            assert f"--{item.name.replace('_', '-')}" in section, (item.name, group)
            assert " ".join(item.metadata["help"].split())[:30] in section, item.name


def test_the_listed_flags_set_the_presets_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The listing is a command line: given after --preset paper, it trains the cartpole
    preset's config, as a run of the cartpole preset itself does (short runs of both)."""
    text = help_text(capsys, ["cartpole", "--help"])
    listing = text[text.index("config fields, as the cartpole preset") :].splitlines()
    flags = [token for line in listing if line.startswith("  ") for token in shlex.split(line[14:])]
    assert len([token for token in flags if token.startswith("--")]) > 40
    short = ["--steps", "300", "--eval-interval", "0", "--final-eval-episodes", "1"]
    short += ["--no-progress", "--no-tensorboard"]
    listed, plain = tmp_path / "listed", tmp_path / "plain"
    assert main(["cartpole", "--preset", "paper", *flags, *short, "--out", str(listed)]) == 0
    assert main(["cartpole", *short, "--out", str(plain)]) == 0
    config_of = [json.loads((out / "config.json").read_text())["config"] for out in (listed, plain)]
    assert config_of[0] == config_of[1]


def test_a_run_too_short_to_learn_says_so_and_counts_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """300 steps before learning_starts=500: one warning line, then 0 updates; a final
    evaluation of 1 episode is announced and reported in the singular, with its time."""
    short = ["--steps", "300", "--num-envs", "1", "--learning-starts", "500"]
    short += ["--eval-interval", "0", "--final-eval-episodes", "1", "--no-progress"]
    assert main(["cartpole", *short, "--no-tensorboard", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "total_steps=300 ends before learning_starts=500" in warnings[0]
    assert "0 updates" in out and "final evaluation: 1 episode at epsilon 0..." in out
    assert re.search(r"final evaluation \(epsilon 0\) over 1 episode in \d+\.\d s:", out)
    assert "1 episodes" not in out
    assert main(["cartpole", *short, "--learning-starts", "300", "--out", str(tmp_path / "b")]) == 0
    assert "warning" not in capsys.readouterr().out


# Every command, by the words that name it, with a value its parser refuses.
USAGE_ERRORS = [
    *([task, "--batch-size", "many"] for task in TASK_PRESETS),
    *(["study", task, "--seeds", "0"] for task in TASK_PRESETS),
    *(["tune", task, "--workers", "0"] for task in TASK_PRESETS),
    ["resume", "runs/x", "--device", "gpu"],
    ["eval", "runs/x", "--episodes", "0"],
]


@pytest.mark.parametrize("argv", USAGE_ERRORS, ids=" ".join)
def test_a_usage_error_of_every_command_is_one_line_naming_the_command(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """`python -m dqn_ref.run tune cartpole: error: ...`, not the command's whole usage line in
    front of the message (study and tune had their usage text embedded)."""
    words = argv[:2] if argv[0] in ("study", "tune") else argv[:1]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"python -m dqn_ref.run {' '.join(words)}: error: argument "), lines
    assert lines[0].endswith(" (see --help)") and "[" not in lines[0].split(": error: ")[0]


@pytest.mark.parametrize(
    ("argv", "unknown", "hint"),
    [
        (["cartpole", "--learnin-rate", "3e-4"], "--learnin-rate 3e-4", "--learning-rate or"),
        (["cartpole", "--gama=0.9"], "--gama=0.9", "--gamma?"),
        (["study", "cartpole", "--sedes", "3"], "--sedes 3", "--seeds or --seed?"),
    ],
)
def test_a_mistyped_flag_names_the_flags_it_is_close_to(
    argv: list[str], unknown: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hint comes from the command's own flags, in the one line of the usage error."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"unrecognized arguments: {unknown}; did you mean {hint}" in line


def test_a_flag_close_to_none_gets_no_hint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["cartpole", "--zzz", "1"])
    assert capsys.readouterr().err.strip().endswith("unrecognized arguments: --zzz 1 (see --help)")


def test_a_run_too_short_for_its_first_round_of_updates_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """eq-update-rounds: with gradient_steps, 12 steps end before the first round of 16 (the
    acrobot preset's learning_starts 0 notwithstanding): one warning naming the rounds, 0 updates;
    at 16 steps, the round's 4 updates and no warning."""
    short = ["--steps", "12", "--train-frequency", "16", "--gradient-steps", "4"]
    short += ["--eval-interval", "0", "--final-eval-episodes", "1", "--no-progress"]
    short += ["--no-tensorboard", "--hidden-sizes", "8"]
    assert main(["control", *short, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "total_steps=12 ends before the first round of updates" in warnings[0]
    assert "0 updates" in out
    assert main(["control", *short, "--steps", "16", "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "warning" not in out and "4 updates" in out

"""A run's config.json read back (dqn_ref/training/config_file.py): the same config, or one line
saying what is wrong with the file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dqn_ref.errors import DQNRefError
from dqn_ref.presets import paper
from dqn_ref.training.config_file import read_config_file


def test_a_config_json_reads_back_as_the_config_that_wrote_it(tmp_path: Path) -> None:
    config = paper.replace(hidden_sizes=(7, 5), learning_rate_end=None, seed=11)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"preset": "paper", "config": dataclasses.asdict(config)}))
    assert read_config_file(path) == ("paper", config)


def test_a_bare_object_of_fields_keeps_the_defaults_of_the_others(tmp_path: Path) -> None:
    path = tmp_path / "fields.json"
    path.write_text(json.dumps({"learning_rate": 5e-4, "hidden_sizes": [64, 64]}))
    preset, config = read_config_file(path)
    assert preset == "custom" and config.learning_rate == 5e-4 and config.hidden_sizes == (64, 64)
    assert config.gamma == type(config)().gamma


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ("[1, 2]", "holds no JSON object"),
        ('{"config": {"learning_rat": 1}}', "does not know, 'learning_rat'"),
        ('{"config": {"gamma": 2.0}}', "invalid config: gamma=2.0 must lie in [0, 1]"),
    ],
)
def test_a_bad_file_is_a_one_line_error_naming_it(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(DQNRefError) as error:
        read_config_file(path)
    assert message in str(error.value) and str(path) in str(error.value)
    assert "\n" not in str(error.value)

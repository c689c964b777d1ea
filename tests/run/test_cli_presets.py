"""Every preset of every task, run from the command line as documented
(`python -m dqn_ref.run pong --preset book`), in a short form: tiny buffers and a few dozen agent
steps per copy, with episodes cut short by a time limit, so that each run passes its first
episode's end, resets, learns after it, evaluates and finishes.

The short form keeps every preset's own values (copies, network, optimiser, loss, n-step returns,
schedules, life-loss terminals, precision) but its lengths and sizes; it is derived from each
preset, so a new preset is run here without a line added.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dqn_ref.loop import updates_due
from dqn_ref.presets import PRESETS, TASK_PRESETS
from dqn_ref.run.main import main
from dqn_ref.training.metrics import read_metrics

EPISODE_STEPS = 25  # a random Pong game lasts about 900 agent steps; the time limit cuts it here
STEPS_PER_COPY = 2 * EPISODE_STEPS + 10  # two episodes and their resets, then some steps
UPDATES = 4  # learning starts this many updates before the end: after the first episode's end

TASK_AND_PRESET = [(task, preset) for task, presets in TASK_PRESETS.items() for preset in presets]


def short_form(preset: str) -> list[str]:
    """The flags that shorten a preset's run to seconds, from its own copies and train_frequency."""
    config = PRESETS[preset]
    steps = STEPS_PER_COPY * config.num_envs
    return [
        "--steps", str(steps),
        "--max-episode-steps", str(EPISODE_STEPS),
        "--buffer-size", str(max(steps, config.batch_size)),
        "--learning-starts", str(steps - (UPDATES - 1) * config.train_frequency),
        "--eval-interval", str(steps // 2),
        "--eval-episodes", "1",
        "--eval-max-episode-steps", str(EPISODE_STEPS),
        "--final-eval-episodes", "1",
        "--torch-threads", "1",
        "--no-progress",
    ]  # fmt: skip


@pytest.mark.parametrize(("task", "preset"), TASK_AND_PRESET)
def test_every_preset_runs_past_its_first_episodes_end(
    task: str, preset: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each copy ends an episode by its time limit (a truncation: on Atari, with lives reported),
    its next step is an autoreset, which stores nothing (with one copy, a step with no transition
    at all), and the run goes on: a second episode per copy, updates after the first episode's
    end, an evaluation, the final evaluation and summary.json."""
    out = tmp_path / "run"
    status = main([task, "--preset", preset, *short_form(preset), "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    config = PRESETS[preset]
    rows = read_metrics(out / "metrics.csv")
    train_rows = [row for row in rows if row["kind"] == "train"]
    assert len(train_rows) >= 2 * config.num_envs
    assert {int(row["length"]) for row in train_rows} <= set(range(1, EPISODE_STEPS + 1))
    first_end = min(int(row["step"]) for row in train_rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == STEPS_PER_COPY * config.num_envs > first_end
    # UPDATES rounds of train_frequency steps; a preset in SB3's rounds makes gradient_steps each.
    learning_starts = summary["steps"] - (UPDATES - 1) * config.train_frequency
    expected = updates_due(config.replace(learning_starts=learning_starts), summary["steps"])
    assert summary["updates"] == expected >= UPDATES
    assert "eval" in [row["kind"] for row in rows]
    assert rows[-1]["kind"] == "final"

"""What `resume` checks before it touches a run folder (spec/reliability.md#resume): that the run
has not finished (at its step or episode limit, or stopped once solved), and that config.json
still says what the checkpoint was trained with.

A refusal is one line and leaves every file as it was. The checks that need the run built (the
checkpoint's networks fit its config, metrics.csv holds the rows the checkpoint counted) come
in dqn_ref/training/train.py, also before anything is written.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.solve import solved_in_every_episode
from dqn_ref.training.metrics import read_metrics
from dqn_ref.training.wording import count

# Fields `resume` may change on purpose: --device finishes a GPU run on a CPU.
FIELDS_RESUME_MAY_CHANGE = ("device",)
# A config.json that differs from the checkpoint names these first, in this order: the task, and
# what shapes the networks.
FIELDS_NAMED_FIRST = ("env_id", "network", "hidden_sizes", "dueling", "layer_norm", "precision")


def check_run_not_finished(
    run_dir: Path,
    config: DQNConfig,
    counters: dict[str, Any],
    metrics_rows: int,
    training_s: float = 0.0,
) -> None:
    """Refuse to resume a run that has finished: its loop is done and summary.json is written.

    The loop is done at total_steps agent steps, at total_episodes episodes, after total_minutes
    of training (`training_s`, the checkpoint's seconds less its evaluations), or, with
    stop_when_solved, at the first evaluation solved in every episode, read off the metrics.csv
    rows the checkpoint counted (spec/evaluation.md#stopping-once-solved). A run killed after
    its loop but before summary.json (a crash, a full disk) is not finished: resume then redoes
    its final evaluation and writes the summary."""
    if not (run_dir / "summary.json").is_file():
        return
    step, episode = counters["step"], counters["episode"]
    ended_by = "total_steps" if step >= config.total_steps else None
    ended_by = ended_by or ended_early_by(
        config,
        episode,
        training_s,
        lambda: checkpointed_rows(run_dir / "metrics.csv", metrics_rows),
    )
    if ended_by is None:
        return
    if ended_by == "total_steps":
        how = f"{step} agent steps"
    elif ended_by == "total_episodes":
        how = f"its {episode} episodes in {step} agent steps"
    elif ended_by == "total_minutes":
        how = f"its {config.total_minutes:g} minutes of training, at step {step}"
    else:  # stop_when_solved, which holds only where a threshold is stated
        how = (
            f"stopped once solved at step {step}: every episode of that evaluation reached "
            f"{config.solved_threshold:g}"
        )
    raise DQNRefError(
        f"{run_dir} holds a finished run ({how}, summary.json written), so there is nothing to "
        f"resume; evaluate it with: python -m dqn_ref.run eval {run_dir}, or continue it to N "
        f"agent steps: python -m dqn_ref.run resume {run_dir} --steps N"
    )


def checkpointed_rows(path: Path, metrics_rows: int) -> list[dict[str, str]]:
    """The first `metrics_rows` rows of metrics.csv, those the checkpoint counted; none where the
    file cannot be read (resume refuses that file later, in its own line)."""
    try:
        with path.open(newline="") as file:
            return list(itertools.islice(csv.DictReader(file), metrics_rows))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def check_more_steps(
    run_dir: Path,
    config: DQNConfig,
    counters: dict[str, Any],
    total_steps: int,
    training_s: float = 0.0,
) -> None:
    """Refuse to continue a run to total_steps agent steps (spec/reliability.md#more-steps)
    when it has taken them already, or when the run it continues would have ended where it did
    anyway: at its total_episodes, its total_minutes, or once solved (stop_when_solved)."""
    step, episode = counters["step"], counters["episode"]
    if total_steps <= step:
        raise DQNRefError(
            f"{run_dir} has taken {step} agent steps already; continue it to more than that "
            f"(--steps {total_steps} asks for {total_steps})"
        )
    metrics = run_dir / "metrics.csv"
    ended_by = ended_early_by(
        config, episode, training_s, lambda: read_metrics(metrics) if metrics.is_file() else []
    )
    if ended_by == "total_episodes":
        raise DQNRefError(
            f"{run_dir} ended at its total_episodes={config.total_episodes}, which more steps do "
            "not raise; train a new run with a larger --total-episodes"
        )
    if ended_by == "total_minutes":
        raise DQNRefError(
            f"{run_dir} ended at its total_minutes={config.total_minutes:g} of training, which "
            "more steps do not raise; train a new run with a larger --minutes"
        )
    if ended_by == "stop_when_solved":
        raise DQNRefError(
            f"{run_dir} stopped at step {step} once solved (stop_when_solved), as a longer "
            "run would have; to train on past a solve, train a new run with "
            "--no-stop-when-solved"
        )


def ended_early_by(
    config: DQNConfig,
    episode: int,
    training_s: float,
    metrics_rows: Callable[[], Sequence[Mapping[str, str]]],
) -> str | None:
    """The limit short of total_steps that ended a checkpointed run's loop, named as
    summary.json's stopped_by names it, or None: total_episodes episodes, total_minutes of
    training (`training_s`, the checkpoint's seconds less its evaluations), or with
    stop_when_solved an evaluation solved in every episode (read off `metrics_rows()`, only
    then)."""
    if config.total_episodes and episode >= config.total_episodes:
        return "total_episodes"
    if config.total_minutes and training_s >= 60.0 * config.total_minutes:
        return "total_minutes"
    if config.stop_when_solved and solved_in_every_episode(metrics_rows(), config.solved_threshold):
        return "stop_when_solved"
    return None


def check_config_json_matches(
    run_dir: Path, config: DQNConfig, also_changed: tuple[str, ...] = ()
) -> None:
    """Refuse to resume when config.json, edited since, no longer says what the checkpoint was
    trained with: resume continues the checkpoint's own config, and would overwrite the edit.
    `also_changed`: fields this resume changes on purpose (total_steps, for more steps).

    A missing config.json is written again from the checkpoint."""
    path = run_dir / "config.json"
    if not path.is_file():
        return
    try:
        written = json.loads(path.read_text())
        on_disk = written["config"]
        if not isinstance(on_disk, dict):
            raise TypeError(type(on_disk).__name__)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise DQNRefError(
            f"{path} is not the config a run writes ({type(error).__name__}); put back the "
            "run's own config.json, or remove it and resume writes it again from the checkpoint"
        ) from error
    # Through JSON, so that tuples and lists, and ints and floats, compare as written. A field
    # added to dqn_ref after the file was written is missing from it: it holds its default.
    saved = json.loads(json.dumps(dataclasses.asdict(config)))
    defaults = json.loads(json.dumps(dataclasses.asdict(DQNConfig())))
    on_disk = {**{name: defaults[name] for name in set(defaults) - set(on_disk)}, **on_disk}
    differing = [
        name
        for name in fields_most_telling_first(set(saved) | set(on_disk))
        if name not in (*FIELDS_RESUME_MAY_CHANGE, *also_changed)
        and on_disk.get(name) != saved.get(name)
    ]
    if not differing:
        return
    name, others = differing[0], len(differing) - 1
    also = f" (and differs in {count(others, 'other field')})" if others else ""
    raise DQNRefError(
        f"{path} says {name}={on_disk.get(name, '(missing)')!r} but checkpoint.pt was "
        f"trained with {name}={saved.get(name, '(missing)')!r}{also}; resume "
        "continues the checkpoint's run, so put config.json's value back (or remove "
        "config.json), or train a new run with the new value"
    )


def fields_most_telling_first(names: set[str]) -> list[str]:
    """Config fields in the order a mismatch is named: the task, then what shapes the networks,
    then DQNConfig's own order, then names it does not have. A checkpoint of another task
    differs in dozens of fields; its env_id says at once what happened."""
    declared = [field.name for field in dataclasses.fields(DQNConfig)]
    order = [*FIELDS_NAMED_FIRST, *(name for name in declared if name not in FIELDS_NAMED_FIRST)]
    known = [name for name in order if name in names]
    return known + sorted(names - set(order))

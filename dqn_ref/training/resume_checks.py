"""What `resume` checks before it touches a run folder (spec/reliability.md#resume): that the run
has not finished, and that config.json still says what the checkpoint was trained with.

A refusal is one line and leaves every file as it was. The checks that need the run built (the
checkpoint's networks fit its config, metrics.csv holds the rows the checkpoint counted) come
in dqn_ref/training/train.py, also before anything is written.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.loop import training_done
from dqn_ref.training.metrics import read_metrics

# Fields `resume` may change on purpose: --device finishes a GPU run on a CPU.
FIELDS_RESUME_MAY_CHANGE = ("device",)


def check_run_not_finished(run_dir: Path, config: DQNConfig, counters: dict[str, Any]) -> None:
    """Refuse to resume a run that has finished: its loop is done and summary.json is written.

    A run killed after its loop but before summary.json (a crash, a full disk) is not finished:
    resume then redoes its final evaluation and writes the summary."""
    if not (run_dir / "summary.json").is_file():
        return
    if not training_done(config, counters["step"], counters["episode"]):
        return
    raise DQNRefError(
        f"{run_dir} holds a finished run ({counters['step']} agent steps, summary.json written), "
        f"so there is nothing to resume; evaluate it with: python -m dqn_ref.run eval {run_dir}, "
        f"or continue it to N agent steps: python -m dqn_ref.run resume {run_dir} --steps N"
    )


def check_more_steps(
    run_dir: Path, config: DQNConfig, counters: dict[str, Any], total_steps: int
) -> None:
    """Refuse to continue a run to total_steps agent steps (spec/reliability.md#more-steps)
    when it has taken them already, or when the run it continues would have ended where it did
    anyway: at its total_episodes, or once solved (stop_when_solved)."""
    step, episode = counters["step"], counters["episode"]
    if total_steps <= step:
        raise DQNRefError(
            f"{run_dir} has taken {step} agent steps already; continue it to more than that "
            f"(--steps {total_steps} asks for {total_steps})"
        )
    if config.total_episodes and episode >= config.total_episodes:
        raise DQNRefError(
            f"{run_dir} ended at its total_episodes={config.total_episodes}, which more steps do "
            "not raise; train a new run with a larger --total-episodes"
        )
    threshold = config.solved_threshold
    metrics = run_dir / "metrics.csv"
    if config.stop_when_solved and threshold is not None and metrics.is_file():
        evaluations = [row for row in read_metrics(metrics) if row["kind"] == "eval"]
        if evaluations and float(evaluations[-1]["eval_min"]) >= threshold:
            raise DQNRefError(
                f"{run_dir} stopped at step {step} once solved (stop_when_solved), as a longer "
                "run would have; to train on past a solve, train a new run with "
                "--no-stop-when-solved"
            )


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
    # Through JSON, so that tuples and lists, and ints and floats, compare as written.
    saved = json.loads(json.dumps(dataclasses.asdict(config)))
    # A field newer than the run's config.json is missing there; at its default it was not edited.
    defaults = json.loads(json.dumps(dataclasses.asdict(DQNConfig())))
    for name in sorted(set(saved) | set(on_disk)):
        if name in (*FIELDS_RESUME_MAY_CHANGE, *also_changed):
            continue
        if on_disk.get(name) == saved.get(name):
            continue
        if name not in on_disk and saved.get(name) == defaults.get(name):
            continue
        raise DQNRefError(
            f"{path} says {name}={on_disk.get(name, '(missing)')!r} but checkpoint.pt was "
            f"trained with {name}={saved.get(name, '(missing)')!r}; resume continues the "
            "checkpoint's run, so put config.json's value back (or remove config.json), or train "
            "a new run with the new value"
        )

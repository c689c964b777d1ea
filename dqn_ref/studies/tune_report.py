"""A search's report: its best trials as a table, the flags that reproduce each, and tune.md,
tune.csv and tune.json in the search's folder."""

from __future__ import annotations

import csv
import io
import statistics
from typing import TYPE_CHECKING, Any

from dqn_ref.studies.tune import PENALTY_FACTOR, TuneSettings
from dqn_ref.studies.tune_space import SEARCH_SPACE
from dqn_ref.training.atomic import atomic_write, atomic_write_json

if TYPE_CHECKING:
    import optuna


TUNE_FILES = ("tune.md", "tune.csv", "tune.json")
BEST_SHOWN = 10  # trials in the printed table
REPORT_COLUMNS = (
    "trial",
    "objective",
    "stable",
    "median stable step",
    "median stable s",
    "worst seed",
    "params",
)


def worst_seed(seeds: list[dict[str, Any]]) -> str | None:
    """The trial's seed that scored worst, and what it did: "105: stable at 12,000" or "105: no
    stable solve (final 390.5)"; None before any seed finished. A robust config is one whose
    worst seed is still good, which a mean over seeds can hide."""
    if not seeds:
        return None
    worst = max(seeds, key=lambda seed: (seed["score"], seed["seed"]))
    if worst["stable_step"] is not None:
        return f"{worst['seed']}: stable at {worst['stable_step']:,}"
    final = worst["final_eval"]
    final_text = "no final evaluation" if final is None else f"final {final:,.1f}"
    return f"{worst['seed']}: no stable solve ({final_text})"


def trial_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    seeds = trial.user_attrs.get("seeds", [])
    steps = [s["stable_step"] for s in seeds if s["stable_step"] is not None]
    seconds = [s["stable_train_s"] for s in seeds if s["stable_train_s"] is not None]
    return {
        "trial": trial.number,
        "objective": trial.value,
        "stable": f"{len(steps)} of {len(seeds)}",
        "median stable step": statistics.median(steps) if steps else None,
        "median stable s": statistics.median(seconds) if seconds else None,
        "worst seed": worst_seed(seeds),
        "params": trial.params,
    }


def flags_of(params: dict[str, Any]) -> str:
    """A trial's parameters as the flags that reproduce it: --learning-rate 0.001 --dueling ..."""
    flags = []
    for name, value in sorted(params.items()):
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{name.replace('_', '-')}")
        elif name == "hidden_sizes":
            flags.append(f"{flag} {value.replace('x', ',')}")
        else:
            flags.append(f"{flag} {value}")
    return " ".join(flags)


def cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.{digits}f}"
    return str(value)


def write_report(
    study: optuna.Study, settings: TuneSettings, command: str, study_command: str
) -> str:
    """tune.md (best trials and how to rerun them), tune.csv and tune.json in --out; returns the
    table printed at the end. `study_command` begins the command that reruns the best trial
    (`python -m dqn_ref.run study TASK`)."""
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    # Failed: ended by an error, or abandoned by a killed process (tune_stale.py); running: in
    # another process sharing the storage, or killed too recently to tell.
    others = [
        f"{sum(t.state == state for t in study.trials)} {word}"
        for state, word in [
            (optuna.trial.TrialState.FAIL, "failed"),
            (optuna.trial.TrialState.RUNNING, "running"),
        ]
        if any(t.state == state for t in study.trials)
    ]
    best = sorted(complete, key=lambda t: t.value if t.value is not None else float("inf"))
    rows = [trial_row(trial) for trial in best]
    header = "| " + " | ".join(REPORT_COLUMNS) + " |"
    table = [header, "|" + " --- |" * len(REPORT_COLUMNS)]
    for row in rows[:BEST_SHOWN]:
        cells = [
            cell(row[column], 0 if column in ("trial", "median stable step") else 1)
            for column in REPORT_COLUMNS[:-1]
        ]
        table.append("| " + " | ".join([*cells, f"`{flags_of(row['params'])}`"]) + " |")
    unit = "agent steps" if settings.objective == "steps" else "training seconds"
    penalty = (
        f"x{PENALTY_FACTOR:g} the budget"
        if settings.objective == "steps"
        else f"{settings.penalty_seconds:g} s"
    )
    seeds = f"seeds {settings.seeds[0]}-{settings.seeds[-1]}"
    summary = (
        f"{len(study.trials)} trials in study {study.study_name!r}: {len(complete)} complete, "
        f"{', '.join([f'{pruned} pruned', *others])}; objective: mean {unit} to a stable "
        f"solve over {seeds} "
        f"({penalty} for a seed without one), lower is better"
    )
    # Every objective is then the penalty: the ranking is a tie broken by noise, not a best trial.
    stabilised = any(row["median stable step"] is not None for row in rows)
    if complete and not stabilised:
        summary += (
            "\n\nNo trial reached a stable solve on any seed, so there is no best trial: each "
            "scored the penalty. Raise --budget, or hold fewer flags fixed, and search again."
        )
    lines = [f"# Tune: {study.study_name}", "", f"Command: `{command}`", "", summary, "", *table]
    if best and stabilised:
        lines += [
            "",
            "Rerun the best trial on ten seeds:",
            "",
            f"    {study_command} --seeds 10 {flags_of(best[0].params)}",
        ]
    text = "\n".join(lines) + "\n"
    atomic_write(settings.out / "tune.md", lambda file: file.write(text.encode()))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*REPORT_COLUMNS[:-1], *SEARCH_SPACE])
    for row in rows:
        cells = [row[column] for column in REPORT_COLUMNS[:-1]]
        writer.writerow([*cells, *(row["params"].get(name, "") for name in SEARCH_SPACE)])
    atomic_write(settings.out / "tune.csv", lambda file: file.write(buffer.getvalue().encode()))
    atomic_write_json(
        settings.out / "tune.json",
        {
            "command": command,
            "study_name": study.study_name,
            "objective": settings.objective,
            "seeds": settings.seeds,
            "best_trial": best[0].number if best and stabilised else None,
            "trials": [
                {
                    "number": t.number,
                    "state": t.state.name,
                    "value": t.value,
                    "params": t.params,
                    "user_attrs": t.user_attrs,
                }
                for t in study.trials
            ],
        },
    )
    return "\n".join([summary, "", *table])

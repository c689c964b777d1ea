"""A study's words: the line printed as each seed finishes, the summary over seeds, study.csv and
study.md. Numbers come from seed_result.py; nothing here trains or reads a run folder."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence
from pathlib import Path

from dqn_ref.config import DQNConfig
from dqn_ref.studies.seed_result import TABLE_COLUMNS, SeedResult, StudyAggregate
from dqn_ref.studies.study_stats import CONFIDENCE_LEVEL, Spread
from dqn_ref.training.atomic import atomic_write
from dqn_ref.training.wording import count

# Below this many seeds a bootstrap interval over seeds is rough (Agarwal et al., 2021, use 5 or
# more runs per task); the report says so beside the interval.
FEW_SEEDS = 5


def format_number(value: float | int | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def format_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def format_iqm(spread: Spread, digits: int) -> str:
    """The IQM and its interval: "IQM 12.0 (95% CI 10.0 to 14.0)", with a caveat when the
    interval rests on fewer than FEW_SEEDS seeds."""
    if spread.iqm_ci_low is None or spread.iqm_ci_high is None:
        interval = "one seed, no interval"
    else:
        interval = (
            f"{CONFIDENCE_LEVEL:.0%} CI {format_number(spread.iqm_ci_low, digits)} to "
            f"{format_number(spread.iqm_ci_high, digits)}"
        )
        if spread.count < FEW_SEEDS:
            interval += f"; from {count(spread.count, 'seed')} only, a rough interval"
    return f"IQM {format_number(spread.iqm, digits)} ({interval})"


def format_spread(spread: Spread, digits: int) -> str:
    return (
        f"median {format_number(spread.median, digits)}, range "
        f"{format_number(spread.min, digits)} to {format_number(spread.max, digits)}; "
        f"{format_iqm(spread, digits)}"
    )


def format_solve_spread(spread: Spread | None, digits: int, solved: str = "solved") -> str:
    if spread is None:
        return f"no seed {solved}"
    return f"{format_spread(spread, digits)}, over the {count(spread.count, 'seed')} that {solved}"


def cap_label(return_cap: float | None) -> str:
    return "the time limit's return" if return_cap is None else f"{return_cap:g}"


def reports_success_rate(config: DQNConfig, return_cap: float | None) -> bool:
    """Whether the paper's success rate (training episodes whose return reached the time
    limit's) says anything: not without such a return, and not for a run that stops once solved
    (spec/evaluation.md#stopping-once-solved), which ends before its exploring training episodes
    could reach the limit, so that its rate is near 0 however well the agent plays."""
    return return_cap is not None and not config.stop_when_solved


def describe_seed(result: SeedResult, config: DQNConfig, return_cap: float | None) -> str:
    """The one line printed when a seed finishes: the stable solve and its time first, then the
    final evaluation, then the first solve."""
    final = f"final evaluation {format_number(result.final_eval)}"
    if config.solved_threshold is None:
        line = f"no solved threshold (best evaluation {format_number(result.best_eval)}); {final}"
    elif not result.solved:
        line = f"never solved (best evaluation {format_number(result.best_eval)}); {final}"
    else:
        if result.stable_steps_to_solve is None:
            stable = "not stably solved (an evaluation after the first solve fell below)"
        else:
            stable = (
                f"stably solved (evaluation mean >= {config.solved_threshold:g} from then on) at "
                f"step {result.stable_steps_to_solve:,}"
            )
            if result.stable_train_seconds_to_solve is not None:
                seconds = format_number(result.stable_train_seconds_to_solve)
                stable += f" after {seconds} s of training"
            else:
                stable += f" after {format_number(result.stable_seconds_to_solve)} s"
        first = (
            f"first solved at step {result.steps_to_solve:,} after "
            f"{format_number(result.seconds_to_solve)} s"
        )
        if result.train_seconds_to_solve is not None:
            first += f" ({format_number(result.train_seconds_to_solve)} s training only)"
        line = f"{stable}; {final}; {first}"
    if reports_success_rate(config, return_cap):
        line += (
            f"; {format_rate(result.success_rate)} of "
            f"{count(result.episodes, 'training episode')} reached {cap_label(return_cap)}"
        )
    return f"seed {result.seed}: {line}"


def aggregate_lines(
    aggregate: StudyAggregate, config: DQNConfig, return_cap: float | None
) -> list[str]:
    """The study's summary, one measure a line (study.md and the terminal): the stable solves,
    their time and the final evaluation first, then the first solves."""
    if config.solved_threshold is None:
        lines = [
            f"no solve measured: {config.env_id}'s gymnasium spec gives no reward threshold "
            "(--solved-threshold X states one)"
        ]
    else:
        lines = stable_solve_lines(aggregate, config.solved_threshold)
    if aggregate.final_eval is not None:
        lines.append(
            f"final evaluation ({count(config.final_eval_episodes, 'episode')}): "
            f"{format_spread(aggregate.final_eval, 1)}"
        )
    if config.solved_threshold is not None:
        lines += first_solve_lines(aggregate, config.solved_threshold)
    if reports_success_rate(config, return_cap):
        lines.append(
            f"training episodes reaching {cap_label(return_cap)} (the paper's success rate), "
            f"mean over seeds: {format_rate(aggregate.mean_success_rate)}"
        )
    return lines


def stable_solve_lines(aggregate: StudyAggregate, threshold: float) -> list[str]:
    """How many seeds stably solved, and how soon: training seconds first where runs report
    them, then agent steps, then seconds with the evaluations."""
    lines = [
        "stably solved (from one evaluation on, every evaluation mean >= "
        f"{threshold:g}): {aggregate.stably_solved} of {count(aggregate.seeds, 'seed')}",
    ]
    if aggregate.stable_train_seconds_to_solve is not None:
        lines.append(
            "seconds of training to stable solve (evaluations excluded): "
            + format_solve_spread(aggregate.stable_train_seconds_to_solve, 1, "stably solved")
        )
    lines += [
        "agent steps to stable solve: "
        f"{format_solve_spread(aggregate.stable_steps_to_solve, 0, 'stably solved')}",
        "seconds to stable solve, evaluations included: "
        f"{format_solve_spread(aggregate.stable_seconds_to_solve, 1, 'stably solved')}",
    ]
    return lines


def first_solve_lines(aggregate: StudyAggregate, threshold: float) -> list[str]:
    """How many seeds reached the threshold at some evaluation, and how soon."""
    lines = [
        f"solved at some evaluation (a mean >= {threshold:g} during training): "
        f"{aggregate.solved} of {count(aggregate.seeds, 'seed')}",
        f"agent steps to first solve: {format_solve_spread(aggregate.steps_to_solve, 0)}",
        f"seconds to first solve: {format_solve_spread(aggregate.seconds_to_solve, 1)}",
    ]
    if aggregate.train_seconds_to_solve is not None:
        lines.append(
            "seconds to first solve, training only (evaluations excluded): "
            f"{format_solve_spread(aggregate.train_seconds_to_solve, 1)}"
        )
    return lines


def write_table_csv(path: Path, results: Sequence[SeedResult]) -> None:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(TABLE_COLUMNS)
    for result in results:
        row = dataclasses.asdict(result)
        row["solved"] = "yes" if result.solved else "no"
        writer.writerow(["" if row[column] is None else row[column] for column in TABLE_COLUMNS])
    atomic_write(path, lambda file: file.write(text.getvalue().encode()))


def write_markdown(
    path: Path,
    results: Sequence[SeedResult],
    aggregate: StudyAggregate,
    config: DQNConfig,
    return_cap: float | None,
    title: str,
    command: str,
) -> None:
    """study.md: the per-seed table, the aggregates and the command that made them."""
    with_train_seconds = aggregate.train_seconds_to_solve is not None
    with_stable_train_seconds = aggregate.stable_train_seconds_to_solve is not None
    with_success_rate = reports_success_rate(config, return_cap)
    header = ["seed", "steps to stable solve"]
    if with_stable_train_seconds:
        header.append("seconds of training to stable solve")
    header += ["seconds to stable solve", "final evaluation", "solved", "steps to first solve"]
    header.append("seconds to first solve")
    if with_train_seconds:
        header.append("seconds to first solve, training only")
    if with_success_rate:
        header.append(f"training episodes reaching {cap_label(return_cap)}")
    header += ["mean training return", "best evaluation"]
    lines = [
        f"# Study: {title}",
        "",
        f"Command: `{command}`",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for result in results:
        cells = [str(result.seed), format_number(result.stable_steps_to_solve, 0)]
        if with_stable_train_seconds:
            cells.append(format_number(result.stable_train_seconds_to_solve))
        cells += [
            format_number(result.stable_seconds_to_solve),
            format_number(result.final_eval),
            "yes" if result.solved else "no",
            format_number(result.steps_to_solve, 0),
            format_number(result.seconds_to_solve),
        ]
        if with_train_seconds:
            cells.append(format_number(result.train_seconds_to_solve))
        if with_success_rate:
            cells.append(format_rate(result.success_rate))
        cells += [format_number(result.mean_train_return), format_number(result.best_eval)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"- {line}" for line in aggregate_lines(aggregate, config, return_cap)), ""]
    lines += [
        "A stable solve is the first evaluation from which every later evaluation mean stays at "
        "or above the threshold (spec/evaluation.md#eq-stable-solve). IQM: the mean of the "
        f"middle 50% of the seeds; its interval is a {CONFIDENCE_LEVEL:.0%} percentile bootstrap "
        "over seeds (spec/evaluation.md#eq-iqm).",
        "",
        "Each seed's run folder is seed<S>/; curves.png and boxplot.png are the study's figures.",
        "",
    ]
    if return_cap is not None and not with_success_rate:
        lines[-1:-1] = [
            "The paper's success rate (training episodes reaching "
            f"{cap_label(return_cap)}) is left out: these runs stop once solved "
            "(spec/evaluation.md#stopping-once-solved), before their exploring training episodes "
            "could reach it. study.csv keeps it.",
            "",
        ]
    text = "\n".join(lines)
    atomic_write(path, lambda file: file.write(text.encode()))

"""When a run counts as solved, read off its evaluation curve: the first solve, the stable one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def first_solve_index(eval_means: Sequence[float], threshold: float) -> int | None:
    """The first evaluation whose mean reaches the threshold, or None.

    Implements: spec/evaluation.md#eq-first-solve
    """
    return next((i for i, mean in enumerate(eval_means) if mean >= threshold), None)


def stable_solve_index(eval_means: Sequence[float], threshold: float) -> int | None:
    """The first evaluation from which every later one (itself included) stays at or above the
    threshold, or None when the last evaluation is below it.

    Implements: spec/evaluation.md#eq-stable-solve
    """
    index = len(eval_means)
    while index > 0 and eval_means[index - 1] >= threshold:
        index -= 1
    return index if index < len(eval_means) else None


def stable_solve_of_run(
    rows: Sequence[Mapping[str, float | str]], threshold: float | None
) -> tuple[int, float, float | None] | None:
    """A run's stable solve read off its metrics.csv rows (kind "eval", in order): the agent step,
    the training wall-clock with evaluations and without them (None in runs older than the
    train_time_s column) of that evaluation, or None (always None without a threshold).

    Implements: spec/evaluation.md#eq-stable-solve (through stable_solve_index)
    """
    if threshold is None:
        return None
    evaluations = [row for row in rows if row["kind"] == "eval"]
    index = stable_solve_index([float(row["return"]) for row in evaluations], threshold)
    if index is None:
        return None
    stable = evaluations[index]
    train_time = stable.get("train_time_s", "")
    return (
        int(float(stable["step"])),
        float(stable["wall_time_s"]),
        float(train_time) if train_time != "" else None,
    )


def solved_in_every_episode(
    rows: Sequence[Mapping[str, float | str]], threshold: float | None
) -> bool:
    """Whether the last evaluation during training (the last metrics.csv row of kind "eval")
    reached the threshold in every episode, its min included: where a run with stop_when_solved
    stops (spec/evaluation.md#stopping-once-solved). False without a threshold or evaluation."""
    if threshold is None:
        return False
    evaluations = [row for row in rows if row["kind"] == "eval"]
    return bool(evaluations) and float(evaluations[-1]["eval_min"]) >= threshold

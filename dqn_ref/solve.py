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
    rows: Sequence[Mapping[str, float | str]], threshold: float
) -> tuple[int, float] | None:
    """A run's stable solve read off its metrics.csv rows (kind "eval", in order): the agent step
    and the training wall-clock (evaluations included) of that evaluation, or None.

    Implements: spec/evaluation.md#eq-stable-solve (through stable_solve_index)
    """
    evaluations = [row for row in rows if row["kind"] == "eval"]
    index = stable_solve_index([float(row["return"]) for row in evaluations], threshold)
    if index is None:
        return None
    return int(float(evaluations[index]["step"])), float(evaluations[index]["wall_time_s"])

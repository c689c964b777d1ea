"""eq-first-solve and eq-stable-solve, checked against their definitions on arbitrary curves."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dqn_ref.solve import (
    first_solve_index,
    solved_in_every_episode,
    stable_solve_index,
    stable_solve_of_run,
)

means = st.lists(st.sampled_from([0.0, 100.0, 474.9, 475.0, 500.0]), max_size=12)
THRESHOLD = 475.0


@given(means)
def test_first_solve_is_the_first_evaluation_at_or_above_the_threshold(curve: list[float]) -> None:
    """eq-first-solve P1: i is the least index with m_i >= threshold; None when there is none."""
    index = first_solve_index(curve, THRESHOLD)
    solved = [i for i, mean in enumerate(curve) if mean >= THRESHOLD]
    assert index == (solved[0] if solved else None)


@given(means)
def test_stable_solve_holds_to_the_end_and_no_earlier_start_does(curve: list[float]) -> None:
    """eq-stable-solve P1: every evaluation from i on is >= threshold, and i - 1 (if any) is not;
    None exactly when the last evaluation is below the threshold."""
    index = stable_solve_index(curve, THRESHOLD)
    if index is None:
        assert not curve or curve[-1] < THRESHOLD
        return
    assert all(mean >= THRESHOLD for mean in curve[index:])
    assert index == 0 or curve[index - 1] < THRESHOLD


@given(means)
def test_a_stable_solve_never_comes_before_the_first_solve(curve: list[float]) -> None:
    """eq-stable-solve P2: the stable solve, when there is one, is at or after the first solve."""
    stable = stable_solve_index(curve, THRESHOLD)
    first = first_solve_index(curve, THRESHOLD)
    if stable is not None:
        assert first is not None and first <= stable


def test_a_lucky_spike_is_a_first_solve_but_not_a_stable_one() -> None:
    """eq-stable-solve P1 on the curve that motivates it: 475 at the third evaluation, a fall to
    114, then 475 or more to the end."""
    curve = [20.0, 250.0, 480.0, 114.0, 476.0, 500.0, 500.0]
    assert first_solve_index(curve, THRESHOLD) == 2
    assert stable_solve_index(curve, THRESHOLD) == 4


def test_stable_solve_of_a_run_reads_that_evaluations_step_and_clocks() -> None:
    """eq-stable-solve on metrics.csv rows: evaluations 480, 300, 476, 490 against 475 give the
    row at step 300, its wall-clock (evaluations included) and its training-only seconds; rows
    of an older run, without train_time_s, give None for the latter; a run ending below 475,
    no stable solve."""
    rows: list[dict[str, float | str]] = [
        {"kind": "eval", "step": 100 * (i + 1), "return": mean, "wall_time_s": 2.5 * (i + 1),
         "train_time_s": 2.0 * (i + 1)}
        for i, mean in enumerate([480, 300, 476, 490])
    ]  # fmt: skip
    rows.insert(1, {"kind": "train", "step": 150, "return": 12, "wall_time_s": 3.0})
    assert stable_solve_of_run(rows, 475.0) == (300, 7.5, 6.0)
    older = [{k: v for k, v in row.items() if k != "train_time_s"} for row in rows]
    assert stable_solve_of_run(older, 475.0) == (300, 7.5, None)
    assert stable_solve_of_run([*rows, {**rows[-1], "return": 474.9}], 475.0) is None


def test_a_run_stops_once_solved_on_its_last_evaluations_min_not_its_mean() -> None:
    """spec/evaluation.md#stopping-once-solved: the last "eval" row decides, by its eval_min
    (every episode), whatever rows of other kinds follow it; no threshold, no evaluation: no."""

    def rows(*evaluations: tuple[float, float]) -> list[dict[str, float | str]]:
        evaluated: list[dict[str, float | str]] = [
            {"kind": "eval", "return": mean, "eval_min": low} for mean, low in evaluations
        ]
        return [*evaluated, {"kind": "train", "return": 9.0, "eval_min": ""}]

    assert solved_in_every_episode(rows((480.0, 476.0)), THRESHOLD)
    assert not solved_in_every_episode(rows((480.0, 474.0)), THRESHOLD)  # the mean alone solves
    assert not solved_in_every_episode(rows((500.0, 500.0), (480.0, 474.0)), THRESHOLD)
    assert solved_in_every_episode(rows((480.0, 474.0), (475.0, 475.0)), THRESHOLD)
    assert not solved_in_every_episode(rows((500.0, 500.0)), None)
    assert not solved_in_every_episode(rows(), THRESHOLD)

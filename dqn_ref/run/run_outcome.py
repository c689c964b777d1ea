"""What a finished run prints: its counts and time, the limit that ended it where that was the
time limit, when it first and stably solved, and its final evaluation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dqn_ref.training.wording import count

if TYPE_CHECKING:  # torch loads with the first run, not with --help
    from dqn_ref.training.train import TrainResult


NO_THRESHOLD = (
    "no solve measured (the environment's spec gives no reward threshold; "
    "--solved-threshold X states one)"
)


def after(seconds: float | None, train_seconds: float | None) -> str:
    """ "after 5.2 s (4.0 s training only)": wall-clock, then without the evaluations' time."""
    text = f"after {seconds or 0.0:.1f} s"
    return text if train_seconds is None else f"{text} ({train_seconds:.1f} s training only)"


def print_result(result: TrainResult) -> None:
    if result.solved_threshold is None:
        solved = NO_THRESHOLD
    elif result.first_solved_step is not None:
        solved = (
            f"first solved (eval mean >= {result.solved_threshold:g}) at step "
            f"{result.first_solved_step} "
            f"{after(result.first_solved_time_s, result.first_solved_train_time_s)}"
        )
    else:
        solved = f"never solved during training (threshold {result.solved_threshold:g})"
    if result.stable_solved_step is not None:
        solved += (
            f", stably (every later evaluation too) from step {result.stable_solved_step} "
            f"{after(result.stable_solved_time_s, result.stable_solved_train_time_s)}"
        )
    elif result.first_solved_step is not None:
        solved += ", not stably (the last evaluation is below the threshold)"
    timed_out = (
        ", stopped by its time limit (total_minutes)"
        if result.stopped_by == "total_minutes"
        else ""
    )
    print(
        f"done: {count(result.steps, 'agent step')}, {count(result.episodes, 'episode')}, "
        f"{count(result.updates, 'update')} in {result.wall_time_s:.1f} s{timed_out}; {solved}"
    )
    if result.final_eval is not None:
        final = result.final_eval
        took = (
            f" in {result.final_eval_time_s:.1f} s" if result.final_eval_time_s is not None else ""
        )
        print(
            f"final evaluation (epsilon {result.eval_epsilon:g}) over "
            f"{count(final.episodes, 'episode')}{took}: mean {final.mean:.1f}, "
            f"std {final.std:.1f}, min {final.min:.0f}, max {final.max:.0f}"
        )
    print(f"run folder: {result.run_dir}")

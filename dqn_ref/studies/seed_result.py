"""One seed of a study, read back from its run folder: the row of the study table (first and stable
solve, success rate, returns), and the summary over seeds that study.md reports."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

from dqn_ref.config import DQNConfig
from dqn_ref.solve import stable_solve_of_run
from dqn_ref.studies.study_stats import Spread
from dqn_ref.training.metrics import read_metrics

# CartPole pays +1 per step, so an episode that lasts to the time limit returns the limit itself:
# 500 on CartPole-v1, the paper's "success".
REWARD_PER_STEP = 1.0
TABLE_COLUMNS = (
    "seed",
    "solved",  # an evaluation mean during training reached config.solved_threshold
    "steps_to_solve",  # agent steps at that first evaluation
    "seconds_to_solve",  # training wall-clock to that evaluation, evaluations included
    "train_seconds_to_solve",  # the same without evaluation time, where the run reports it
    "stable_steps_to_solve",  # agent steps at the stable solve: every later evaluation solves too
    "stable_seconds_to_solve",  # training wall-clock to that evaluation, evaluations included
    "stable_train_seconds_to_solve",  # the same without evaluation time, where the run reports it
    "success_rate",  # fraction of training episodes whose return reached the time limit's
    "episodes",  # training episodes
    "steps",  # agent steps trained
    "mean_train_return",  # mean return of the training episodes
    "best_eval",  # highest evaluation mean during training
    "final_eval",  # mean of the final evaluation
    "wall_time_s",  # training wall-clock, without the final evaluation
)


@dataclass(frozen=True)
class SeedResult:
    """One seed's row of the study table (TABLE_COLUMNS says what each field is)."""

    seed: int
    solved: bool
    steps_to_solve: int | None
    seconds_to_solve: float | None
    train_seconds_to_solve: float | None
    stable_steps_to_solve: int | None
    stable_seconds_to_solve: float | None
    stable_train_seconds_to_solve: float | None
    success_rate: float | None
    episodes: int
    steps: int
    mean_train_return: float | None
    best_eval: float | None
    final_eval: float | None
    wall_time_s: float


@dataclass(frozen=True)
class StudyAggregate:
    """The study's summary over seeds; each solve measure is over the seeds that solved so."""

    seeds: int
    solved: int
    stably_solved: int
    steps_to_solve: Spread | None
    seconds_to_solve: Spread | None
    train_seconds_to_solve: Spread | None
    stable_steps_to_solve: Spread | None
    stable_seconds_to_solve: Spread | None
    stable_train_seconds_to_solve: Spread | None
    final_eval: Spread | None
    mean_success_rate: float | None

    @classmethod
    def of(cls, results: Sequence[SeedResult]) -> StudyAggregate:
        rates = [result.success_rate for result in results if result.success_rate is not None]
        return cls(
            seeds=len(results),
            solved=sum(result.solved for result in results),
            stably_solved=sum(result.stable_steps_to_solve is not None for result in results),
            steps_to_solve=Spread.of([result.steps_to_solve for result in results]),
            seconds_to_solve=Spread.of([result.seconds_to_solve for result in results]),
            train_seconds_to_solve=Spread.of([result.train_seconds_to_solve for result in results]),
            stable_steps_to_solve=Spread.of([result.stable_steps_to_solve for result in results]),
            stable_seconds_to_solve=Spread.of(
                [result.stable_seconds_to_solve for result in results]
            ),
            stable_train_seconds_to_solve=Spread.of(
                [result.stable_train_seconds_to_solve for result in results]
            ),
            final_eval=Spread.of([result.final_eval for result in results]),
            mean_success_rate=statistics.fmean(rates) if rates else None,
        )


@dataclass(frozen=True)
class StudyResult:
    study_dir: Path
    results: list[SeedResult]
    aggregate: StudyAggregate
    return_cap: float | None


# Environments that pay +1 for every step, where an episode lasting to the time limit returns the
# limit itself (the paper's success); elsewhere (Acrobot's -1 a step, LunarLander's shaped
# rewards) the limit says nothing about the return.
PLUS_ONE_PER_STEP = ("CartPole-v0", "CartPole-v1")


def episode_return_cap(config: DQNConfig) -> float | None:
    """The return of an episode that lasts to the time limit (500 on CartPole-v1): the config's
    max_episode_steps, or the environment's own limit when that is 0; None without a limit or
    outside PLUS_ONE_PER_STEP."""
    if config.env_id not in PLUS_ONE_PER_STEP:
        return None
    limit = config.max_episode_steps or gym.spec(config.env_id).max_episode_steps
    return limit * REWARD_PER_STEP if limit else None


def success_rate(rows: Sequence[dict[str, str]], return_cap: float | None) -> float | None:
    """The paper's success rate: the fraction of training episodes (kind "train" rows of
    metrics.csv) whose return reached `return_cap`; None without a cap or an episode."""
    returns = [float(row["return"]) for row in rows if row["kind"] == "train"]
    if return_cap is None or not returns:
        return None
    return sum(episode_return >= return_cap for episode_return in returns) / len(returns)


def read_seed_result(run_dir: Path, seed: int, return_cap: float | None) -> SeedResult:
    """A finished seed's row, from the summary.json and metrics.csv that train() wrote."""
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = read_metrics(run_dir / "metrics.csv")
    train_returns = [float(row["return"]) for row in rows if row["kind"] == "train"]
    eval_means = [float(row["return"]) for row in rows if row["kind"] == "eval"]
    final_eval = summary["final_eval"]
    # Runs written before the stable solve was reported lack it in summary.json; their
    # metrics.csv holds the evaluations it is read off.
    if "stable_solved_step" in summary:
        stable = (
            summary["stable_solved_step"],
            summary["stable_solved_time_s"],
            summary.get("stable_solved_train_time_s"),
        )
    else:
        threshold = json.loads((run_dir / "config.json").read_text())["config"]["solved_threshold"]
        stable = stable_solve_of_run(rows, threshold) or (None, None, None)
    return SeedResult(
        seed=seed,
        solved=summary["first_solved_step"] is not None,
        steps_to_solve=summary["first_solved_step"],
        seconds_to_solve=summary["first_solved_time_s"],
        # Reported only by runs that time their evaluations separately; older ones lack it.
        train_seconds_to_solve=summary.get("first_solved_train_time_s"),
        stable_steps_to_solve=stable[0],
        stable_seconds_to_solve=stable[1],
        stable_train_seconds_to_solve=stable[2],
        success_rate=success_rate(rows, return_cap),
        episodes=summary["episodes"],
        steps=summary["steps"],
        mean_train_return=statistics.fmean(train_returns) if train_returns else None,
        best_eval=max(eval_means) if eval_means else None,
        final_eval=final_eval["mean"] if final_eval is not None else None,
        wall_time_s=summary["wall_time_s"],
    )

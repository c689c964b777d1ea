"""A saved run: its online network restored from checkpoint.pt and evaluated under the final
evaluation's protocol (spec/evaluation.md), as `python -m dqn_ref.run eval RUN_DIR` does."""

from __future__ import annotations

import dataclasses
import numbers
from pathlib import Path

import torch

from dqn_ref.config import MAX_ENV_COPIES, DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.evaluate import EvalSummary, evaluate, evaluation_envs, final_evaluation_generator
from dqn_ref.training.checkpoint import load_checkpoint, restore_agent

DEFAULT_EVAL_EPISODES = 100  # `eval` of a run whose config had no final evaluation


def evaluate_saved_run(
    run_dir: Path, episodes: int | None, epsilon: float | None, device: torch.device
) -> tuple[DQNConfig, EvalSummary]:
    """Evaluate the online network of run_dir/checkpoint.pt as the final evaluation does
    (spec/evaluation.md): fresh environments seeded seed + 2 * EVAL_SEED_OFFSET, one episode per
    copy. With the run's own episode count and epsilon this replays its final evaluation exactly.

    episodes and epsilon default to the run's final_eval_episodes (100 if it had none) and
    eval_epsilon.
    """
    if episodes is not None:
        check_episodes(episodes)
    if epsilon is not None:
        check_epsilon(epsilon)
    if not run_dir.is_dir():
        raise DQNRefError(f"run folder {run_dir} does not exist; pass the folder a run wrote")
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    config, agent = restore_agent(payload, device)
    if episodes is None:
        episodes = config.final_eval_episodes or DEFAULT_EVAL_EPISODES
    epsilon = config.eval_epsilon if epsilon is None else epsilon
    config = dataclasses.replace(config, final_eval_episodes=episodes, eval_epsilon=epsilon)
    envs = evaluation_envs(config, final=True)
    generator = final_evaluation_generator(config, device)
    try:
        returns = evaluate(agent.online_net, envs, epsilon, generator, device)
    finally:
        envs.close()
    return config, EvalSummary.of(returns)


def check_episodes(episodes: object) -> None:
    """A one-line error unless `episodes` is a whole number in [1, MAX_ENV_COPIES]: one
    environment copy each, as `eval --episodes` takes (0 is no evaluation, not the default)."""
    whole = isinstance(episodes, numbers.Integral) and not isinstance(episodes, bool)
    if not whole or not 1 <= int(episodes) <= MAX_ENV_COPIES:  # type: ignore[call-overload]
        raise DQNRefError(
            f"episodes={episodes!r} must be a whole number in [1, {MAX_ENV_COPIES}] (one "
            "environment copy each); leave it out for the run's final_eval_episodes"
        )


def check_epsilon(epsilon: object) -> None:
    """A one-line error unless `epsilon` is a number in [0, 1] (eq-eps-greedy's probability)."""
    number = isinstance(epsilon, numbers.Real) and not isinstance(epsilon, bool)
    if not number or not 0.0 <= float(epsilon) <= 1.0:  # type: ignore[arg-type]
        raise DQNRefError(f"epsilon={epsilon!r} must be a number in [0, 1]")

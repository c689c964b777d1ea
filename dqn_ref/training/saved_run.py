"""A saved run: its online network restored from checkpoint.pt and evaluated under the final
evaluation's protocol (spec/evaluation.md), as `python -m dqn_ref.run eval RUN_DIR` does."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from dqn_ref.config import DQNConfig
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
    if not run_dir.is_dir():
        raise DQNRefError(f"run folder {run_dir} does not exist; pass the folder a run wrote")
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    config, agent = restore_agent(payload, device)
    episodes = episodes or config.final_eval_episodes or DEFAULT_EVAL_EPISODES
    epsilon = config.eval_epsilon if epsilon is None else epsilon
    config = dataclasses.replace(config, final_eval_episodes=episodes, eval_epsilon=epsilon)
    envs = evaluation_envs(config, final=True)
    generator = final_evaluation_generator(config, device)
    try:
        returns = evaluate(agent.online_net, envs, epsilon, generator, device)
    finally:
        envs.close()
    return config, EvalSummary.of(returns)

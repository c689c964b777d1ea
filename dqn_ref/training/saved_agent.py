"""A trained agent read back from its run folder: act (policy.py), evaluate, film it.

What `dqn_ref.load(run_dir)` returns. The online network Q(s, . ; theta) of checkpoint.pt acts;
the target network and the optimiser are loaded with it but play no part.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.env_source import EnvMaker, give_callable_again
from dqn_ref.errors import DQNRefError
from dqn_ref.evaluate import EVAL_SEED_OFFSET, EvalSummary
from dqn_ref.training.build import resolve_device
from dqn_ref.training.checkpoint import load_checkpoint, restore_agent
from dqn_ref.training.policy import Policy
from dqn_ref.training.saved_run import check_epsilon, evaluate_saved_run
from dqn_ref.training.video import (
    RecordedEpisode,
    check_video_path,
    record_episode,
    rendered_env,
    write_video,
)


class SavedAgent(Policy):
    """The greedy policy of a saved run (Policy: act, q_values, play, save_policy), and what
    needs its run folder: the final evaluation's protocol and videos."""

    def __init__(
        self,
        run_dir: Path,
        config: DQNConfig,
        agent: DQNAgent,
        obs_shape: tuple[int, ...],
        num_actions: int,
    ):
        super().__init__(config, agent.online_net, obs_shape, num_actions, agent.device)
        self.run_dir = run_dir
        self._agent = agent

    def evaluate(self, episodes: int | None = None, epsilon: float | None = None) -> EvalSummary:
        """The final evaluation's protocol (spec/evaluation.md), as `eval RUN_DIR` runs it:
        `episodes` (default: the run's final_eval_episodes) at `epsilon` (default: the run's
        eval_epsilon)."""
        _, summary = evaluate_saved_run(self.run_dir, episodes, epsilon, self._device)
        return summary

    def record(self, epsilon: float | None = None, seed: int | None = None) -> RecordedEpisode:
        """One episode's pictures, played at `epsilon` (default: the run's eval_epsilon) from an
        environment seeded `seed` (default: the final evaluation's seed, so that a run whose
        final evaluation had one episode is filmed playing that very episode)."""
        if epsilon is not None:
            check_epsilon(epsilon)
        epsilon = self.config.eval_epsilon if epsilon is None else epsilon
        seed = self.config.seed + 2 * EVAL_SEED_OFFSET if seed is None else seed
        generator = torch.Generator(device=self._device)
        generator.manual_seed(seed)
        env = rendered_env(self.config)
        try:
            return record_episode(
                self._agent.online_net, env, seed, epsilon, generator, self._device
            )
        finally:
            env.close()

    def save_video(
        self, path: Path | str, epsilon: float | None = None, seed: int | None = None
    ) -> RecordedEpisode:
        """Play one episode as `record` does and write it to `path`: a looping .gif, or an .mp4."""
        path = Path(path)
        check_video_path(path)
        episode = self.record(epsilon, seed)
        write_video(episode.frames, episode.fps, path)
        return episode


def load(run_dir: Path | str, device: str = "auto", env: EnvMaker | None = None) -> SavedAgent:
    """The agent in run_dir/checkpoint.pt, on `device` (auto: cuda when present). `env`: the
    callable the run's environment was made with, where it cannot be imported again; evaluate
    and save_video build that environment."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DQNRefError(f"run folder {run_dir} does not exist; pass the folder a run wrote")
    resolved = resolve_device(device)
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    config, agent = restore_agent(payload, resolved)
    give_callable_again(config.env_id, env)
    agent.online_net.eval()
    return SavedAgent(
        run_dir, config, agent, tuple(payload["obs_shape"]), int(payload["num_actions"])
    )

"""A trained agent read back from its run folder: act on one observation, evaluate, film it.

What `dqn_ref.load(run_dir)` returns. The online network Q(s, . ; theta) of checkpoint.pt acts;
the target network and the optimiser are loaded with it but play no part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from dqn_ref.agent import DQNAgent, epsilon_greedy
from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.evaluate import EVAL_SEED_OFFSET, EvalSummary
from dqn_ref.training.build import resolve_device
from dqn_ref.training.checkpoint import load_checkpoint, restore_agent
from dqn_ref.training.saved_run import check_epsilon, evaluate_saved_run
from dqn_ref.training.video import (
    RecordedEpisode,
    check_video_path,
    record_episode,
    rendered_env,
    write_video,
)


class SavedAgent:
    """The greedy policy of a saved run, for one observation at a time.

    `config` is the run's DQNConfig. Observations are what the run's environment gives one copy:
    CartPole's 4 floats, Atari's (4, 84, 84) stack of grey frames (dqn_ref.envs preprocesses
    them; raw screens do not fit).
    """

    def __init__(
        self,
        run_dir: Path,
        config: DQNConfig,
        agent: DQNAgent,
        obs_shape: tuple[int, ...],
        num_actions: int,
    ):
        self.run_dir = run_dir
        self.config = config
        self.obs_shape = obs_shape
        self.num_actions = num_actions
        self._agent = agent
        self._device = agent.device
        # act()'s exploration draws, seeded from the run's seed so that a script is repeatable.
        self._generator = torch.Generator(device=agent.device)
        self._generator.manual_seed(config.seed)

    def _batch_of_one(self, observation: Any) -> torch.Tensor:
        obs = np.asarray(observation)
        if obs.shape != self.obs_shape:
            raise DQNRefError(
                f"observation of shape {obs.shape} given; this agent takes one observation of "
                f"shape {self.obs_shape} (what one copy of {self.config.env_id} returns)"
            )
        return torch.as_tensor(obs[None], device=self._device)  # (1, *obs_shape)

    def q_values(self, observation: Any) -> NDArray[np.float32]:
        """Q(s, a; theta) for every action a, (A,), of one observation s."""
        with torch.inference_mode():
            q_values = self._agent.online_net(self._batch_of_one(observation))
        return np.asarray(q_values[0].float().cpu().numpy(), dtype=np.float32)

    def act(self, observation: Any, epsilon: float = 0.0) -> int:
        """The action for one observation under eq-eps-greedy: argmax_a Q(s, a; theta) at
        epsilon 0 (the default), a uniform random action with probability epsilon."""
        if not 0.0 <= epsilon <= 1.0:
            raise DQNRefError(f"epsilon={epsilon} must lie in [0, 1]")
        with torch.inference_mode():
            q_values = self._agent.online_net(self._batch_of_one(observation))  # (1, A)
            return int(epsilon_greedy(q_values, epsilon, self._generator)[0])

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


def load(run_dir: Path | str, device: str = "auto") -> SavedAgent:
    """The agent in run_dir/checkpoint.pt, on `device` (auto: cuda when present)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DQNRefError(f"run folder {run_dir} does not exist; pass the folder a run wrote")
    resolved = resolve_device(device)
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    config, agent = restore_agent(payload, resolved)
    agent.online_net.eval()
    return SavedAgent(
        run_dir, config, agent, tuple(payload["obs_shape"]), int(payload["num_actions"])
    )

"""A trained Q-network as a policy: actions for one observation or a batch, episodes played in an
environment, and the whole policy in one file that loads without its run folder.

What `dqn_ref.load(run_dir)` returns is a Policy too (SavedAgent, saved_agent.py); what
`dqn_ref.load_policy(path)` returns is the Policy alone. Acting follows eq-eps-greedy
(spec/exploration.md): argmax_a Q(s, a; theta), or a uniform random action with probability
epsilon.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from dqn_ref.agent import epsilon_greedy, q_network
from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.training.atomic import atomic_write
from dqn_ref.training.build import resolve_device
from dqn_ref.training.checkpoint import config_of
from dqn_ref.training.play import play_episodes

POLICY_FORMAT = "dqn_ref-policy"
POLICY_VERSION = 1


class Policy:
    """The greedy policy of a Q-network, for one observation or a batch.

    `config` is the run's DQNConfig. An observation is what one copy of the run's environment
    gives: CartPole's 4 floats, Atari's (4, 84, 84) stack of grey frames (dqn_ref.envs
    preprocesses them; `play` does so for a raw environment).
    """

    def __init__(
        self,
        config: DQNConfig,
        online_net: nn.Module,
        obs_shape: tuple[int, ...],
        num_actions: int,
        device: torch.device,
    ):
        self.config = config
        self.obs_shape = obs_shape
        self.num_actions = num_actions
        self._online_net = online_net
        self._device = device
        # act()'s exploration draws, seeded from the run's seed so that a script is repeatable.
        self._generator = torch.Generator(device=device)
        self._generator.manual_seed(config.seed)

    def _batch(self, observation: Any) -> tuple[torch.Tensor, bool]:
        """The observations as a batch (N, *obs_shape) on the device, and whether one was given."""
        obs = np.asarray(observation)
        single = obs.shape == self.obs_shape
        if not single and obs.shape[1:] != self.obs_shape:
            raise DQNRefError(
                f"observation of shape {obs.shape} given; this agent takes one observation of "
                f"shape {self.obs_shape} (what one copy of {self.config.env_id} returns) or a "
                f"batch of them, (N, {', '.join(map(str, self.obs_shape))})"
            )
        batch = torch.as_tensor(obs[None] if single else obs, device=self._device)
        if self.config.network == "mlp" and batch.dtype != torch.float32:
            batch = batch.float()  # float64 from numpy, ints from a hand-written list
        return batch, single

    def q_values(self, observation: Any) -> NDArray[np.float32]:
        """Q(s, a; theta) for every action a: (A,) for one observation s, (N, A) for a batch."""
        batch, single = self._batch(observation)
        with torch.inference_mode():
            q_values = self._online_net(batch).float().cpu().numpy()  # (N, A)
        return np.asarray(q_values[0] if single else q_values, dtype=np.float32)

    def act(
        self, observation: Any, epsilon: float = 0.0, deterministic: bool = False
    ) -> int | NDArray[np.int64]:
        """The action under eq-eps-greedy: an int for one observation, an array (N,) for a batch
        of N. argmax_a Q(s, a; theta) at epsilon 0 (the default) or with deterministic=True,
        a uniform random action with probability epsilon otherwise."""
        check_epsilon(epsilon, deterministic)
        batch, single = self._batch(observation)
        with torch.inference_mode():
            q_values = self._online_net(batch)  # (N, A)
            actions = epsilon_greedy(q_values, epsilon, self._generator).cpu().numpy()
        return int(actions[0]) if single else actions.astype(np.int64)

    def play(
        self,
        env: gym.Env[Any, Any] | str,
        episodes: int = 1,
        epsilon: float = 0.0,
        seed: int | None = None,
    ) -> NDArray[np.float64]:
        """Play `episodes` episodes one after another and return their raw returns (episodes,).

        `env` is an environment id (built as the run built it: dqn_ref's time limit, and for an
        Atari game ale-py's Nature preprocessing) or a gymnasium.Env as gymnasium makes it (for
        an Atari game, made with frameskip=1: the run's preprocessing, gymnasium's
        AtariPreprocessing and a stack of 4 frames, is put around it). Episode i starts from
        reset(seed=seed + i), or unseeded when seed is None.
        """
        check_epsilon(epsilon, deterministic=False)
        if episodes < 1:
            raise DQNRefError(f"episodes={episodes} must be >= 1")
        return play_episodes(
            lambda obs: self.act(obs, epsilon), env, self.config, self.obs_shape, episodes, seed
        )

    def save_policy(self, path: Path | str) -> Path:
        """Write the policy to one file (the network's weights, its config, the observation
        shape and the action count), atomically; dqn_ref.load_policy(path) reads it back."""
        path = Path(path)
        payload = {
            "format": POLICY_FORMAT,
            "version": POLICY_VERSION,
            "config": dataclasses.asdict(self.config),
            "obs_shape": list(self.obs_shape),
            "num_actions": self.num_actions,
            "online_net": {
                name: tensor.detach().cpu()
                for name, tensor in self._online_net.state_dict().items()
            },
        }
        atomic_write(path, lambda file: torch.save(payload, file))
        return path


def check_epsilon(epsilon: float, deterministic: bool) -> None:
    if not 0.0 <= epsilon <= 1.0:
        raise DQNRefError(f"epsilon={epsilon} must lie in [0, 1]")
    if deterministic and epsilon > 0.0:
        raise DQNRefError(
            f"deterministic=True acts greedily, but epsilon={epsilon} asks for exploration; "
            "give one of the two"
        )


def load_policy(path: Path | str, device: str = "auto") -> Policy:
    """The policy that Policy.save_policy wrote to `path`, on `device` (auto: cuda when present)."""
    path = Path(path)
    if not path.is_file():
        raise DQNRefError(f"no policy file at {path}; pass the file save_policy wrote")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # garbage makes torch.load raise almost any type
        raise DQNRefError(
            f"{path} is not a readable policy file ({type(error).__name__}); it may be "
            "truncated or corrupt"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != POLICY_FORMAT:
        raise DQNRefError(
            f"{path} is not a dqn_ref policy file (a run folder loads with dqn_ref.load)"
        )
    if payload.get("version") != POLICY_VERSION:
        raise DQNRefError(
            f"{path} has policy version {payload.get('version')}, this dqn_ref reads "
            f"{POLICY_VERSION}"
        )
    config = config_of(payload)
    obs_shape, num_actions = tuple(payload["obs_shape"]), int(payload["num_actions"])
    resolved = resolve_device(device)
    online_net = q_network(config, obs_shape, num_actions).to(resolved)
    try:
        online_net.load_state_dict(payload["online_net"])
    except RuntimeError as error:
        raise DQNRefError(
            f"{path}'s network does not fit its config (RuntimeError); the file may have been "
            "edited"
        ) from error
    online_net.eval()
    return Policy(config, online_net, obs_shape, num_actions, resolved)

"""The DQN agent: the online and target networks, the optimiser, epsilon-greedy acting, the
update (dqn_ref/update.py) and the target-network sync."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from dqn_ref.batch import Batch
from dqn_ref.config import DQNConfig
from dqn_ref.network import make_q_network
from dqn_ref.target_update import hard_update, soft_update
from dqn_ref.update import UpdateOutcome, dqn_update


def epsilon_greedy(q_values: Tensor, epsilon: float, generator: torch.Generator) -> Tensor:
    """a = uniform random action with probability epsilon, else argmax_a Q(s, a), per row.

    Implements: spec/exploration.md#eq-eps-greedy

    q_values: Q(s, . ; theta), (N, A). Returns actions (N,) int64 on q_values' device.
    A random draw can pick the greedy action too, so the greedy action's probability is
    1 - epsilon + epsilon / A.
    """
    num_envs, num_actions = q_values.shape
    device = q_values.device
    explore = torch.rand(num_envs, generator=generator, device=device) < epsilon
    random_actions = torch.randint(0, num_actions, (num_envs,), generator=generator, device=device)
    return torch.where(explore, random_actions, q_values.argmax(dim=1))


def q_network(config: DQNConfig, obs_shape: tuple[int, ...], num_actions: int) -> nn.Module:
    """The config's Q-network for these observations and actions (spec/network.md)."""
    return make_q_network(
        config.network,
        obs_shape,
        num_actions,
        config.hidden_sizes,
        config.dueling,
        config.precision,
        config.layer_norm,
    )


def make_optimizer(config: DQNConfig, parameters: Any) -> torch.optim.Optimizer:
    """The configured optimiser; fused kernels where torch has them (Adam, AdamW)."""
    if config.optimizer == "rmsprop":
        # Nature's RMSProp keeps running averages of g and g^2 and divides by their spread:
        # torch's centred variant (its epsilon is added outside the square root, DeepMind's inside).
        return torch.optim.RMSprop(
            parameters,
            lr=config.learning_rate,
            alpha=config.rmsprop_alpha,
            eps=config.optimizer_eps,
            weight_decay=config.weight_decay,
            centered=True,
            foreach=True,
        )
    optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return optimizer_class(
        parameters,
        lr=config.learning_rate,
        eps=config.optimizer_eps,
        weight_decay=config.weight_decay,
        amsgrad=config.amsgrad,
        fused=True,
    )


OptimizerFactory = Callable[[DQNConfig, list[nn.Parameter]], torch.optim.Optimizer]


class DQNAgent:
    """The online network theta, the target network theta^-, and the optimiser of theta
    (make_optimizer's, unless `optimizer_factory` makes another kind)."""

    def __init__(
        self,
        config: DQNConfig,
        obs_shape: tuple[int, ...],
        num_actions: int,
        device: torch.device,
        optimizer_factory: OptimizerFactory = make_optimizer,
    ):
        self.config = config
        self.device = device
        self.online_net = q_network(config, obs_shape, num_actions).to(device)
        # Alg. step 1: theta^- starts as an exact copy of theta (eq-hard), made by deepcopy.
        self.target_net = copy.deepcopy(self.online_net).requires_grad_(False)
        # Listed once: the update and the sync use them every few steps, and listing a module's
        # parameters anew each time is a measurable share of a CartPole update on CPU.
        self.online_parameters = list(self.online_net.parameters())
        self.target_parameters = list(self.target_net.parameters())
        self.optimizer = optimizer_factory(config, self.online_parameters)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(config.seed)

    def act(self, obs: NDArray[Any], epsilon: float) -> NDArray[np.int64]:
        """Epsilon-greedy actions (N,) for a batch of observations (N, *obs_shape)."""
        with torch.inference_mode():
            q_values = self.online_net(torch.as_tensor(obs, device=self.device))
            actions = epsilon_greedy(q_values, epsilon, self.generator)
        return actions.cpu().numpy()

    def update(self, batch: Batch) -> UpdateOutcome:
        """Alg. step 7: one gradient step of theta on a minibatch (dqn_ref/update.py)."""
        return dqn_update(self.online_net, self.target_net, self.optimizer, batch, self.config)

    def set_learning_rate(self, learning_rate: float) -> None:
        """The step size of the optimiser's next steps (eq-lr-linear)."""
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

    def sync_target(self, syncs: int = 1) -> None:
        """Alg. step 8, `syncs` times with the same theta: eq-hard when tau is 1, else eq-soft
        with the config's tau; k soft syncs in a row are one with weight 1 - (1 - tau)^k."""
        if self.config.tau == 1.0:
            hard_update(self.target_parameters, self.online_parameters)
        else:
            tau = self.config.tau if syncs == 1 else 1.0 - (1.0 - self.config.tau) ** syncs
            soft_update(self.target_parameters, self.online_parameters, tau)

    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint needs to rebuild the agent's learning state."""
        return {
            "online_net": self.online_net.state_dict(),
            "target_net": self.target_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.online_net.load_state_dict(state["online_net"])
        self.target_net.load_state_dict(state["target_net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])

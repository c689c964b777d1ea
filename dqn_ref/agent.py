"""The DQN agent: epsilon-greedy acting, and the update that composes target, loss and clipping."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from dqn_ref.batch import Batch
from dqn_ref.bellman import bellman_target, double_bellman_target
from dqn_ref.config import DQNConfig
from dqn_ref.grad_clip import clip_gradients
from dqn_ref.loss import td_loss
from dqn_ref.network import make_q_network
from dqn_ref.target_update import hard_update, soft_update


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
    if config.graphed_update:
        # A captured update reads its step size and step count from device tensors, so that
        # set_learning_rate changes them between replays (dqn_ref/graphed_update.py).
        parameters = list(parameters)
        return optimizer_class(
            parameters,
            lr=learning_rate_tensor(config.learning_rate, parameters[0].device),
            eps=config.optimizer_eps,
            weight_decay=config.weight_decay,
            amsgrad=config.amsgrad,
            fused=True,
            capturable=True,
        )
    return optimizer_class(
        parameters,
        lr=config.learning_rate,
        eps=config.optimizer_eps,
        weight_decay=config.weight_decay,
        amsgrad=config.amsgrad,
        fused=True,
    )


def learning_rate_tensor(learning_rate: float, device: torch.device) -> Tensor:
    """The step size as a tensor that fused Adam reads as it reads a float step size: float64 on
    the CPU, float32 on CUDA, so the update's bits do not depend on which of the two it is given
    (tests/test_graphed_update.py checks it on each device)."""
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    return torch.tensor(learning_rate, dtype=dtype, device=device)


class DQNAgent:
    """The online network theta, the target network theta^-, and the optimiser of theta."""

    def __init__(
        self,
        config: DQNConfig,
        obs_shape: tuple[int, ...],
        num_actions: int,
        device: torch.device,
    ):
        self.config = config
        self.device = device
        self.online_net = make_q_network(
            config.network,
            obs_shape,
            num_actions,
            config.hidden_sizes,
            config.dueling,
            config.precision,
            config.layer_norm,
        ).to(device)
        # Alg. step 1: theta^- starts as an exact copy of theta (eq-hard), made by deepcopy.
        self.target_net = copy.deepcopy(self.online_net).requires_grad_(False)
        # Listed once: the update and the sync use them every few steps, and listing a module's
        # parameters anew each time is a measurable share of a CartPole update on CPU.
        self.online_parameters = list(self.online_net.parameters())
        self.target_parameters = list(self.target_net.parameters())
        self.optimizer = make_optimizer(config, self.online_parameters)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(config.seed)
        # Sum over updates of the mean Q(s, a; theta) of the minibatch's actions, kept on the
        # device as the loss is (no host sync per update); None until track_mean_q().
        self.q_taken_sum: Tensor | None = None
        self.q_taken_updates = 0

    def act(self, obs: NDArray[Any], epsilon: float) -> NDArray[np.int64]:
        """Epsilon-greedy actions (N,) for a batch of observations (N, *obs_shape)."""
        with torch.inference_mode():
            q_values = self.online_net(torch.as_tensor(obs, device=self.device))
            actions = epsilon_greedy(q_values, epsilon, self.generator)
        return actions.cpu().numpy()

    def update(self, batch: Batch) -> Tensor:
        """One gradient step of theta on a minibatch; returns the loss, still on the device.

        Alg. step 7: y from eq-target with theta^- (eq-double-target with theta and theta^- when
        double_q is set), loss eq-huber or eq-mse, clip eq-grad-clip.
        """
        config = self.config
        with torch.no_grad():
            next_q = self.target_net(batch.next_obs)  # (B, A)
            # eq-nstep transitions carry their own discount gamma^k; one-step ones use gamma.
            discount = config.gamma if batch.discount is None else batch.discount
            if config.double_q:
                # The one extra forward pass Double DQN costs: theta chooses a', theta^- values it.
                next_q_online = self.online_net(batch.next_obs)  # (B, A)
                target = double_bellman_target(
                    batch.reward, next_q_online, next_q, batch.terminated, discount
                )  # (B,)
            else:
                target = bellman_target(batch.reward, next_q, batch.terminated, discount)
        q_values = self.online_net(batch.obs)  # (B, A)
        q_taken = q_values.gather(1, batch.action.unsqueeze(1)).squeeze(1)  # (B,)
        loss = td_loss(q_taken, target, config.loss, config.huber_delta)
        if self.q_taken_sum is not None:
            self.q_taken_sum += q_taken.detach().mean()
            self.q_taken_updates += 1
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(self.online_parameters, config.max_grad_value, config.max_grad_norm)
        self.optimizer.step()
        return loss.detach()

    def set_learning_rate(self, learning_rate: float) -> None:
        """The step size of the optimiser's next steps (eq-lr-linear)."""
        for group in self.optimizer.param_groups:
            if isinstance(group["lr"], Tensor):
                group["lr"].fill_(learning_rate)  # in place: a captured update reads this tensor
            else:
                group["lr"] = learning_rate

    def track_mean_q(self) -> None:
        """Start summing the mean Q of the taken actions over updates (for take_mean_q)."""
        self.q_taken_sum = torch.zeros((), device=self.device)
        self.q_taken_updates = 0

    def take_mean_q(self) -> float | None:
        """The mean Q(s, a; theta) of the minibatch actions over the updates since the last call
        (one host sync), or None when there was no update or tracking is off."""
        if self.q_taken_sum is None or self.q_taken_updates == 0:
            return None
        mean = (self.q_taken_sum / self.q_taken_updates).item()
        self.q_taken_sum.zero_()
        self.q_taken_updates = 0
        return mean

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

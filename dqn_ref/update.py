"""Alg. step 7, one update: a pure function of the networks, the optimiser, a minibatch and the
config, as CleanRL's update reads and as Dopamine's learner is a function of its inputs.

The run's logging (the mean Q of the taken actions, the loss per metrics row) reads what the
update returns; nothing here keeps state between updates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from dqn_ref.batch import Batch
from dqn_ref.bellman import bellman_target, double_bellman_target
from dqn_ref.config import AlgorithmConfig
from dqn_ref.grad_clip import clip_gradients
from dqn_ref.loss import td_loss


class UpdateOutcome(NamedTuple):
    """What one update returns, on the learner's device, () each; reading one syncs the host."""

    loss: Tensor  # the TD loss the gradient step descended
    mean_q_taken: Tensor  # mean over the minibatch of Q(s, a; theta) before the step


class TDLoss(NamedTuple):
    loss: Tensor  # the TD loss, still attached to theta's graph
    q_taken: Tensor  # Q(s, a; theta) of the minibatch's actions, (B,)


def td_loss_of_batch(
    online_net: nn.Module, target_net: nn.Module, batch: Batch, config: AlgorithmConfig
) -> TDLoss:
    """The TD loss of a minibatch: y from eq-target with theta^- (eq-double-target with theta and
    theta^- when double_q is set), then eq-huber or eq-mse against Q(s, a; theta)."""
    with torch.no_grad():
        next_q = target_net(batch.next_obs)  # (B, A)
        # eq-nstep transitions carry their own discount gamma^k; one-step ones use gamma.
        discount = config.gamma if batch.discount is None else batch.discount
        if config.double_q:
            # The one extra forward pass Double DQN costs: theta chooses a', theta^- values it.
            next_q_online = online_net(batch.next_obs)  # (B, A)
            target = double_bellman_target(
                batch.reward, next_q_online, next_q, batch.terminated, discount
            )  # (B,)
        else:
            target = bellman_target(batch.reward, next_q, batch.terminated, discount)  # (B,)
    q_values = online_net(batch.obs)  # (B, A)
    q_taken = q_values.gather(1, batch.action.unsqueeze(1)).squeeze(1)  # (B,)
    return TDLoss(td_loss(q_taken, target, config.loss, config.huber_delta), q_taken)


LossFunction = Callable[[nn.Module, nn.Module, Batch, AlgorithmConfig], TDLoss]


def dqn_update(
    online_net: nn.Module,
    target_net: nn.Module,
    optimizer: Optimizer,
    batch: Batch,
    config: AlgorithmConfig,
    loss_of_batch: LossFunction = td_loss_of_batch,
) -> UpdateOutcome:
    """One gradient step of theta (the parameters `optimizer` steps) on a minibatch.

    Alg. step 7: the TD loss (`loss_of_batch`: td_loss_of_batch, or a caller's function that
    computes the same), backpropagated, clipped by eq-grad-clip, then one optimiser step.
    """
    loss, q_taken = loss_of_batch(online_net, target_net, batch, config)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    clip_gradients(parameters, config.max_grad_value, config.max_grad_norm)
    optimizer.step()
    return UpdateOutcome(loss.detach(), q_taken.detach().mean())

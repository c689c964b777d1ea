"""Synchronising the target network theta^- with the online network theta, in place."""

from collections.abc import Sequence

import torch
from torch import Tensor, nn

# A module, or its parameter tensors listed once: the training loop syncs every few steps, and
# listing a module's parameters again at each sync costs more than the arithmetic for CartPole.
Weights = nn.Module | Sequence[Tensor]


def parameters_and_buffers(weights: Weights) -> tuple[list[Tensor], list[Tensor]]:
    """A module's parameters and its buffers; or the given tensors, taken as parameters."""
    if isinstance(weights, nn.Module):
        return list(weights.parameters()), list(weights.buffers())
    return list(weights), []


def hard_update(target: Weights, online: Weights) -> None:
    """theta^- <- theta: copy every parameter and buffer of the online net into the target net.

    Implements: spec/target_update.md#eq-hard

    The copy shares no storage with the online net, so later updates of theta leave theta^- alone.
    """
    target_parameters, target_buffers = parameters_and_buffers(target)
    online_parameters, online_buffers = parameters_and_buffers(online)
    with torch.no_grad():
        torch._foreach_copy_(target_parameters + target_buffers, online_parameters + online_buffers)


def soft_update(target: Weights, online: Weights, tau: float) -> None:
    """theta^- <- tau * theta + (1 - tau) * theta^-  (Polyak averaging).

    Implements: spec/target_update.md#eq-soft

    tau: weight of the online net in (0, 1]. tau = 1 is a hard copy; a small tau (0.005) makes
         theta^- an exponential moving average of theta with a horizon of about 1 / tau syncs.
    Buffers (none in dqn_ref's networks) are copied, not averaged.
    """
    target_parameters, target_buffers = parameters_and_buffers(target)
    online_parameters, online_buffers = parameters_and_buffers(online)
    with torch.no_grad():
        # lerp_(online, tau) computes target + tau * (online - target): the same convex combination
        # in one fused kernel per tensor list.
        torch._foreach_lerp_(target_parameters, online_parameters, tau)
        if target_buffers:
            torch._foreach_copy_(target_buffers, online_buffers)

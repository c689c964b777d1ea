"""Synchronising the target network theta^- with the online network theta, in place."""

import torch
from torch import nn


def hard_update(target_net: nn.Module, online_net: nn.Module) -> None:
    """theta^- <- theta: copy every parameter and buffer of the online net into the target net.

    Implements: spec/target_update.md#eq-hard

    The copy shares no storage with the online net, so later updates of theta leave theta^- alone.
    """
    with torch.no_grad():
        target_tensors = [*target_net.parameters(), *target_net.buffers()]
        online_tensors = [*online_net.parameters(), *online_net.buffers()]
        torch._foreach_copy_(target_tensors, online_tensors)


def soft_update(target_net: nn.Module, online_net: nn.Module, tau: float) -> None:
    """theta^- <- tau * theta + (1 - tau) * theta^-  (Polyak averaging).

    Implements: spec/target_update.md#eq-soft

    tau: weight of the online net in (0, 1]. tau = 1 is a hard copy; a small tau (0.005) makes
         theta^- an exponential moving average of theta with a horizon of about 1 / tau syncs.
    Buffers (none in dqn_ref's networks) are copied, not averaged.
    """
    with torch.no_grad():
        # lerp_(online, tau) computes target + tau * (online - target): the same convex combination
        # in one fused kernel per tensor list.
        torch._foreach_lerp_(list(target_net.parameters()), list(online_net.parameters()), tau)
        for target_buffer, online_buffer in zip(
            target_net.buffers(), online_net.buffers(), strict=True
        ):
            target_buffer.copy_(online_buffer)

"""Gradient clipping applied between backward() and the optimiser step."""

from collections.abc import Iterable

import torch
from torch import nn


def clip_gradients(
    parameters: Iterable[nn.Parameter], max_value: float | None, max_norm: float | None
) -> None:
    """Clip each gradient element to [-max_value, max_value], then rescale to norm <= max_norm.

    Implements: spec/loss.md#eq-grad-clip

    max_value: the replication paper's clip_grad_value_(params, 5); None skips it.
    max_norm:  rescale all gradients by min(1, max_norm / ||g||_2) (||g|| over every parameter);
               None skips it. Neither reads the norm back to the host, so no device sync happens.
    """
    gradients = [p.grad for p in parameters if p.grad is not None]
    if not gradients:
        return
    if max_value is not None:
        torch._foreach_clamp_min_(gradients, -max_value)
        torch._foreach_clamp_max_(gradients, max_value)
    if max_norm is not None:
        # torch.nn.utils.clip_grad_norm_ computes the same; these four fused calls skip its
        # per-call grouping of tensors by device and dtype, half an update's clipping time on CPU.
        total_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(gradients)))
        scale = (max_norm / (total_norm + 1e-6)).clamp_(max=1.0)
        torch._foreach_mul_(gradients, scale)

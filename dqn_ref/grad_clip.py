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
    parameters = [p for p in parameters if p.grad is not None]
    if max_value is not None:
        torch.nn.utils.clip_grad_value_(parameters, max_value, foreach=True)
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(parameters, max_norm, foreach=True)

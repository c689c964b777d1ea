"""Batch: the minibatch every replay buffer samples and every update consumes."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class Batch(NamedTuple):
    """A minibatch of transitions (s, a, r, s', terminated), (B, ...) each, on the device."""

    obs: Tensor  # s, (B, *obs_shape)
    action: Tensor  # a, (B,) int64
    reward: Tensor  # r, (B,) float32, already clipped if the config clips
    next_obs: Tensor  # s', (B, *obs_shape): the true next observation, also after truncation
    terminated: Tensor  # (B,) bool: s' is terminal, so eq-target does not bootstrap
    # (B,) float32: the bootstrap's discount gamma^k of an n-step transition (eq-nstep), whose
    # reward is then R^(k) and next_obs s_{t+k}; None for one-step transitions (gamma itself).
    discount: Tensor | None = None

"""Exploration-rate schedules: epsilon as a function of the agent step."""

from __future__ import annotations

import math

from dqn_ref.config import DQNConfig


def exponential_epsilon(step: int, start: float, end: float, decay: float) -> float:
    """epsilon_t = end + (start - end) * exp(-t / decay), as both seed documents compute it.

    Implements: spec/exploration.md#eq-eps-exp

    step:  t, agent steps taken so far (0 for the first action).
    decay: time constant in agent steps; epsilon has covered 63% of the way to `end` at t = decay.
    """
    return end + (start - end) * math.exp(-step / decay)


def linear_epsilon(step: int, start: float, end: float, duration: int) -> float:
    """epsilon_t = start + (end - start) * min(t / duration, 1), as in Mnih et al. (2015).

    Implements: spec/exploration.md#eq-eps-linear

    step:     t, agent steps taken so far (0 for the first action).
    duration: agent steps over which epsilon moves from `start` to `end`; it stays at `end` after.
    """
    return start + (end - start) * min(step / duration, 1.0)


def epsilon_at(config: DQNConfig, step: int) -> float:
    """The configured schedule's epsilon at agent step `step` (eq-eps-exp or eq-eps-linear)."""
    if config.epsilon_schedule == "exponential":
        return exponential_epsilon(
            step, config.epsilon_start, config.epsilon_end, config.epsilon_decay
        )
    return linear_epsilon(step, config.epsilon_start, config.epsilon_end, config.epsilon_duration)

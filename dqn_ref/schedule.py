"""Schedules over the agent step: the exploration rate epsilon, and the learning rate."""

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
    return linear_interpolation(step, start, end, duration)


def linear_interpolation(step: int, start: float, end: float, duration: int) -> float:
    """start at step 0, end from step `duration` on, on a straight line in between."""
    return start + (end - start) * min(step / duration, 1.0)


def epsilon_at(config: DQNConfig, step: int) -> float:
    """The configured schedule's epsilon at agent step `step` (eq-eps-exp or eq-eps-linear)."""
    if config.epsilon_schedule == "exponential":
        return exponential_epsilon(
            step, config.epsilon_start, config.epsilon_end, config.epsilon_decay
        )
    return linear_epsilon(step, config.epsilon_start, config.epsilon_end, config.epsilon_duration)


def learning_rate_at(config: DQNConfig, step: int) -> float:
    """alpha_t = alpha_0 + (alpha_end - alpha_0) * min(t / T, 1), with T = total_steps; alpha_0 at
    every step when learning_rate_end is none.

    Implements: spec/loss.md#eq-lr-linear

    step: t, agent steps taken so far (the updates made at a lockstep step use that step's rate).
    """
    if config.learning_rate_end is None:
        return config.learning_rate
    return linear_interpolation(
        step, config.learning_rate, config.learning_rate_end, config.total_steps
    )

"""Schedules over the agent step: the exploration rate epsilon, the learning rate, and the updates
due in Stable-Baselines3's rounds."""

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


def linear_epsilon(step: int, start: float, end: float, duration: float) -> float:
    """epsilon_t = start + (end - start) * min(t / duration, 1), as in Mnih et al. (2015).

    Implements: spec/exploration.md#eq-eps-linear

    step:     t, agent steps taken so far (0 for the first action).
    duration: agent steps over which epsilon moves from `start` to `end`; it stays at `end` after.
    """
    return linear_interpolation(step, start, end, duration)


def linear_interpolation(step: int, start: float, end: float, duration: float) -> float:
    """start at step 0, end from step `duration` on, on a straight line in between."""
    return start + (end - start) * min(step / duration, 1.0)


def exploration_steps(config: DQNConfig) -> float:
    """T of eq-eps-linear in agent steps: epsilon_fraction x total_steps where epsilon_fraction is
    set (SB3's exploration_fraction, a share of the run), else epsilon_duration.

    Implements: spec/exploration.md#eq-eps-fraction
    """
    if config.epsilon_fraction is None:
        return config.epsilon_duration
    return config.epsilon_fraction * config.total_steps


def warmup_epsilon(step: int, learning_starts: int, epsilon: float) -> float:
    """1 (every action uniformly random) until learning_starts agent steps are stored, then
    `epsilon`, the schedule's value at the same step (counted from 0, not from learning_starts).

    Implements: spec/exploration.md#eq-eps-warmup

    step:    t, agent steps taken so far (0 for the first action).
    epsilon: the schedule's epsilon_t (eq-eps-linear or eq-eps-exp).
    """
    return 1.0 if step < learning_starts else epsilon


def epsilon_at(config: DQNConfig, step: int) -> float:
    """The configured schedule's epsilon at agent step `step` (eq-eps-exp, or eq-eps-linear over
    eq-eps-fraction's T), 1 before learning_starts when random_warmup (eq-eps-warmup)."""
    if config.epsilon_schedule == "exponential":
        epsilon = exponential_epsilon(
            step, config.epsilon_start, config.epsilon_end, config.epsilon_decay
        )
    else:
        epsilon = linear_epsilon(
            step, config.epsilon_start, config.epsilon_end, exploration_steps(config)
        )
    if config.random_warmup:
        return warmup_epsilon(step, config.learning_starts, epsilon)
    return epsilon


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


def updates_in_rounds(step: int, learning_starts: int, round_steps: int, updates: int) -> int:
    """U_t = G x (floor(t / F) - floor(L / F)) for t > L, else 0: the updates SB3 has made once
    `step` agent steps are stored, G = `updates` in a row at the end of every round of
    F = `round_steps` agent steps that ends after L = `learning_starts`; G = -1 (SB3's
    gradient_steps=-1) is F, one update per agent step of the round.

    Implements: spec/algorithm.md#eq-update-rounds

    step:        t, agent steps stored so far.
    round_steps: F, agent steps per round: SB3's train_freq (steps of its vector env) x num_envs.
    """
    if step <= learning_starts:
        return 0
    per_round = round_steps if updates == -1 else updates
    return per_round * (step // round_steps - learning_starts // round_steps)

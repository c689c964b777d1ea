"""eq-eps-exp and eq-eps-linear (spec/exploration.md): epsilon as a function of the agent step;
eq-lr-linear (spec/loss.md): the learning rate as one."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from dqn_ref.config import DQNConfig
from dqn_ref.schedule import exponential_epsilon, learning_rate_at, linear_epsilon

rates = st.floats(0.0, 1.0, allow_nan=False)
steps = st.integers(0, 10_000_000)
decays = st.floats(1.0, 1e6, allow_nan=False)
durations = st.integers(1, 1_000_000)


@given(rates, rates, decays)
def test_exponential_starts_at_start(start: float, end: float, decay: float) -> None:
    """eq-eps-exp P1: epsilon_0 = start."""
    assert math.isclose(exponential_epsilon(0, start, end, decay), start, abs_tol=1e-12)


@given(rates, rates, decays, steps, steps)
def test_exponential_moves_monotonically_towards_end(
    start: float, end: float, decay: float, step_a: int, step_b: int
) -> None:
    """eq-eps-exp P2: later steps are never further from `end` than earlier ones, and epsilon stays
    between start and end."""
    early, late = sorted((step_a, step_b))
    eps_early = exponential_epsilon(early, start, end, decay)
    eps_late = exponential_epsilon(late, start, end, decay)
    assert abs(eps_late - end) <= abs(eps_early - end) + 1e-12
    assert min(start, end) - 1e-12 <= eps_late <= max(start, end) + 1e-12


@given(rates, rates, decays)
def test_exponential_covers_1_minus_1_over_e_of_the_way_after_one_time_constant(
    start: float, end: float, decay: float
) -> None:
    """eq-eps-exp P3: at t = decay, epsilon - end = (start - end) / e."""
    eps = exponential_epsilon(round(decay), start, end, decay)
    expected = end + (start - end) * math.exp(-round(decay) / decay)
    assert math.isclose(eps, expected, abs_tol=1e-12)
    if round(decay) == decay:
        assert math.isclose(eps - end, (start - end) / math.e, abs_tol=1e-12)


def test_exponential_worked_example_paper_constants() -> None:
    """eq-eps-exp with the replication paper's EPS_START 0.9, EPS_END 0.1, EPS_DECAY 10:
    t = 10: 0.1 + 0.8 * e^-1 = 0.1 + 0.8 * 0.367879 = 0.394303
    t = 50: 0.1 + 0.8 * e^-5 = 0.1 + 0.8 * 0.006738 = 0.105390  (the paper explores at ~10% after
    fifty steps, which is the "decay in 10 steps" defect the paper preset keeps)."""
    assert math.isclose(exponential_epsilon(10, 0.9, 0.1, 10), 0.394303, abs_tol=1e-6)
    assert math.isclose(exponential_epsilon(50, 0.9, 0.1, 10), 0.105390, abs_tol=1e-6)


@given(rates, rates, durations)
def test_linear_starts_at_start_and_reaches_end_at_duration(
    start: float, end: float, duration: int
) -> None:
    """eq-eps-linear P1: epsilon_0 = start and epsilon_duration = end."""
    assert linear_epsilon(0, start, end, duration) == start
    assert math.isclose(linear_epsilon(duration, start, end, duration), end, abs_tol=1e-12)


@given(rates, rates, durations, st.integers(0, 10_000_000))
def test_linear_stays_at_end_after_duration(
    start: float, end: float, duration: int, extra: int
) -> None:
    """eq-eps-linear P2: for t >= duration, epsilon_t = end."""
    assert math.isclose(linear_epsilon(duration + extra, start, end, duration), end, abs_tol=1e-12)


@given(rates, rates, durations, st.floats(0.0, 1.0))
def test_linear_is_the_straight_line_between_its_ends(
    start: float, end: float, duration: int, fraction: float
) -> None:
    """eq-eps-linear P3: at t = f * duration, epsilon = start + f * (end - start)."""
    step = round(fraction * duration)
    expected = start + (end - start) * step / duration
    assert math.isclose(linear_epsilon(step, start, end, duration), expected, abs_tol=1e-12)


def test_linear_worked_example_nature_constants() -> None:
    """eq-eps-linear with Nature's 1.0 -> 0.1 over its "final exploration frame" of 1,000,000:
    t = 250,000: 1.0 + (0.1 - 1.0) * 0.25 = 1.0 - 0.225 = 0.775."""
    assert math.isclose(linear_epsilon(250_000, 1.0, 0.1, 1_000_000), 0.775, abs_tol=1e-12)


step_sizes = st.floats(1e-6, 1.0, allow_nan=False)
end_sizes = st.floats(0.0, 1.0, allow_nan=False)
lengths = st.integers(1, 10_000_000)


def decaying(start: float, end: float | None, total_steps: int) -> DQNConfig:
    return DQNConfig(learning_rate=start, learning_rate_end=end, total_steps=total_steps)


@given(step_sizes, end_sizes, lengths)
def test_learning_rate_starts_at_learning_rate_and_reaches_its_end_at_total_steps(
    start: float, end: float, total_steps: int
) -> None:
    """eq-lr-linear P1: alpha_0 = learning_rate, alpha_T = learning_rate_end."""
    config = decaying(start, end, total_steps)
    assert learning_rate_at(config, 0) == start
    assert math.isclose(learning_rate_at(config, total_steps), end, abs_tol=1e-12)


@given(step_sizes, end_sizes, lengths, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_learning_rate_is_the_straight_line_and_moves_one_way(
    start: float, end: float, total_steps: int, fraction_a: float, fraction_b: float
) -> None:
    """eq-lr-linear P2: at t = f * T, alpha = alpha_0 + f * (alpha_end - alpha_0); a later step is
    never further from alpha_end than an earlier one."""
    config = decaying(start, end, total_steps)
    early, late = sorted(round(f * total_steps) for f in (fraction_a, fraction_b))
    expected = start + (end - start) * late / total_steps
    assert math.isclose(learning_rate_at(config, late), expected, abs_tol=1e-12)
    gap_early = abs(learning_rate_at(config, early) - end)
    assert abs(learning_rate_at(config, late) - end) <= gap_early + 1e-12


@given(step_sizes, lengths, st.integers(0, 10**12))
def test_learning_rate_is_constant_without_an_end(
    start: float, total_steps: int, step: int
) -> None:
    """eq-lr-linear P3: with learning_rate_end none, alpha_t = learning_rate at every step."""
    assert learning_rate_at(decaying(start, None, total_steps), step) == start


def test_learning_rate_worked_example() -> None:
    """eq-lr-linear: 0.002 -> 0 over 10,000 steps; at t = 2,500, 0.002 - 0.002 * 0.25 = 0.0015."""
    config = decaying(0.002, 0.0, 10_000)
    assert math.isclose(learning_rate_at(config, 2_500), 0.0015, abs_tol=1e-15)

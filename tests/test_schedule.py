"""eq-eps-exp, eq-eps-linear, eq-eps-fraction and eq-eps-warmup (spec/exploration.md): epsilon as
a function of the agent step; eq-lr-linear (spec/loss.md): the learning rate as one;
eq-update-rounds (spec/algorithm.md): the updates due in SB3's rounds."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from dqn_ref.config import DQNConfig
from dqn_ref.presets import acrobot, mountaincar
from dqn_ref.schedule import (
    epsilon_at,
    exploration_steps,
    exponential_epsilon,
    learning_rate_at,
    linear_epsilon,
    updates_in_rounds,
    warmup_epsilon,
)

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


# --- eq-update-rounds ------------------------------------------------------------------------

round_lengths = st.integers(1, 40)
per_round = st.one_of(st.just(-1), st.integers(1, 12))
starts = st.integers(0, 300)


@given(steps, starts, round_lengths, per_round)
def test_no_update_is_due_until_more_than_learning_starts_steps_are_stored(
    step: int, learning_starts: int, round_steps: int, updates: int
) -> None:
    """eq-update-rounds P1: U_t = 0 for every t <= L."""
    assert updates_in_rounds(min(step, learning_starts), learning_starts, round_steps, updates) == 0


@given(st.integers(1, 2_000), starts, round_lengths, per_round)
def test_updates_come_only_at_the_end_of_a_round_after_learning_starts_g_at_a_time(
    step: int, learning_starts: int, round_steps: int, updates: int
) -> None:
    """eq-update-rounds P2: U_t - U_{t-1} is G' (G, or F when G = -1) at multiples of F beyond L,
    and 0 at every other step."""
    jump = updates_in_rounds(step, learning_starts, round_steps, updates) - updates_in_rounds(
        step - 1, learning_starts, round_steps, updates
    )
    ends_a_round = step % round_steps == 0 and step > learning_starts
    assert jump == ((round_steps if updates == -1 else updates) if ends_a_round else 0)


def sb3_rounds(
    train_freq: int, gradient_steps: int, learning_starts: int, num_envs: int, rounds: int
) -> list[tuple[int, int]]:
    """(num_timesteps, updates made) after each round of SB3's OffPolicyAlgorithm.learn, written
    out: collect_rollouts steps the vector env train_freq times (num_envs agent steps each), then
    learn trains gradient_steps times (the rollout's agent steps when -1) if num_timesteps > 0
    and num_timesteps > learning_starts."""
    num_timesteps = made = 0
    after_each_round = []
    for _ in range(rounds):
        collected = 0
        for _ in range(train_freq):
            num_timesteps += num_envs
            collected += num_envs
        if num_timesteps > 0 and num_timesteps > learning_starts:
            made += gradient_steps if gradient_steps >= 0 else collected
        after_each_round.append((num_timesteps, made))
    return after_each_round


@given(st.integers(1, 20), per_round, starts, st.integers(1, 4), st.integers(1, 60))
def test_updates_due_are_those_sb3s_loop_has_made_after_its_last_round(
    train_freq: int, gradient_steps: int, learning_starts: int, num_envs: int, rounds: int
) -> None:
    """eq-update-rounds P3: with F = train_freq x num_envs, U_t at each of SB3's round ends is the
    count SB3 has made, and between two round ends it stays at the earlier one's."""
    round_steps = train_freq * num_envs
    previous = 0
    for num_timesteps, made in sb3_rounds(
        train_freq, gradient_steps, learning_starts, num_envs, rounds
    ):
        for step in range(num_timesteps - round_steps + 1, num_timesteps):
            assert updates_in_rounds(step, learning_starts, round_steps, gradient_steps) == previous
        assert (
            updates_in_rounds(num_timesteps, learning_starts, round_steps, gradient_steps) == made
        )
        previous = made


def test_update_rounds_worked_example_rl_zoo_presets() -> None:
    """eq-update-rounds, RL Zoo's MountainCar (F 16, G 8, L 1000): nothing before t = 1008 (the
    first multiple of 16 beyond 1000), 8 at 1008, 8 x (120000 // 16 - 1000 // 16) = 8 x (7500 - 62)
    = 59,504 in the run, SB3's count; Acrobot (F 4, G -1, L 0): 4 at t = 4, 100,000 in 100,000."""
    assert updates_in_rounds(1_007, 1_000, 16, 8) == 0
    assert updates_in_rounds(1_008, 1_000, 16, 8) == 8
    assert updates_in_rounds(120_000, 1_000, 16, 8) == 59_504
    assert [updates_in_rounds(t, 0, 4, -1) for t in (3, 4, 7, 8)] == [0, 4, 4, 8]
    assert updates_in_rounds(100_000, 0, 4, -1) == 100_000


# --- eq-eps-fraction -------------------------------------------------------------------------

fractions = st.floats(0.01, 1.5, allow_nan=False)
run_lengths = st.integers(1, 1_000_000)


def sharing(start: float, end: float, fraction: float, total_steps: int) -> DQNConfig:
    return DQNConfig(
        epsilon_start=start,
        epsilon_end=end,
        epsilon_fraction=fraction,
        epsilon_duration=7,  # unused while epsilon_fraction is set
        total_steps=total_steps,
    )


@given(rates, rates, fractions, run_lengths, st.floats(0.0, 2.0))
def test_epsilon_reaches_its_end_after_the_fraction_of_the_run(
    start: float, end: float, fraction: float, total_steps: int, position: float
) -> None:
    """eq-eps-fraction P1: T = f x total_steps; epsilon is on eq-eps-linear's line before T and
    at `end` from T on."""
    config = sharing(start, end, fraction, total_steps)
    assert exploration_steps(config) == fraction * total_steps
    step = int(position * fraction * total_steps)
    share = min(step / (fraction * total_steps), 1.0)
    assert math.isclose(epsilon_at(config, step), start + (end - start) * share, abs_tol=1e-12)
    if step >= fraction * total_steps:
        assert math.isclose(epsilon_at(config, step), end, abs_tol=1e-12)
        assert epsilon_at(config, step) == epsilon_at(config, step + total_steps)  # and stays


@given(rates, rates, fractions, run_lengths, st.floats(0.0, 1.0))
def test_epsilon_is_sb3s_linear_schedule_at_its_progress_remaining(
    start: float, end: float, fraction: float, total_steps: int, position: float
) -> None:
    """eq-eps-fraction P2: SB3's LinearSchedule(start, end, f), written out, at progress
    remaining 1 - t / total_steps (SB3 sets it from num_timesteps, the agent steps taken)."""
    step = int(position * total_steps)
    progress_remaining = 1.0 - float(step) / float(total_steps)
    if (1 - progress_remaining) > fraction:
        sb3 = end
    else:
        sb3 = start + (1 - progress_remaining) * (end - start) / fraction
    ours = epsilon_at(sharing(start, end, fraction, total_steps), step)
    assert math.isclose(ours, sb3, abs_tol=1e-12)


def test_epsilon_fraction_worked_example_rl_zoo_acrobot() -> None:
    """eq-eps-fraction: 1.0 to 0.1 over 0.12 x 100,000 = 12,000 steps; epsilon_6000 = 0.55."""
    assert exploration_steps(acrobot) == 12_000
    assert math.isclose(epsilon_at(acrobot, 6_000), 0.55, abs_tol=1e-12)
    assert math.isclose(epsilon_at(acrobot, 11_999), 0.1 + 0.9 / 12_000, abs_tol=1e-12)
    assert epsilon_at(acrobot, 12_000) == epsilon_at(acrobot, 50_000)
    assert math.isclose(epsilon_at(acrobot, 12_000), 0.1, abs_tol=1e-12)


def test_without_a_fraction_the_schedule_lasts_epsilon_duration() -> None:
    """eq-eps-fraction: with epsilon_fraction none, T is epsilon_duration, whatever the run's
    length."""
    config = DQNConfig(epsilon_duration=300, total_steps=1_000_000)
    assert exploration_steps(config) == 300


# --- eq-eps-warmup ---------------------------------------------------------------------------


@given(steps, st.integers(0, 10_000_000), rates)
def test_every_action_before_learning_starts_is_uniformly_random(
    step: int, learning_starts: int, epsilon: float
) -> None:
    """eq-eps-warmup P1: epsilon'_t = 1 for t < L; P2: the schedule's epsilon_t from t = L on."""
    expected = 1.0 if step < learning_starts else epsilon
    assert warmup_epsilon(step, learning_starts, epsilon) == expected


@given(
    st.integers(0, 5_000),
    st.integers(0, 5_000),
    rates,
    rates,
    st.sampled_from(["linear", "exponential"]),
)
def test_the_warmup_does_not_delay_the_schedule(
    step: int, learning_starts: int, start: float, end: float, schedule: str
) -> None:
    """eq-eps-warmup P2: from t = L on, epsilon_at with random_warmup is the schedule's value at
    t counted from step 0, the same as without the warm-up."""
    plain = DQNConfig(
        learning_starts=learning_starts,
        epsilon_schedule=schedule,  # type: ignore[arg-type]
        epsilon_start=start,
        epsilon_end=end,
        epsilon_duration=2_000,
        epsilon_decay=900.0,
    )
    warm = plain.replace(random_warmup=True)
    if step >= learning_starts:
        assert epsilon_at(warm, step) == epsilon_at(plain, step)
    else:
        assert epsilon_at(warm, step) == 1.0


def test_warmup_worked_example_rl_zoo_mountaincar() -> None:
    """eq-eps-warmup, RL Zoo's MountainCar (L 1000, 1.0 to 0.07 over 0.2 x 120,000 = 24,000):
    epsilon'_999 = 1, epsilon'_1000 = 1 - 0.93 x 1000 / 24000 = 0.96125."""
    assert epsilon_at(mountaincar, 999) == 1.0
    assert math.isclose(epsilon_at(mountaincar, 1_000), 0.96125, abs_tol=1e-12)

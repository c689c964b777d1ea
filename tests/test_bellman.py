"""eq-target and eq-double-target (spec/bellman.md): DQN's and Double DQN's one-step targets."""

from __future__ import annotations

import random

import torch
from hypothesis import given
from hypothesis import strategies as st

from dqn_ref.bellman import bellman_target, double_bellman_target
from tests.strategies import double_target_inputs, target_inputs

TargetInputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]
DoubleTargetInputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]


def close(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    return torch.allclose(actual, expected, rtol=1e-5, atol=1e-3)


@given(target_inputs())
def test_terminal_transition_target_is_the_reward_alone(inputs: TargetInputs) -> None:
    """eq-target P1: where terminated, y = r whatever Q(s', .) holds."""
    reward, next_q, terminated, gamma = inputs
    target = bellman_target(reward, next_q, terminated, gamma)
    assert torch.equal(target[terminated], reward[terminated])


@given(target_inputs())
def test_nonterminal_target_bootstraps_from_the_best_next_action(inputs: TargetInputs) -> None:
    """eq-target P2: where not terminated, y = r + gamma * max_a' Q(s', a')."""
    reward, next_q, terminated, gamma = inputs
    target = bellman_target(reward, next_q, terminated, gamma)
    alive = ~terminated
    expected = reward[alive] + gamma * next_q[alive].max(dim=1).values
    assert close(target[alive], expected)


@given(target_inputs(), st.randoms(use_true_random=False))
def test_target_ignores_the_order_of_actions(inputs: TargetInputs, rng: random.Random) -> None:
    """eq-target P3: permuting the action axis of Q(s', .) leaves y unchanged."""
    reward, next_q, terminated, gamma = inputs
    order = list(range(next_q.shape[1]))
    rng.shuffle(order)
    shuffled = next_q[:, order]
    assert torch.equal(
        bellman_target(reward, next_q, terminated, gamma),
        bellman_target(reward, shuffled, terminated, gamma),
    )


@given(target_inputs(), st.floats(0.0, 100.0))
def test_raising_next_values_never_lowers_the_target(inputs: TargetInputs, raise_by: float) -> None:
    """eq-target P4: y is non-decreasing in every Q(s', a') because gamma >= 0."""
    reward, next_q, terminated, gamma = inputs
    before = bellman_target(reward, next_q, terminated, gamma)
    after = bellman_target(reward, next_q + raise_by, terminated, gamma)
    assert bool((after >= before - 1e-3).all())


@given(target_inputs())
def test_zero_discount_target_is_the_reward(inputs: TargetInputs) -> None:
    """eq-target P5: with gamma = 0 the target is the immediate reward, terminal or not."""
    reward, next_q, terminated, _ = inputs
    assert torch.equal(bellman_target(reward, next_q, terminated, 0.0), reward)


def test_worked_example() -> None:
    """eq-target, by hand with gamma = 0.9:
    row 0: not terminal, y = 1.0 + 0.9 * max(1, 3) = 1.0 + 2.7 = 3.7
    row 1: terminal,     y = 0.5               (the 2.0 in Q(s', .) is masked)
    row 2: not terminal, y = -1.0 + 0.9 * max(-2, -4) = -1.0 - 1.8 = -2.8
    """
    reward = torch.tensor([1.0, 0.5, -1.0])
    next_q = torch.tensor([[1.0, 3.0], [2.0, 0.0], [-2.0, -4.0]])
    terminated = torch.tensor([False, True, False])
    target = bellman_target(reward, next_q, terminated, gamma=0.9)
    assert torch.allclose(target, torch.tensor([3.7, 0.5, -2.8]))


# --- eq-double-target ----------------------------------------------------------------------------


@given(double_target_inputs())
def test_double_terminal_transition_target_is_the_reward_alone(
    inputs: DoubleTargetInputs,
) -> None:
    """eq-double-target P1: where terminated, y = r whatever either network's Q(s', .) holds."""
    reward, next_q_online, next_q_target, terminated, gamma = inputs
    target = double_bellman_target(reward, next_q_online, next_q_target, terminated, gamma)
    assert torch.equal(target[terminated], reward[terminated])


@given(double_target_inputs())
def test_online_network_chooses_and_target_network_values(inputs: DoubleTargetInputs) -> None:
    """eq-double-target P2: where not terminated, y = r + gamma * Q(s', a*; theta^-) with
    a* = argmax_a Q(s', a; theta), against a row-by-row reference in plain Python."""
    reward, next_q_online, next_q_target, terminated, gamma = inputs
    target = double_bellman_target(reward, next_q_online, next_q_target, terminated, gamma)
    for row in range(reward.shape[0]):
        if terminated[row]:
            continue
        online_row = next_q_online[row].tolist()
        chosen = online_row.index(max(online_row))  # the first of tied maxima
        expected = reward[row] + gamma * next_q_target[row, chosen]
        assert close(target[row], expected)


@given(double_target_inputs())
def test_double_target_is_the_dqn_target_when_both_networks_agree(
    inputs: DoubleTargetInputs,
) -> None:
    """eq-double-target P3: with the online table equal to the target table, y is eq-target's y
    exactly: the action that maximises Q(s', .; theta^-) is valued by it."""
    reward, _, next_q_target, terminated, gamma = inputs
    assert torch.equal(
        double_bellman_target(reward, next_q_target, next_q_target, terminated, gamma),
        bellman_target(reward, next_q_target, terminated, gamma),
    )


@given(double_target_inputs())
def test_double_target_never_exceeds_the_dqn_target(inputs: DoubleTargetInputs) -> None:
    """eq-double-target P4: Q(s', a*; theta^-) <= max_a' Q(s', a'; theta^-) and gamma >= 0, so
    y_double <= y_dqn on the same target-network values, whatever the online network says."""
    reward, next_q_online, next_q_target, terminated, gamma = inputs
    double = double_bellman_target(reward, next_q_online, next_q_target, terminated, gamma)
    dqn = bellman_target(reward, next_q_target, terminated, gamma)
    assert bool((double <= dqn).all())


@given(double_target_inputs(), st.floats(-1e3, 1e3, allow_nan=False, width=32))
def test_target_values_of_unchosen_actions_do_not_matter(
    inputs: DoubleTargetInputs, other_value: float
) -> None:
    """eq-double-target P5: overwriting Q(s', a; theta^-) at every action a the online network
    does not choose leaves y unchanged (eq-target would follow a raised maximum)."""
    reward, next_q_online, next_q_target, terminated, gamma = inputs
    chosen = next_q_online.argmax(dim=1, keepdim=True)
    overwritten = torch.full_like(next_q_target, other_value).scatter(
        1, chosen, next_q_target.gather(1, chosen)
    )
    assert torch.equal(
        double_bellman_target(reward, next_q_online, next_q_target, terminated, gamma),
        double_bellman_target(reward, next_q_online, overwritten, terminated, gamma),
    )


def test_double_target_worked_example() -> None:
    """eq-double-target by hand, gamma = 0.9, eq-target's worked example as Q(s', .; theta^-):
    row 0: online (5, 0) chooses a* = 0; y = 1.0 + 0.9 * 1 = 1.9        (eq-target: 3.7)
    row 1: terminal, y = 0.5                                            (eq-target: 0.5)
    row 2: online (0, 1) chooses a* = 1; y = -1.0 + 0.9 * -4 = -4.6     (eq-target: -2.8)
    """
    reward = torch.tensor([1.0, 0.5, -1.0])
    next_q_online = torch.tensor([[5.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    next_q_target = torch.tensor([[1.0, 3.0], [2.0, 0.0], [-2.0, -4.0]])
    terminated = torch.tensor([False, True, False])
    target = double_bellman_target(reward, next_q_online, next_q_target, terminated, gamma=0.9)
    assert torch.allclose(target, torch.tensor([1.9, 0.5, -4.6]))


def test_targets_take_the_dtype_of_the_next_q_values() -> None:
    """eq-target and eq-double-target return y in Q(s', .)'s dtype: under bfloat16 autocast the
    float32 stored reward is cast to bfloat16 first, so y stays bfloat16 like the Q-values."""
    reward = torch.tensor([1.0, 0.5])
    next_q = torch.tensor([[1.0, 3.0], [2.0, 0.0]], dtype=torch.bfloat16)
    terminated = torch.tensor([False, True])
    assert bellman_target(reward, next_q, terminated, 0.5).dtype == torch.bfloat16
    double = double_bellman_target(reward, next_q, next_q, terminated, 0.5)
    assert double.dtype == torch.bfloat16

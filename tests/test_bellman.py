"""eq-target (spec/bellman.md): the one-step Bellman target with its terminal mask."""

from __future__ import annotations

import random

import torch
from hypothesis import given
from hypothesis import strategies as st

from dqn_ref.bellman import bellman_target
from tests.strategies import target_inputs

TargetInputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]


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

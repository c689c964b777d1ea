"""eq-huber and eq-mse (spec/loss.md): the TD loss between Q(s, a) and y."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional

from dqn_ref.loss import huber_loss, mse_loss, td_loss
from tests.strategies import prediction_pairs

Pair = tuple[torch.Tensor, torch.Tensor]
deltas = st.floats(0.01, 100.0, allow_nan=False)


def per_element_huber(error: torch.Tensor, delta: float) -> torch.Tensor:
    """The spec's two branches written out, element by element."""
    return torch.where(error.abs() <= delta, 0.5 * error**2, delta * (error.abs() - 0.5 * delta))


@given(prediction_pairs(), deltas)
def test_huber_is_quadratic_inside_delta_and_linear_outside(pair: Pair, delta: float) -> None:
    """eq-huber P1: per element, 1/2 e^2 for |e| <= delta and delta (|e| - delta / 2) beyond;
    the loss is their mean."""
    q_taken, target = pair
    expected = per_element_huber(target - q_taken, delta).mean()
    assert torch.allclose(huber_loss(q_taken, target, delta), expected, rtol=1e-5, atol=1e-5)


@given(prediction_pairs(), deltas)
def test_huber_gradient_is_bounded_by_delta(pair: Pair, delta: float) -> None:
    """eq-huber P2: |dL/dQ_i| <= delta / B, the "error clipping" of Nature DQN."""
    q_taken, target = pair
    q_taken = q_taken.clone().requires_grad_(True)
    huber_loss(q_taken, target, delta).backward()
    assert q_taken.grad is not None
    assert float(q_taken.grad.abs().max()) <= delta / len(q_taken) * (1 + 1e-5)


@given(prediction_pairs(), deltas)
def test_huber_is_symmetric_and_zero_only_at_equality(pair: Pair, delta: float) -> None:
    """eq-huber P3: L(q, y) = L(y, q) >= 0, and L(y, y) = 0."""
    q_taken, target = pair
    loss = huber_loss(q_taken, target, delta)
    assert torch.allclose(loss, huber_loss(target, q_taken, delta))
    assert float(loss) >= 0.0
    assert float(huber_loss(target, target, delta)) == 0.0


@given(prediction_pairs())
def test_huber_with_delta_one_is_the_papers_smooth_l1(pair: Pair) -> None:
    """eq-huber P4: delta = 1 is torch's smooth_l1_loss, the replication paper's loss."""
    q_taken, target = pair
    assert torch.allclose(
        huber_loss(q_taken, target, 1.0),
        functional.smooth_l1_loss(q_taken, target),
        rtol=1e-5,
        atol=1e-5,
    )


def test_huber_worked_example() -> None:
    """eq-huber by hand, delta = 1: errors 0.5 and 3 ->
    0.5 * 0.5^2 = 0.125 (quadratic) and 1 * (3 - 0.5) = 2.5 (linear); mean = 2.625 / 2 = 1.3125."""
    q_taken = torch.tensor([1.0, 0.0])
    target = torch.tensor([1.5, 3.0])
    assert huber_loss(q_taken, target, 1.0).item() == 1.3125


@given(prediction_pairs())
def test_mse_is_the_mean_squared_error(pair: Pair) -> None:
    """eq-mse P1: L = mean_i (y_i - Q_i)^2, symmetric and zero only at equality."""
    q_taken, target = pair
    loss = mse_loss(q_taken, target)
    assert torch.allclose(loss, ((target - q_taken) ** 2).mean(), rtol=1e-5)
    assert torch.allclose(loss, mse_loss(target, q_taken))
    assert float(mse_loss(target, target)) == 0.0


@given(prediction_pairs())
def test_mse_matches_torch_oracle(pair: Pair) -> None:
    """eq-mse against torch: functional.mse_loss, the book's nn.MSELoss."""
    q_taken, target = pair
    assert torch.allclose(
        mse_loss(q_taken, target), functional.mse_loss(q_taken, target), rtol=1e-5, atol=1e-5
    )


@given(prediction_pairs(), deltas)
def test_huber_never_exceeds_half_the_mse(pair: Pair, delta: float) -> None:
    """eq-huber P5: per element L_delta(e) <= e^2 / 2, so the Huber loss is at most half the MSE."""
    q_taken, target = pair
    assert (
        float(huber_loss(q_taken, target, delta))
        <= 0.5 * float(mse_loss(q_taken, target)) * (1 + 1e-5) + 1e-6
    )


def test_mse_worked_example() -> None:
    """eq-mse by hand: errors 0.5 and 3 -> (0.25 + 9) / 2 = 4.625."""
    assert mse_loss(torch.tensor([1.0, 0.0]), torch.tensor([1.5, 3.0])).item() == 4.625


def test_td_loss_dispatches_on_kind() -> None:
    """td_loss picks eq-huber or eq-mse by name."""
    q_taken, target = torch.tensor([0.0]), torch.tensor([3.0])
    assert td_loss(q_taken, target, "huber", 1.0).item() == 2.5
    assert td_loss(q_taken, target, "mse").item() == 9.0


def test_huber_delta_defaults_to_one_and_td_loss_passes_its_delta_on() -> None:
    """eq-huber: delta is 1 unless given (torch's smooth_l1_loss), and td_loss uses the configured
    delta. Error 3: delta 1 -> 1 * (3 - 0.5) = 2.5; delta 2 -> 2 * (3 - 1) = 4."""
    q_taken, target = torch.tensor([0.0]), torch.tensor([3.0])
    assert huber_loss(q_taken, target).item() == 2.5
    assert td_loss(q_taken, target, "huber").item() == 2.5
    assert td_loss(q_taken, target, "huber", 2.0).item() == 4.0

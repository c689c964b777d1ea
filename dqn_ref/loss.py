"""The TD loss between Q(s, a; theta) and the Bellman target y, averaged over the minibatch."""

from typing import Literal

from torch import Tensor


def huber_loss(q_taken: Tensor, target: Tensor, delta: float = 1.0) -> Tensor:
    """mean_i L_delta(y_i - Q_i): quadratic for |error| <= delta, linear beyond.

    Implements: spec/loss.md#eq-huber

    q_taken: Q(s, a; theta) for the actions taken, (B,).
    target:  y from eq-target, (B,), no gradient.
    delta:   threshold where the loss turns linear; its gradient never exceeds delta in magnitude,
             which is Nature DQN's "error clipping". delta = 1 is torch's smooth_l1_loss.
    """
    abs_error = (target - q_taken).abs()
    quadratic_part = abs_error.clamp(max=delta)
    linear_part = abs_error - quadratic_part
    return (0.5 * quadratic_part**2 + delta * linear_part).mean()


def mse_loss(q_taken: Tensor, target: Tensor) -> Tensor:
    """mean_i (y_i - Q_i)^2, the book chapter's nn.MSELoss.

    Implements: spec/loss.md#eq-mse
    """
    return ((target - q_taken) ** 2).mean()


def td_loss(
    q_taken: Tensor, target: Tensor, kind: Literal["huber", "mse"], huber_delta: float = 1.0
) -> Tensor:
    """The configured TD loss: eq-huber or eq-mse."""
    if kind == "huber":
        return huber_loss(q_taken, target, huber_delta)
    return mse_loss(q_taken, target)

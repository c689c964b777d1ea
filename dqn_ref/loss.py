"""The TD loss between Q(s, a; theta) and the Bellman target y, averaged over the minibatch."""

from typing import Literal

from torch import Tensor
from torch.nn import functional


def huber_loss(q_taken: Tensor, target: Tensor, delta: float = 1.0) -> Tensor:
    """mean_i L_delta(y_i - Q_i): quadratic for |error| <= delta, linear beyond.

    Implements: spec/loss.md#eq-huber

    q_taken: Q(s, a; theta) for the actions taken, (B,).
    target:  y from eq-target, (B,), no gradient.
    delta:   threshold where the loss turns linear; its gradient never exceeds delta in magnitude,
             which is Nature DQN's "error clipping". delta = 1 is torch's smooth_l1_loss.
    """
    # torch's kernel computes exactly the two branches of spec/loss.md in one call (and one for
    # its gradient) instead of nine small ones each way; the spec's branches, written out, are the
    # oracle in tests/test_loss.py (eq-huber P1).
    return functional.huber_loss(q_taken, target, delta=delta)


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

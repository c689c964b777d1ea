"""eq-grad-clip (spec/loss.md): clipping gradients by value, then by global norm."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from dqn_ref.grad_clip import clip_gradients

thresholds = st.floats(1e-3, 100.0, allow_nan=False)
gradient_arrays = hnp.arrays(
    np.float32, st.integers(1, 40), elements=st.floats(-1e3, 1e3, allow_nan=False, width=32)
)


def parameters_with_gradients(*gradients: np.ndarray) -> list[nn.Parameter]:
    parameters = []
    for gradient in gradients:
        parameter = nn.Parameter(torch.zeros(len(gradient)))
        parameter.grad = torch.from_numpy(gradient.copy())
        parameters.append(parameter)
    return parameters


def gradients_of(parameters: list[nn.Parameter]) -> torch.Tensor:
    return torch.cat([p.grad for p in parameters if p.grad is not None])


@given(gradient_arrays, gradient_arrays, thresholds)
def test_clip_by_value_bounds_every_element_and_keeps_small_ones(
    first: np.ndarray, second: np.ndarray, max_value: float
) -> None:
    """eq-grad-clip P1: after clipping by value every |g_i| <= c, and elements already within
    [-c, c] are unchanged."""
    parameters = parameters_with_gradients(first, second)
    before = gradients_of(parameters).clone()
    clip_gradients(parameters, max_value=max_value, max_norm=None)
    after = gradients_of(parameters)
    assert float(after.abs().max()) <= max_value * (1 + 1e-6)
    inside = before.abs() <= max_value
    assert torch.equal(after[inside], before[inside])


@given(gradient_arrays, gradient_arrays, thresholds)
def test_clip_by_norm_bounds_the_global_norm_and_keeps_direction(
    first: np.ndarray, second: np.ndarray, max_norm: float
) -> None:
    """eq-grad-clip P2: after clipping by norm ||g||_2 <= max_norm over all parameters together,
    and g is only scaled, by one factor in (0, 1]."""
    parameters = parameters_with_gradients(first, second)
    before = gradients_of(parameters).clone()
    clip_gradients(parameters, max_value=None, max_norm=max_norm)
    after = gradients_of(parameters)
    assert float(after.norm()) <= max_norm * (1 + 1e-4)
    scale = min(1.0, max_norm / (float(before.norm()) + 1e-6))
    assert torch.allclose(after, before * scale, rtol=1e-4, atol=1e-6)


@given(gradient_arrays)
def test_no_thresholds_leave_gradients_alone(gradient: np.ndarray) -> None:
    """eq-grad-clip P3: with both thresholds off the gradients are untouched."""
    parameters = parameters_with_gradients(gradient)
    before = gradients_of(parameters).clone()
    clip_gradients(parameters, max_value=None, max_norm=None)
    assert torch.equal(gradients_of(parameters), before)


def test_clip_worked_example() -> None:
    """eq-grad-clip by hand. By value c = 5: (3, -12, 6) -> (3, -5, 5).
    By norm 2.5 on (3, 4): ||g|| = 5, scale 2.5 / 5 = 0.5 -> (1.5, 2.0)."""
    parameters = parameters_with_gradients(np.array([3.0, -12.0, 6.0], dtype=np.float32))
    clip_gradients(parameters, max_value=5.0, max_norm=None)
    assert gradients_of(parameters).tolist() == [3.0, -5.0, 5.0]
    parameters = parameters_with_gradients(np.array([3.0, 4.0], dtype=np.float32))
    clip_gradients(parameters, max_value=None, max_norm=2.5)
    assert torch.allclose(gradients_of(parameters), torch.tensor([1.5, 2.0]), atol=1e-6)


@given(gradient_arrays, gradient_arrays, thresholds, thresholds)
def test_clipping_matches_torch_oracle(
    first: np.ndarray, second: np.ndarray, max_value: float, max_norm: float
) -> None:
    """eq-grad-clip against torch: clip_grad_value_ then clip_grad_norm_ on the same gradients."""
    ours = parameters_with_gradients(first, second)
    torchs = parameters_with_gradients(first, second)
    clip_gradients(ours, max_value=max_value, max_norm=max_norm)
    torch.nn.utils.clip_grad_value_(torchs, max_value)
    torch.nn.utils.clip_grad_norm_(torchs, max_norm)
    assert torch.allclose(gradients_of(ours), gradients_of(torchs), rtol=1e-5, atol=1e-6)


def test_clip_by_norm_divides_by_the_norm_plus_its_guard() -> None:
    """eq-grad-clip, the 1e-6 guard: for a tiny gradient (3e-6, 4e-6), ||g|| = 5e-6 and m = 1e-6,
    the scale is m / (||g|| + 1e-6) = 1e-6 / 6e-6 = 1/6, so g becomes (5e-7, 6.667e-7)."""
    parameters = parameters_with_gradients(np.array([3e-6, 4e-6], dtype=np.float32))
    clip_gradients(parameters, max_value=None, max_norm=1e-6)
    expected = torch.tensor([3e-6, 4e-6]) / 6
    assert torch.allclose(gradients_of(parameters), expected, rtol=1e-4, atol=0.0)

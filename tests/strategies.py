"""Shared hypothesis strategies: batches of rewards, Q-values and flags as the spec types them."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Magnitudes a DQN meets in practice, kept where float32 arithmetic is exact enough to compare
# with a tolerance of 1e-5 relative.
finite_values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)
gammas = st.floats(0.0, 1.0, allow_nan=False)
taus = st.floats(1e-3, 1.0, allow_nan=False)
batch_sizes = st.integers(1, 64)
action_counts = st.integers(1, 8)


@st.composite
def target_inputs(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """(reward (B,), next_q (B, A), terminated (B,) bool, gamma) for eq-target."""
    batch = draw(batch_sizes)
    actions = draw(action_counts)
    reward = draw(hnp.arrays(np.float32, batch, elements=finite_values))
    next_q = draw(hnp.arrays(np.float32, (batch, actions), elements=finite_values))
    terminated = draw(hnp.arrays(np.bool_, batch))
    return (
        torch.from_numpy(reward),
        torch.from_numpy(next_q),
        torch.from_numpy(terminated),
        draw(gammas),
    )


@st.composite
def double_target_inputs(
    draw: st.DrawFn,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """(reward (B,), next_q_online (B, A), next_q_target (B, A), terminated (B,) bool, gamma) for
    eq-double-target: eq-target's inputs plus an online table of the same shape."""
    reward, next_q_target, terminated, gamma = draw(target_inputs())
    next_q_online = draw(hnp.arrays(np.float32, next_q_target.shape, elements=finite_values))
    return reward, torch.from_numpy(next_q_online), next_q_target, terminated, gamma


@st.composite
def prediction_pairs(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    """(q_taken (B,), target (B,)) for the TD losses."""
    batch = draw(batch_sizes)
    q_taken = draw(hnp.arrays(np.float32, batch, elements=finite_values))
    target = draw(hnp.arrays(np.float32, batch, elements=finite_values))
    return torch.from_numpy(q_taken), torch.from_numpy(target)


def small_mlp(seed: int, widths: tuple[int, ...] = (3, 5, 2)) -> torch.nn.Module:
    """A small MLP with seeded weights, for target-update and clipping properties."""
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for width_in, width_out in itertools.pairwise(widths):
        layers += [torch.nn.Linear(width_in, width_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])

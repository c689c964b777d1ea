"""The numerical guard: a run whose loss or weights stop being finite ends with a one-line error
and keeps its last good checkpoint (spec/reliability.md#numerical-guard)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from dqn_ref.errors import DQNRefError


def all_finite(tensors: Iterable[torch.Tensor]) -> bool:
    """Whether every element of every tensor is finite; one host sync for them all."""
    return bool(torch.stack([torch.isfinite(tensor).all() for tensor in tensors]).all())


def non_finite_error(
    what: str, step: int, checkpoint_step: int | None, run_dir: Path
) -> DQNRefError:
    """The guard's message: what went bad, by which step, and what checkpoint.pt still holds."""
    kept = (
        f"checkpoint.pt in {run_dir} keeps the last good state (step {checkpoint_step})"
        if checkpoint_step is not None
        else "no checkpoint had been written yet"
    )
    return DQNRefError(
        f"{what} became non-finite by step {step}, so the run stopped; {kept}; lower "
        "--learning-rate, or set --max-grad-norm, and train again"
    )

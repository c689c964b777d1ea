"""Seeding the process-wide random generators, and saving and restoring their states.

The generators dqn_ref itself draws from are torch generators owned by their users (the agent's
exploration, the replay sampler, the evaluation's epsilon-greedy) and the environments' own numpy
generators; these process-wide ones are seeded and checkpointed too, so that code drawing from them
(network initialisation, a library) is reproducible and resumable as well.
"""

from __future__ import annotations

import random
from typing import Any, cast

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds code that uses the legacy global generator
    torch.manual_seed(seed)


def global_rng_state() -> dict[str, Any]:
    """The states of python's, numpy's and torch's global generators, in types that
    torch.load(weights_only=True) reads back (no numpy arrays)."""
    numpy_state = cast(tuple[Any, ...], np.random.get_state(legacy=True))  # noqa: NPY002
    bit_generator, key, position, has_gauss, cached_gaussian = numpy_state
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": bit_generator,
            "key": key.tolist(),
            "position": position,
            "has_gauss": has_gauss,
            "cached_gaussian": cached_gaussian,
        },
        "torch": torch.get_rng_state(),
        "torch_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_global_rng_state(state: dict[str, Any]) -> None:
    """Put python's, numpy's and torch's global generators back where global_rng_state() was."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    numpy_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            numpy_state["bit_generator"],
            np.array(numpy_state["key"], dtype=np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if state["torch_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])

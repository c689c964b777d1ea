"""Helpers for the resume tests: a stop request at a chosen step, and a checkpoint's payload
flattened to one value per path (loop.step, rng.eval, agent.online_net.0.weight, ...), so that two
runs' checkpoints compare field by field, every field of the loop state, every generator and
every counter included, and a field added later is compared without anyone listing it."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dqn_ref.training.checkpoint import load_checkpoint

# The loop state's wall-clock fields: seconds, which no two runs share (the first solve's step,
# its first element, is not one of them).
WALL_CLOCK = {"loop.elapsed_s", "loop.eval_time_s", "loop.first_solved.1", "loop.first_solved.2"}
# Every generator a checkpoint restores: python's, numpy's and torch's global ones, the
# evaluation's, the agent's exploration, the replay sampler's (numpy: its bit generator's state).
GENERATORS = (
    "rng.global.python",
    "rng.global.numpy",
    "rng.global.torch",
    "rng.eval",
    "agent.generator",
    "replay.rng",
)


# gymnasium seeds the action and observation spaces' generators from the OS's entropy; dqn_ref
# never samples a space, so no two runs share them and none uses them: not compared.
UNUSED = "_space._np_random"


class StopAt:
    """A stop request at a given agent step, as SIGINT would make one at an unknown step."""

    signal_number: int | None = None

    def __init__(self, step: int):
        self.step = step

    def should_stop(self, step: int) -> bool:
        return step >= self.step


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a checkpoint payload by its dotted path; tensors and arrays are leaves."""
    if isinstance(value, Mapping):
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves.update(flatten(item, f"{path}.{key}" if path else str(key)))
        return leaves
    if isinstance(value, list | tuple) and not any(isinstance(item, Mapping) for item in value):
        if value and all(isinstance(item, torch.Tensor) for item in value):
            return {f"{path}.{index}": item for index, item in enumerate(value)}
        if path.startswith("loop.first_solved"):  # (step, seconds, seconds): one is a step
            return {f"{path}.{index}": item for index, item in enumerate(value)}
        return {path: value}
    if isinstance(value, list | tuple):
        leaves = {}
        for index, item in enumerate(value):
            leaves.update(flatten(item, f"{path}.{index}"))
        return leaves
    return {path: value}


def same(first: Any, second: Any) -> bool:
    """Equal leaves: tensors and arrays in dtype, shape and every element (NaN equal to NaN)."""
    if isinstance(first, torch.Tensor) or isinstance(second, torch.Tensor):
        if not (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)):
            return False
        if first.dtype != second.dtype or first.shape != second.shape:
            return False
        if first.is_floating_point():
            return bool(torch.equal(first.isnan(), second.isnan())) and bool(
                torch.equal(first.nan_to_num(), second.nan_to_num())
            )
        return bool(torch.equal(first, second))
    if isinstance(first, np.ndarray) or isinstance(second, np.ndarray):
        return bool(np.array_equal(first, second, equal_nan=True))
    return bool(first == second)


def object_leaves(value: Any, path: str, seen: set[int]) -> dict[str, Any]:
    """An unpickled environment's state, attribute by attribute: a numpy generator by its bit
    generator's state (generators do not compare by value), each object once."""
    if isinstance(value, np.random.Generator):
        return flatten(value.bit_generator.state, path)
    if isinstance(value, np.ndarray | str | bytes | int | float | bool | type(None)):
        return {path: value}
    if id(value) in seen:
        return {}
    seen.add(id(value))
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list | tuple):
        items = list(enumerate(value))
    elif hasattr(value, "__dict__"):
        items = list(vars(value).items())
    else:
        return {path: value}
    leaves: dict[str, Any] = {}
    for key, item in items:
        leaves.update(object_leaves(item, f"{path}.{key}", seen))
    return leaves


def checkpoint_leaves(run_dir: Path) -> dict[str, Any]:
    """flatten() of the checkpoint, its pickled environments unpickled into their state."""
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    pickled = {name: payload.pop(name) for name in ("envs", "eval_envs")}
    leaves = flatten(payload)
    for name, state in pickled.items():
        if state is None:
            leaves[name] = None
        else:
            leaves.update(object_leaves(pickle.loads(state), name, set()))  # this test's own run
    return leaves


def differing(first: Path, second: Path, wall_clock: bool = False) -> set[str]:
    """The paths at which two runs' checkpoints differ (a path only one of them has included),
    wall-clock fields aside unless `wall_clock` (runs timed by clocks that agree), and the
    environments' unused generators (UNUSED) aside."""
    first_leaves, second_leaves = checkpoint_leaves(first), checkpoint_leaves(second)
    paths = {path for path in set(first_leaves) | set(second_leaves) if UNUSED not in path}
    if not wall_clock:
        paths -= WALL_CLOCK
    return {
        path
        for path in paths
        if path not in first_leaves
        or path not in second_leaves
        or not same(first_leaves[path], second_leaves[path])
    }


def groups(paths: set[str], depth: int = 2) -> set[str]:
    """The paths cut to their first `depth` parts: agent.online_net.0.weight -> agent.online_net."""
    return {".".join(path.split(".")[:depth]) for path in paths}

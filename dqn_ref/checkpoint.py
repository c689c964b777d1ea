"""Checkpoints: the agent's learning state and the config that made it, saved atomically."""

from __future__ import annotations

import dataclasses
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from dqn_ref.agent import DQNAgent
from dqn_ref.atomic import atomic_write
from dqn_ref.config import DQNConfig
from dqn_ref.envs import EnvSpaces
from dqn_ref.errors import DQNRefError

CHECKPOINT_FORMAT = "dqn_ref-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(
    path: Path, config: DQNConfig, agent: DQNAgent, spaces: EnvSpaces, counters: dict[str, int]
) -> None:
    """Write `path` atomically with everything needed to rebuild the agent."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": dataclasses.asdict(config),
        "obs_shape": list(spaces.obs_shape),
        "num_actions": spaces.num_actions,
        "counters": counters,
        "agent": agent.state_dict(),
    }
    atomic_write(path, lambda file: torch.save(payload, file))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The payload of a dqn_ref checkpoint, or a one-line DQNRefError saying what is wrong."""
    if not path.is_file():
        raise DQNRefError(f"no checkpoint at {path}; pass a run folder that holds checkpoint.pt")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError) as error:
        raise DQNRefError(
            f"{path} is not a readable checkpoint ({type(error).__name__}); "
            "it may be truncated or corrupt"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise DQNRefError(f"{path} is not a dqn_ref checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise DQNRefError(
            f"{path} has checkpoint version {payload.get('version')}, this dqn_ref reads "
            f"{CHECKPOINT_VERSION}"
        )
    return payload


def restore_agent(payload: dict[str, Any], device: torch.device) -> tuple[DQNConfig, DQNAgent]:
    """Rebuild the config and the agent, weights and optimiser state included, from a payload."""
    fields = dict(payload["config"])
    fields["hidden_sizes"] = tuple(fields["hidden_sizes"])
    try:
        config = DQNConfig(**fields)
    except TypeError as error:  # a field this version of DQNConfig does not have, or lacks
        raise DQNRefError(f"the checkpoint's config does not fit this dqn_ref: {error}") from error
    agent = DQNAgent(config, tuple(payload["obs_shape"]), payload["num_actions"], device)
    agent.load_state_dict(payload["agent"])
    return config, agent

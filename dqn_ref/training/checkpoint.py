"""Checkpoints: everything a run needs to continue, and the config that made it, saved atomically.

spec/reliability.md#checkpoints lists what a checkpoint holds and what resuming from it guarantees.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from gymnasium.vector import VectorEnv

from dqn_ref.agent import DQNAgent
from dqn_ref.config import SEED_LIMIT, DQNConfig
from dqn_ref.envs import EnvSpaces, capture_env_state, restore_env_state
from dqn_ref.errors import DQNRefError
from dqn_ref.loop import updates_due
from dqn_ref.loop_state import LoopState
from dqn_ref.replay_interface import Replay
from dqn_ref.training.atomic import atomic_write
from dqn_ref.training.build import make_agent
from dqn_ref.training.seeding import global_rng_state, restore_global_rng_state

CHECKPOINT_FORMAT = "dqn_ref-checkpoint"
CHECKPOINT_VERSION = 2
REQUIRED_KEYS = ("config", "obs_shape", "num_actions", "counters", "agent", "loop", "rng")


@dataclass
class Resumable:
    """What the training loop hands to a checkpoint beyond the agent: its state, its environments,
    the evaluation's generator, how many metrics rows it has written and, when the config asks,
    the replay buffer."""

    loop: LoopState
    preset: str
    metrics_rows: int
    envs: VectorEnv
    eval_envs: VectorEnv | None
    eval_generator: torch.Generator
    replay: Replay | None  # None: not saved (config.checkpoint_replay off)


def save_checkpoint(
    path: Path, config: DQNConfig, agent: DQNAgent, spaces: EnvSpaces, resumable: Resumable
) -> None:
    """Write `path` atomically with everything needed to rebuild the agent and continue the run."""
    loop = resumable.loop
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": dataclasses.asdict(config),
        "preset": resumable.preset,
        "device": agent.device.type,
        "obs_shape": list(spaces.obs_shape),
        "num_actions": spaces.num_actions,
        "counters": {"step": loop.step, "episode": loop.episode, "updates": loop.updates_done},
        "agent": agent.state_dict(),
        "loop": loop.state_dict(),
        "rng": {"global": global_rng_state(), "eval": resumable.eval_generator.get_state()},
        "envs": capture_env_state(resumable.envs),
        "eval_envs": (
            capture_env_state(resumable.eval_envs) if resumable.eval_envs is not None else None
        ),
        "metrics_rows": resumable.metrics_rows,
        "replay": resumable.replay.state_dict() if resumable.replay is not None else None,
    }
    atomic_write(path, lambda file: torch.save(payload, file))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The payload of a dqn_ref checkpoint, or a one-line DQNRefError saying what is wrong."""
    if not path.parent.is_dir():
        raise DQNRefError(f"run folder {path.parent} does not exist; pass the folder a run wrote")
    if not path.is_file():
        raise DQNRefError(f"no checkpoint at {path}; pass a run folder that holds checkpoint.pt")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # garbage makes torch.load raise almost any type (KeyError, ...)
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
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise DQNRefError(f"{path} is an incomplete dqn_ref checkpoint (no {missing[0]!r})")
    return payload


def config_of(payload: dict[str, Any]) -> DQNConfig:
    """The config a checkpoint was written with, or a one-line error if this dqn_ref cannot."""
    fields = dict(payload["config"])
    if "hidden_sizes" in fields:
        fields["hidden_sizes"] = tuple(fields["hidden_sizes"])
    try:
        return DQNConfig(**fields)
    except TypeError as error:  # a field this version of DQNConfig does not have, or lacks
        raise DQNRefError(f"the checkpoint's config does not fit this dqn_ref: {error}") from error


def saved_on_another_device(payload: dict[str, Any], device: torch.device) -> bool:
    """Whether the checkpoint was written on another kind of device (cuda, cpu) than `device`:
    its torch generators' states then do not fit this device's generators."""
    return bool(payload.get("device", device.type) != device.type)


def load_agent_state(agent: DQNAgent, payload: dict[str, Any]) -> None:
    """The checkpoint's networks, optimiser and, if saved on this kind of device, exploration
    generator; from another device the agent keeps its freshly seeded generator."""
    state = payload["agent"]
    if saved_on_another_device(payload, agent.device):
        state = {**state, "generator": agent.generator.get_state()}
    agent.load_state_dict(state)


def load_agent_state_or_refuse(agent: DQNAgent, payload: dict[str, Any]) -> None:
    """load_agent_state, with a one-line DQNRefError when the saved networks or optimiser do not
    fit the agent the checkpoint's config builds (torch's own error is a page of size
    mismatches)."""
    try:
        load_agent_state(agent, payload)
    except (KeyError, RuntimeError, ValueError) as error:
        raise DQNRefError(
            f"the checkpoint's networks do not fit its config ({type(error).__name__}); "
            "the file may come from another program, or its config was edited"
        ) from error


def restore_agent(payload: dict[str, Any], device: torch.device) -> tuple[DQNConfig, DQNAgent]:
    """Rebuild the config and the agent, weights and optimiser state included, from a payload."""
    config = config_of(payload)
    agent = make_agent(config, tuple(payload["obs_shape"]), payload["num_actions"], device)
    load_agent_state_or_refuse(agent, payload)
    return config, agent


@dataclass
class RestoredRun:
    """A checkpointed run put back: its loop state and environments, and whether the resumed run
    will be bit-exact (spec/reliability.md#resume), with the reasons it will not be."""

    loop: LoopState
    envs: VectorEnv
    eval_envs: VectorEnv | None
    not_exact_because: list[str]


def restore_run(
    payload: dict[str, Any],
    agent: DQNAgent,
    buffer: Replay,
    envs: VectorEnv,
    eval_envs: VectorEnv | None,
    eval_generator: torch.Generator,
    device: torch.device,
) -> RestoredRun:
    """Load a checkpoint into a freshly built run: agent, replay buffer, generators, environments.

    `envs` and `eval_envs` are the fresh environments; where the checkpoint holds their pickled
    state they are closed and replaced by the saved ones, else they are kept and reset, and the
    episodes that were in progress are dropped.
    """
    config = agent.config
    not_exact_because: list[str] = []
    other_device = saved_on_another_device(payload, device)
    if other_device:
        not_exact_because.append(
            f"it ran on {payload['device']}, whose random generators {device.type} cannot continue"
        )
    load_agent_state_or_refuse(agent, payload)
    loop = LoopState.from_state_dict(payload["loop"], device)
    if payload["replay"] is not None:
        buffer.load_state_dict(payload["replay"])
        if "rng" not in payload["replay"]:
            not_exact_because.append(
                "its replay buffer was saved with an older dqn_ref's sampler, which restarts "
                "from the seed"
            )
    else:
        not_exact_because.append("the replay buffer was not saved (--checkpoint-replay)")
        # The buffer starts empty: the updates due before it holds as many transitions as at the
        # start are skipped, rather than made later in a burst on the few transitions it holds.
        # Those the run ends before are not made either; TrainingRun.result leaves them out.
        refilled_at = loop.step + max(config.learning_starts, config.batch_size)
        skipped = max(0, updates_due(config, refilled_at - 1) - loop.updates_done)
        loop.updates_done += skipped
        loop.updates_skipped += skipped
    restore_global_rng_state(payload["rng"]["global"])
    if not other_device:
        eval_generator.set_state(payload["rng"]["eval"])
    if payload["envs"] is not None:
        envs.close()
        envs = restore_env_state(payload["envs"])
    else:
        not_exact_because.append("the environments could not be saved")
        # A seed apart from the first reset's, kept within the seeds' range (dqn_ref.config).
        obs, _ = envs.reset(seed=(config.seed + loop.step) % SEED_LIMIT)
        fresh = LoopState.start(obs, device, config.eval_interval)
        loop.obs, loop.episode_return = fresh.obs, fresh.episode_return
        loop.episode_length, loop.resetting = fresh.episode_length, fresh.resetting
        buffer.end_episodes()  # what is stored does not continue into the new episodes
    if eval_envs is not None:
        if payload["eval_envs"] is not None:
            eval_envs.close()
            eval_envs = restore_env_state(payload["eval_envs"])
        else:
            not_exact_because.append("the evaluation environments could not be saved")
    return RestoredRun(loop, envs, eval_envs, not_exact_because)

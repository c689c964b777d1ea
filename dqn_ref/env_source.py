"""Where an environment comes from besides a registered id: gymnasium's `module:EnvId` form, a
callable that returns a gymnasium.Env, and keyword arguments given as JSON.

A callable is registered in gymnasium's registry under an id that names it,
`callable/<module>.<qualified name>`, so that everything built from an id (the training and
evaluation vector envs, the video, play) builds it too: gymnasium calls it once per environment
copy and puts its TimeLimit (max_episode_steps) around what it returns. The config records that
id. A later process (resume, eval) rebuilds the registration by importing the callable where it
can (a function at the top of a module), and otherwise asks for it again.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from ale_py.env import AtariEnv

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError

CALLABLE_NAMESPACE = "callable"
EnvMaker = Callable[..., Any]  # returns a gymnasium.Env


def env_kwargs_of(env_kwargs: str) -> dict[str, Any]:
    """The keyword arguments a config's env_kwargs field holds ('' or a JSON object)."""
    if not env_kwargs:
        return {}
    parsed = json.loads(env_kwargs)
    if not isinstance(parsed, dict):
        raise DQNRefError(f"env_kwargs={env_kwargs!r} must be a JSON object")
    return parsed


def env_kwargs_json(env_kwargs: dict[str, Any] | None) -> str:
    """A dict of keyword arguments as the config's env_kwargs field holds it ('' for none)."""
    if not env_kwargs:
        return ""
    if not isinstance(env_kwargs, dict):
        raise DQNRefError(
            f"env_kwargs must be a dict of keyword arguments, not {type(env_kwargs).__name__}"
        )
    try:
        return json.dumps(env_kwargs, sort_keys=True)
    except TypeError as error:
        raise DQNRefError(
            f"env_kwargs must hold values JSON can write (numbers, strings, lists, dicts), so "
            f"that config.json records them: {error}"
        ) from error


def registered_name(env_id: str) -> str:
    """env_id as gymnasium's registry knows it: for gymnasium's `module:EnvId` form, EnvId once
    `module` is imported (importing it registers EnvId, as gymnasium.make does)."""
    if ":" not in env_id:
        return env_id
    module, name = env_id.split(":", 1)
    try:
        importlib.import_module(module)
    except (ImportError, ValueError, TypeError) as error:  # ValueError: an empty module name
        raise DQNRefError(
            f"cannot import {module!r}, the module named in the environment id {env_id!r} "
            f"({type(error).__name__}: {error}); install it or correct the id"
        ) from error
    return name


def callable_id(make: EnvMaker) -> str:
    """The id a callable is registered under: `callable/<module>.<qualified name>`, each
    character gymnasium's ids do not allow written as `_`."""
    name = f"{getattr(make, '__module__', None) or 'unknown'}."
    name += getattr(make, "__qualname__", None) or type(make).__name__
    allowed = re.sub(r"[^\w.-]", "_", name)
    return f"{CALLABLE_NAMESPACE}/{allowed}"


def is_callable_id(env_id: str) -> bool:
    return env_id.startswith(CALLABLE_NAMESPACE + "/")


class CheckedMaker:
    """A user's callable as gymnasium's entry point: each environment it returns is checked."""

    def __init__(self, make: EnvMaker, env_id: str):
        self.make = make
        self.env_id = env_id

    def __call__(self, **kwargs: Any) -> gym.Env[Any, Any]:
        env = self.make(**kwargs)
        name = self.env_id.removeprefix(CALLABLE_NAMESPACE + "/")
        if not isinstance(env, gym.Env):
            raise DQNRefError(
                f"the env callable {name} returned {type(env).__name__}, not a gymnasium.Env; "
                "return an environment, such as gym.make(...)"
            )
        if isinstance(env.unwrapped, AtariEnv):
            raise DQNRefError(
                f"the env callable {name} returned an Atari game; pass its id instead "
                "(env='ALE/Pong-v5'), so that it gets the Atari frame pipeline"
            )
        return env


def register_callable(make: EnvMaker, env_id: str | None = None) -> str:
    """Register `make` in gymnasium's registry, under env_id (a run's recorded id, when the
    callable is given again) or its own callable_id; return the id. A callable is checked here,
    in one line: a gymnasium.Env given instead of a callable is refused."""
    if isinstance(make, gym.Env):
        raise DQNRefError(
            f"env is an environment object ({type(make).__name__}); dqn_ref builds one per "
            "environment copy and for each evaluation, so pass its id (env='CartPole-v1', "
            "env_kwargs={...}) or a callable that returns a new one (env=lambda: gym.make(...))"
        )
    if not callable(make):
        raise DQNRefError(
            f"env must be an environment id or a callable that returns a gymnasium.Env, not "
            f"{type(make).__name__}"
        )
    env_id = env_id or callable_id(make)
    gym.registry.pop(env_id, None)  # a callable given again replaces the one before it
    gym.register(env_id, entry_point=CheckedMaker(make, env_id), disable_env_checker=True)
    return env_id


def rebuild_callable(env_id: str) -> None:
    """Register again the callable a run recorded as env_id, when it can be imported (a
    function defined at the top of an importable module); else a one-line DQNRefError asking
    for it."""
    dotted = env_id.removeprefix(CALLABLE_NAMESPACE + "/")
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attribute in parts[split:]:
                found = getattr(found, attribute)
        except AttributeError:
            break
        if callable(found):
            register_callable(found, env_id)
            return
        break
    raise DQNRefError(
        f"this run's environment was made by the callable {dotted}, which cannot be rebuilt "
        "here; pass it again from Python: env=<the callable> (dqn_ref.resume, dqn_ref.load)"
    )


def config_with_env(
    config: DQNConfig, env: str | EnvMaker | None, env_kwargs: dict[str, Any] | None
) -> DQNConfig:
    """config with the environment `dqn_ref.train(..., env=..., env_kwargs=...)` names: an id
    (gymnasium's `module:EnvId` form too) or a callable, registered here (register_callable)."""
    changes: dict[str, Any] = {}
    if isinstance(env, str):
        changes["env_id"] = env
    elif env is not None:
        changes["env_id"] = register_callable(env)
    if env_kwargs is not None:
        changes["env_kwargs"] = env_kwargs_json(env_kwargs)
    return config.replace(**changes) if changes else config


def give_callable_again(env_id: str, env: EnvMaker | None) -> None:
    """For resume and load: the callable a run was made with, registered again under the run's
    own id. A run made from an id takes no callable (its environment is rebuilt from the id)."""
    if env is None:
        return
    if not is_callable_id(env_id):
        raise DQNRefError(
            f"this run's environment is {env_id}, rebuilt from its id; env= is for runs whose "
            "environment a callable made"
        )
    register_callable(env, env_id)

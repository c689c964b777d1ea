"""Building environments: gymnasium vector envs with next-step autoreset, checked for DQN.

Longer than 300 lines for a reason: one concept, the vector env a config names (gymnasium's, or
ale-py's with the Nature pipeline), built with the checks that make each refusal one line; where
an environment comes from besides a registered id (a callable, `module:EnvId`, keyword
arguments) is env_source.py's.
"""

from __future__ import annotations

import difflib
import functools
import os
import pickle
from dataclasses import dataclass
from typing import Any

import ale_py
import gymnasium as gym
import numpy as np
from ale_py.vector_env import AtariVectorEnv
from gymnasium.envs.registration import VectorizeMode
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from numpy.typing import NDArray

from dqn_ref.config import DQNConfig
from dqn_ref.env_source import is_callable_id, rebuild_callable, registered_name
from dqn_ref.errors import DQNRefError

gym.register_envs(ale_py)  # the ALE/... ids; ale-py ships the Atari ROMs

# Atari constants of the Nature protocol (spec/preprocessing.md): frames per agent step, frames
# stacked per observation, the 84x84 screen, and ALE v5's episode cap of 108,000 frames (30 min).
ATARI_FRAME_SKIP = 4
ATARI_FRAME_STACK = 4
ATARI_SCREEN_SIZE = 84
ATARI_COLOUR_SCREEN = (210, 160)  # the emulator's own screen, height by width
ATARI_MAX_EPISODE_FRAMES = 108_000

# From this many copies on, an environment with a native vector version uses it (see below).
NATIVE_VECTOR_MIN_ENVS = 2


@dataclass(frozen=True)
class EnvSpaces:
    """What the agent needs to know about an environment."""

    obs_shape: tuple[int, ...]
    obs_dtype: np.dtype
    num_actions: int


def check_env_id(env_id: str) -> None:
    """Raise a one-line DQNRefError naming close matches when gymnasium does not know env_id.
    gymnasium's `module:EnvId` form imports the module first; a callable's id (env_source.py)
    registers the callable again where it can be imported."""
    name = registered_name(env_id)
    if name in gym.registry:
        return
    if is_callable_id(env_id):
        rebuild_callable(env_id)
        return
    suggestions = difflib.get_close_matches(name, list(gym.registry), n=3, cutoff=0.5)
    hint = (
        f"; did you mean {', '.join(suggestions)}?" if suggestions else "; see gymnasium.registry"
    )
    raise DQNRefError(f"unknown environment id {env_id!r}{hint}")


def spec_reward_threshold(env_id: str) -> float | None:
    """The return at which gymnasium's spec of env_id counts the task solved (475 for
    CartPole-v1, -100 for Acrobot-v1), or None where the spec gives none (the Atari games)."""
    check_env_id(env_id)
    threshold = gym.spec(registered_name(env_id)).reward_threshold
    return None if threshold is None else float(threshold)


def with_env_threshold(config: DQNConfig) -> DQNConfig:
    """config with its solved_threshold stated: the config's own, else the environment's
    (spec_reward_threshold); still None where neither gives one, and then no solve is measured."""
    if config.solved_threshold is not None:
        return config
    threshold = spec_reward_threshold(config.env_id)
    return config if threshold is None else config.replace(solved_threshold=threshold)


# What each kind of task trains: the command line's control and atari tasks accept only theirs.
VECTOR = "vector"  # a Gymnasium environment with discrete actions and flat vector observations
ATARI = "atari"  # an ale-py game, seen through the Nature frame pipeline


def check_env_kind(env_id: str, kind: str, env_kwargs: dict[str, Any] | None = None) -> None:
    """Refuse, in one line, an environment that is not of `kind` (VECTOR or ATARI): continuous
    actions, pixels or images under VECTOR, a non-Atari id under ATARI, a missing extra."""
    check_env_id(env_id)
    if kind == ATARI:
        if env_kwargs:
            make_env(env_id, 1, env_kwargs=env_kwargs)  # refuses env_kwargs for an Atari game
        if not is_atari(env_id):
            raise DQNRefError(
                f"{env_id} is not an Atari game; the atari task takes ale-py ids such as "
                "ALE/Breakout-v5 (vector observations: use the control task)"
            )
        return
    if is_atari(env_id):
        raise DQNRefError(
            f"{env_id} is an Atari game, seen as pixels; train it with the atari task "
            f"(atari --env-id {env_id})"
        )
    # Refuses continuous actions and non-Box observations.
    envs = make_vector_env(env_id, 1, env_kwargs=env_kwargs)
    try:
        shape = tuple(envs.single_observation_space.shape or ())
    finally:
        envs.close()
    if len(shape) != 1:
        raise DQNRefError(
            f"{env_id} gives observations of shape {shape}, not a vector; the control task "
            "takes environments with flat vector observations (Atari games: the atari task)"
        )


@dataclass(frozen=True)
class AtariOptions:
    """What the Atari frame pipeline takes from a config (spec/preprocessing.md)."""

    noop_max: int = 30
    terminal_on_life_loss: bool = False
    repeat_action_probability: float = 0.0


def atari_options(config: DQNConfig, training: bool) -> AtariOptions:
    """The config's Atari settings; a lost life is never terminal outside training."""
    return AtariOptions(
        noop_max=config.noop_max,
        terminal_on_life_loss=config.terminal_on_life_loss and training,
        repeat_action_probability=config.repeat_action_probability,
    )


def is_atari(env_id: str) -> bool:
    """Whether env_id is one of ale-py's Atari games (ALE/Pong-v5, PongNoFrameskip-v4, ...)."""
    name = registered_name(env_id)
    return name in gym.registry and str(gym.spec(name).entry_point).startswith("ale_py")


def make_atari_vector_env(
    env_id: str,
    num_envs: int,
    max_episode_steps: int = 0,
    options: AtariOptions = AtariOptions(),
    colour_screen: bool = False,
) -> gym.vector.VectorEnv:
    """num_envs copies of an Atari game with the Nature preprocessing, done by ale-py's C++ vector
    env: no-op starts, fire on reset, max-and-skip 4, 84x84 grayscale, a stack of 4 frames.

    Implements: spec/preprocessing.md#eq-atari-frames

    Rewards come back raw (eq-reward-clip is applied when storing, so logged returns are game
    scores). With terminal_on_life_loss a lost life reports terminated=True while the game goes
    on; `game_over` tells the two apart. Episodes are truncated at max_episode_steps agent steps,
    or ALE's 108,000 frames when that is 0.

    colour_screen: the same game, seeds and options, observed as the player sees it (one
    210x160 colour frame) instead of the network's stack: the twin that films an agent.
    """
    check_env_id(env_id)
    frames = max_episode_steps * ATARI_FRAME_SKIP if max_episode_steps else ATARI_MAX_EPISODE_FRAMES
    envs = AtariVectorEnv(
        gym.spec(registered_name(env_id)).kwargs["game"],
        num_envs,
        frameskip=ATARI_FRAME_SKIP,
        stack_num=1 if colour_screen else ATARI_FRAME_STACK,
        img_height=ATARI_COLOUR_SCREEN[0] if colour_screen else ATARI_SCREEN_SIZE,
        img_width=ATARI_COLOUR_SCREEN[1] if colour_screen else ATARI_SCREEN_SIZE,
        grayscale=not colour_screen,
        maxpool=True,
        noop_max=options.noop_max,
        use_fire_reset=True,
        life_loss_info=options.terminal_on_life_loss,
        reward_clipping=False,
        repeat_action_probability=options.repeat_action_probability,
        max_num_frames_per_episode=frames,
        autoreset_mode=AutoresetMode.NEXT_STEP,
        num_threads=min(num_envs, os.cpu_count() or 1),
    )
    env_spaces(envs, env_id)
    return envs


def game_over(
    terminated: NDArray[np.bool_], truncated: NDArray[np.bool_], info: dict[str, Any]
) -> NDArray[np.bool_]:
    """Which copies ended their episode this step, so that their next step is an autoreset.

    Only differs from terminated | truncated when a lost life is reported as terminated
    (terminal_on_life_loss): the game, and the episode that is logged, ends at its last life.
    """
    ended = terminated | truncated
    lives = info.get("lives") if isinstance(info, dict) else None
    if lives is None:
        return ended
    over: NDArray[np.bool_] = truncated | (terminated & (np.asarray(lives) == 0))
    return over


def make_env(
    env_id: str,
    num_envs: int,
    max_episode_steps: int = 0,
    atari: AtariOptions = AtariOptions(),
    env_kwargs: dict[str, Any] | None = None,
) -> gym.vector.VectorEnv:
    """The vector env for env_id: the Atari pipeline for ale-py games, gymnasium's otherwise,
    made with env_kwargs (a config's env_kwargs_of) where given."""
    if is_atari(env_id):
        if env_kwargs:
            raise DQNRefError(
                f"env_kwargs are passed to gymnasium.make, but {env_id} runs in ale-py's vector "
                "env; set its options with the Atari config fields (--noop-max, "
                "--repeat-action-probability, ...) instead"
            )
        return make_atari_vector_env(env_id, num_envs, max_episode_steps, atari)
    return make_vector_env(env_id, num_envs, max_episode_steps, env_kwargs)


def make_vector_env(
    env_id: str,
    num_envs: int,
    max_episode_steps: int = 0,
    env_kwargs: dict[str, Any] | None = None,
) -> gym.vector.VectorEnv:
    """num_envs copies of env_id stepped in lockstep, truncated at max_episode_steps if it is not 0.

    Autoreset is next-step (gymnasium's default): the step that ends an episode returns the true
    final observation, and the following step resets that copy, ignores its action and returns
    the first observation with reward 0. The training loop stores nothing for that reset step.

    Where gymnasium has a natively vectorised version of the environment (CartPole's steps every
    copy in one set of numpy operations) and there are several copies, that version is used: it
    is about 4x faster than stepping 8 copies one by one. For one copy the plain environment in a
    SyncVectorEnv is faster. Both follow the same dynamics and the same autoreset rule. With
    env_kwargs, each copy is gymnasium.make(env_id, **env_kwargs) (the native version's own
    arguments may differ).
    """
    check_env_id(env_id)
    time_limit: dict[str, Any] = {}
    if max_episode_steps:
        time_limit["max_episode_steps"] = max_episode_steps
    native = not env_kwargs and num_envs >= NATIVE_VECTOR_MIN_ENVS
    try:
        if native and gym.spec(registered_name(env_id)).vector_entry_point:
            envs = gym.make_vec(
                env_id, num_envs, vectorization_mode=VectorizeMode.VECTOR_ENTRY_POINT, **time_limit
            )
        else:
            # A partial, not a lambda, so that the vector env pickles (capture_env_state).
            envs = SyncVectorEnv(
                [functools.partial(gym.make, env_id, **time_limit, **(env_kwargs or {}))]
                * num_envs,
                autoreset_mode=AutoresetMode.NEXT_STEP,
            )
    except gym.error.DependencyNotInstalled as error:
        raise DQNRefError(missing_dependency_message(env_id, error)) from error
    except gym.error.Error as error:  # a bad env argument, ...
        raise DQNRefError(f"cannot make {env_id}: {error}") from error
    except TypeError as error:  # an env_kwargs name the environment does not take
        if not env_kwargs:
            raise
        raise DQNRefError(f"cannot make {env_id} with env_kwargs {env_kwargs}: {error}") from error
    autoreset_mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if autoreset_mode != AutoresetMode.NEXT_STEP:
        raise DQNRefError(
            f"{env_id}'s vector env autoresets {autoreset_mode}; dqn_ref needs next-step autoreset"
        )
    env_spaces(envs, env_id)  # fail now, with a clear message, on a space DQN cannot handle
    return envs


# Gymnasium's environment families that need an extra package, and the dqn_ref extra that
# installs it (pyproject.toml's optional dependencies).
EXTRA_OF_FAMILY = {"box2d": "box2d"}


def missing_dependency_message(env_id: str, error: Exception) -> str:
    """One line naming what env_id lacks and, where dqn_ref has one, the extra that installs it."""
    family = str(gym.spec(registered_name(env_id)).entry_point).split(".")[2:3]  # envs.<family>
    extra = EXTRA_OF_FAMILY.get(family[0]) if family else None
    if extra is not None:
        return f'{env_id} needs {extra} (not installed here): pip install -e ".[{extra}]"'
    first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"cannot make {env_id}: {first_line}"


def env_spaces(envs: gym.vector.VectorEnv, env_id: str) -> EnvSpaces:
    """Observation shape and dtype and the number of actions of one copy of the environment."""
    action_space = envs.single_action_space
    if not isinstance(action_space, gym.spaces.Discrete):
        raise DQNRefError(
            f"DQN needs a discrete action space, but {env_id} has {action_space}; "
            "pick an environment with Discrete actions"
        )
    obs_space = envs.single_observation_space
    if not isinstance(obs_space, gym.spaces.Box):
        raise DQNRefError(f"dqn_ref needs a Box observation space, but {env_id} has {obs_space}")
    return EnvSpaces(tuple(obs_space.shape), np.dtype(obs_space.dtype), int(action_space.n))


def capture_env_state(envs: gym.vector.VectorEnv) -> bytes | None:
    """The whole vector env pickled (each copy's physics state, its random generator, its time
    limit's step count and the autoreset flags), or None where it cannot be pickled.

    Pickling works for pure-Python environments such as CartPole, in a SyncVectorEnv or natively
    vectorised. Environments that hold native handles (emulators, simulators) do not pickle; for
    them a resumed run starts the environments afresh, so it is not bit-exact
    (spec/reliability.md#resume).
    """
    try:
        return pickle.dumps(envs, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):
        return None


def restore_env_state(state: bytes) -> gym.vector.VectorEnv:
    """The vector env that capture_env_state pickled, in the state it was in.

    Unpickling runs code named in `state`, so only a checkpoint this user's own run wrote should
    be resumed; dqn_ref only calls this for `resume`, never for `eval`.
    """
    try:
        envs = pickle.loads(state)  # the run's own checkpoint: see the docstring
    except (pickle.UnpicklingError, AttributeError, ImportError, EOFError, TypeError) as error:
        raise DQNRefError(
            f"the checkpoint's environment state does not load here ({type(error).__name__}: "
            f"{error}); resume with the gymnasium version that wrote it"
        ) from error
    if not isinstance(envs, gym.vector.VectorEnv):
        raise DQNRefError("the checkpoint's environment state is not a gymnasium vector env")
    return envs

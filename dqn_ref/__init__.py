"""dqn_ref: a reference DQN; every equation lives in spec/ under an ID that code and tests cite.

The Python API (README, "From Python"):

    import dqn_ref

    config = dqn_ref.get_preset("cartpole").replace(total_steps=20_000)
    result = dqn_ref.train(config, "runs/mine")      # the run folder the CLI writes; a TrainResult
    agent = dqn_ref.load("runs/mine")                # its checkpoint's online network
    action = agent.act(observation)                  # one observation -> one action (int)
    actions = agent.act(observations)                # a batch (N, 4) -> actions (N,)
    agent.play("CartPole-v1", episodes=5)            # raw returns, the run's preprocessing
    agent.evaluate(episodes=10)                      # the final evaluation's protocol
    agent.save_video("cartpole.gif")                 # one episode (pip install 'dqn_ref[video]')
    agent.save_policy("cartpole.pt")                 # one file; dqn_ref.load_policy reads it

`DQNConfig`, `PRESETS` and `get_preset` load at once; `train`, `load` and the classes they return
load torch on first use, so that `python -m dqn_ref.run --help` answers at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.presets import PRESETS, get_preset

if TYPE_CHECKING:
    from pathlib import Path

    from dqn_ref.evaluate import EvalSummary
    from dqn_ref.training.callbacks import Callback, EpisodeEnd, EvaluationEnd, KeepBestPolicy
    from dqn_ref.training.policy import Policy, load_policy
    from dqn_ref.training.saved_agent import SavedAgent, load
    from dqn_ref.training.train import TrainResult

__version__ = "0.1.0"
__all__ = [
    "PRESETS",
    "Callback",
    "DQNConfig",
    "DQNRefError",
    "EpisodeEnd",
    "EvalSummary",
    "EvaluationEnd",
    "KeepBestPolicy",
    "Policy",
    "SavedAgent",
    "TrainResult",
    "get_preset",
    "load",
    "load_policy",
    "resume",
    "train",
]

# The names that need torch, and the module each lives in.
_LAZY = {
    "load": "dqn_ref.training.saved_agent",
    "SavedAgent": "dqn_ref.training.saved_agent",
    "load_policy": "dqn_ref.training.policy",
    "Callback": "dqn_ref.training.callbacks",
    "EpisodeEnd": "dqn_ref.training.callbacks",
    "EvaluationEnd": "dqn_ref.training.callbacks",
    "KeepBestPolicy": "dqn_ref.training.callbacks",
    "Policy": "dqn_ref.training.policy",
    "TrainResult": "dqn_ref.training.train",
    "EvalSummary": "dqn_ref.evaluate",
}


def train(
    config: DQNConfig | str,
    run_dir: Path | str | None = None,
    preset_name: str | None = None,
    progress: bool = False,
    overwrite: bool = False,
    verbose: int = 1,
    *,
    env: str | Callable[..., Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train one agent as `config` says (a DQNConfig, or a preset's name), writing run_dir as
    `python -m dqn_ref.run` does (config.json, metrics.csv, checkpoint.pt, curve.png,
    summary.json; default runs/<env>-<preset>-s<seed>-<time>); `dqn_ref.load(run_dir)` reads
    the agent back.

    `env` replaces the config's environment: an id (gymnasium's `module:EnvId` form too), or a
    callable returning a gymnasium.Env, called once per environment copy, with gymnasium's
    TimeLimit (the config's max_episode_steps) around it; config.json records the callable's
    qualified name as env_id, `callable/<module>.<name>`. `env_kwargs` are passed to
    gymnasium.make (or to the callable) and recorded in the config's env_kwargs.

    A run_dir that already holds a run is refused unless `overwrite`, and one that another
    process is writing is refused. `progress` draws the progress bar; `preset_name` (default:
    the preset's name, else "custom") is recorded in config.json. `verbose=1` prints each
    evaluation's line and the run's notices on stdout, `verbose=0` nothing (warnings still go
    to stderr). `callbacks` (dqn_ref.Callback objects) are called at each training episode's end
    and each evaluation's end; one returning False stops training, and the run ends as any run
    does. An environment, config or callback the run cannot use is refused before anything is
    written."""
    from pathlib import Path

    from dqn_ref.env_source import config_with_env
    from dqn_ref.training.build import resolve_device
    from dqn_ref.training.callbacks import Callbacks
    from dqn_ref.training.preflight import check_run_can_start
    from dqn_ref.training.quiet import output_at
    from dqn_ref.training.run_folder import folder_lock, prepare_run_dir, run_dir_path
    from dqn_ref.training.train import train as train_run

    if isinstance(config, str):
        preset_name = preset_name or config
        config = get_preset(config)
    config = config_with_env(config, env, env_kwargs)
    preset_name = preset_name or "custom"
    Callbacks(callbacks)  # refuses what is not a Callback
    with output_at(verbose):
        check_run_can_start(config, resolve_device(config.device))
        folder = run_dir_path(None if run_dir is None else Path(run_dir), config, preset_name)
        with folder_lock(folder):
            prepare_run_dir(folder, config, preset_name, overwrite)
            return train_run(config, folder, preset_name, progress, callbacks=callbacks)


def resume(
    run_dir: Path | str,
    total_steps: int | None = None,
    progress: bool = False,
    verbose: int = 1,
    *,
    env: Callable[..., Any] | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Continue the run in run_dir from its checkpoint.pt, as `python -m dqn_ref.run resume`
    does (spec/reliability.md#resume): to its own total_steps, or to `total_steps` agent steps,
    a finished run too, as if its config had said so from the start
    (spec/reliability.md#more-steps). `env`: the callable the run's environment was made with,
    where it cannot be imported again (a lambda, a function defined inside another).
    `callbacks` as for train."""
    from pathlib import Path

    from dqn_ref.training.quiet import output_at
    from dqn_ref.training.run_folder import folder_lock
    from dqn_ref.training.train import resume as resume_run

    folder = Path(run_dir)
    with output_at(verbose):
        if not folder.is_dir():  # said by resume itself; the lock would create the folder
            return resume_run(
                folder, progress, env=env, total_steps=total_steps, callbacks=callbacks
            )
        with folder_lock(folder):
            return resume_run(
                folder, progress, env=env, total_steps=total_steps, callbacks=callbacks
            )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dqn_ref' has no attribute {name!r}")

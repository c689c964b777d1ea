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

from typing import TYPE_CHECKING, Any

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.presets import PRESETS, get_preset

if TYPE_CHECKING:
    from pathlib import Path

    from dqn_ref.evaluate import EvalSummary
    from dqn_ref.training.policy import Policy, load_policy
    from dqn_ref.training.saved_agent import SavedAgent, load
    from dqn_ref.training.train import TrainResult

__version__ = "0.1.0"
__all__ = [
    "PRESETS",
    "DQNConfig",
    "DQNRefError",
    "EvalSummary",
    "Policy",
    "SavedAgent",
    "TrainResult",
    "get_preset",
    "load",
    "load_policy",
    "train",
]

# The names that need torch, and the module each lives in.
_LAZY = {
    "load": "dqn_ref.training.saved_agent",
    "SavedAgent": "dqn_ref.training.saved_agent",
    "load_policy": "dqn_ref.training.policy",
    "Policy": "dqn_ref.training.policy",
    "TrainResult": "dqn_ref.training.train",
    "EvalSummary": "dqn_ref.evaluate",
}


def train(
    config: DQNConfig,
    run_dir: Path | str,
    preset_name: str = "custom",
    progress: bool = False,
    overwrite: bool = False,
    verbose: int = 1,
) -> TrainResult:
    """Train one agent as `config` says, writing run_dir as `python -m dqn_ref.run` does
    (config.json, metrics.csv, checkpoint.pt, curve.png, summary.json); `dqn_ref.load(run_dir)`
    reads the agent back. A run_dir that already holds a run is refused unless `overwrite`, and
    one that another process is writing is refused. `progress` draws the progress bar;
    `preset_name` is recorded in config.json. `verbose=1` prints each evaluation's line and the
    run's notices on stdout, `verbose=0` nothing (warnings still go to stderr)."""
    from pathlib import Path

    from dqn_ref.training.quiet import output_at
    from dqn_ref.training.run_folder import folder_lock, prepare_run_dir
    from dqn_ref.training.train import train as train_run

    with output_at(verbose), folder_lock(Path(run_dir)):
        folder = prepare_run_dir(Path(run_dir), config, preset_name, overwrite)
        return train_run(config, folder, preset_name, progress)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dqn_ref' has no attribute {name!r}")

"""The space `tune` searches: for each config field, how a trial samples it, and the preset's own
values written in the space's terms (the first trial is the preset itself)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from dqn_ref.config import DQNConfig

if TYPE_CHECKING:
    import optuna


def hidden_choice(text: str) -> tuple[int, ...]:
    return tuple(int(width) for width in text.split("x"))


# The search space: field -> a function of the trial that samples it. Categorical choices are
# strings or plain numbers so that any storage can hold them; hidden_sizes is written "256x256".
SEARCH_SPACE: dict[str, Callable[[optuna.Trial], Any]] = {
    "learning_rate": lambda t: t.suggest_float("learning_rate", 1e-4, 3e-3, log=True),
    # eq-lr-linear: constant, or decayed to 0 at the end of the --budget-step run.
    "learning_rate_end": lambda t: t.suggest_categorical("learning_rate_end", [None, 0.0]),
    "hidden_sizes": lambda t: hidden_choice(
        t.suggest_categorical("hidden_sizes", ["64x64", "128x128", "256x256"])
    ),
    "batch_size": lambda t: t.suggest_categorical("batch_size", [32, 64, 128]),
    "train_frequency": lambda t: t.suggest_categorical("train_frequency", [1, 2, 4, 8]),
    "num_envs": lambda t: t.suggest_categorical("num_envs", [1, 4, 8]),
    "n_step": lambda t: t.suggest_categorical("n_step", [1, 3, 5]),
    "double_q": lambda t: t.suggest_categorical("double_q", [False, True]),
    "dueling": lambda t: t.suggest_categorical("dueling", [False, True]),
    "layer_norm": lambda t: t.suggest_categorical("layer_norm", [False, True]),
    "loss": lambda t: t.suggest_categorical("loss", ["huber", "mse"]),
    "gamma": lambda t: t.suggest_categorical("gamma", [0.98, 0.99, 0.995]),
    "tau": lambda t: t.suggest_float("tau", 0.002, 0.1, log=True),
    "learning_starts": lambda t: t.suggest_categorical("learning_starts", [500, 1000, 2000]),
    "epsilon_duration": lambda t: t.suggest_int("epsilon_duration", 1000, 10000, step=1000),
    "epsilon_end": lambda t: t.suggest_categorical("epsilon_end", [0.01, 0.05]),
}


def preset_params(config: DQNConfig, fields: Sequence[str]) -> dict[str, Any]:
    """The preset's own values in the search space's terms, to enqueue as the first trial."""
    params: dict[str, Any] = {}
    for name in fields:
        value = getattr(config, name)
        params[name] = "x".join(str(width) for width in value) if name == "hidden_sizes" else value
    return params

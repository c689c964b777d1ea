"""The space `tune` searches, built around the base config (the preset with the flags given), and
the base config's own values in the space's terms (the first trial of a search is the base itself).

SEARCH_SPACE is the space designed for CartPole and reported in docs/cartpole-search.md. Every
preset of every task must be tunable, and a preset's values can lie outside it (the paper's gamma
0.95, Pong's learning_starts 10,000) or not apply to its network (hidden_sizes and layer_norm on
the Nature CNN). Two ways out: clamp the base's values into the space, or widen the space to hold
them. The space is widened, because the first trial is the baseline every later trial is
compared with: clamped, it would be another config reported under the preset's name. So:

- a choice gains the base's value as one more option when it is not one already;
- a range stretches to reach the base's value, and an integer range's step becomes the largest
  divisor of the documented step that lands on it;
- a field that does not apply to the base is left out: hidden_sizes and layer_norm unless the
  network is the MLP (the Nature CNN's layers are fixed, and layer normalisation is an MLP
  option), epsilon_duration unless the epsilon schedule is linear and its length is not a share
  of the run (the exponential one reads epsilon_decay; with epsilon_fraction, eq-eps-fraction,
  the length is that share of total_steps), and tau when the target network is copied whole
  (tau = 1, every target_update_interval steps), which a sampled tau below 1 would turn into a
  soft update.

For the `cartpole` preset the space is SEARCH_SPACE exactly. For Pong it holds CartPole's scales
beside the preset's own values (learning_starts 500, 1,000, 2,000 and 10,000): the space says
what was searched; it does not pretend to be one designed for Atari.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dqn_ref.config import DQNConfig

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Choice:
    """One of `options`: strings, plain numbers, booleans or None, which any storage holds."""

    options: tuple[Any, ...]


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    step: int = 1


Dimension = Choice | FloatRange | IntRange

# hidden_sizes is written "256x256" in the space (a string any storage holds).
SEARCH_SPACE: dict[str, Dimension] = {
    "learning_rate": FloatRange(1e-4, 3e-3, log=True),
    # eq-lr-linear: constant, or decayed to 0 at the end of the --budget-step run.
    "learning_rate_end": Choice((None, 0.0)),
    "hidden_sizes": Choice(("64x64", "128x128", "256x256")),
    "batch_size": Choice((32, 64, 128)),
    "train_frequency": Choice((1, 2, 4, 8)),
    "num_envs": Choice((1, 4, 8)),
    "n_step": Choice((1, 3, 5)),
    "double_q": Choice((False, True)),
    "dueling": Choice((False, True)),
    "layer_norm": Choice((False, True)),
    "loss": Choice(("huber", "mse")),
    "gamma": Choice((0.98, 0.99, 0.995)),
    "tau": FloatRange(0.002, 0.1, log=True),
    "learning_starts": Choice((500, 1000, 2000)),
    "epsilon_duration": IntRange(1000, 10000, step=1000),
    "epsilon_end": Choice((0.01, 0.05)),
}


def applies(name: str, config: DQNConfig) -> bool:
    """Whether searching field `name` means something for `config` (the module docstring says
    why each exception is one)."""
    if name in ("hidden_sizes", "layer_norm"):
        return config.network == "mlp"
    if name == "epsilon_duration":
        return config.epsilon_schedule == "linear" and config.epsilon_fraction is None
    if name == "tau":
        return config.tau < 1.0
    return True


def space_value(name: str, value: Any) -> Any:
    """A config value in the space's terms: hidden sizes (256, 256) are "256x256"."""
    return "x".join(str(width) for width in value) if name == "hidden_sizes" else value


def config_value(name: str, value: Any) -> Any:
    """The inverse of space_value."""
    return tuple(int(width) for width in value.split("x")) if name == "hidden_sizes" else value


def same_option(option: Any, value: Any) -> bool:
    """Equal and of the same kind: True is not the choice 1, nor 0.0 the choice None."""
    return type(option) is type(value) and option == value


def widened(dimension: Dimension, value: Any) -> Dimension:
    """`dimension`, stretched just enough to hold `value`."""
    if isinstance(dimension, Choice):
        if any(same_option(option, value) for option in dimension.options):
            return dimension
        return Choice((*dimension.options, value))
    if isinstance(dimension, FloatRange):
        return replace(dimension, low=min(dimension.low, value), high=max(dimension.high, value))
    low, high = min(dimension.low, value), max(dimension.high, value)
    return IntRange(low, high, math.gcd(dimension.step, value - low, high - low))


def search_space(base: DQNConfig, fixed: frozenset[str]) -> dict[str, Dimension]:
    """The space a search around `base` samples: SEARCH_SPACE without the fields given as flags
    (`fixed`) or that do not apply to `base`, each widened to hold `base`'s value."""
    return {
        name: widened(dimension, space_value(name, getattr(base, name)))
        for name, dimension in SEARCH_SPACE.items()
        if name not in fixed and applies(name, base)
    }


def suggest(trial: optuna.Trial, name: str, dimension: Dimension) -> Any:
    """The trial's value of field `name`, in the config's terms."""
    if isinstance(dimension, Choice):
        return config_value(name, trial.suggest_categorical(name, dimension.options))
    if isinstance(dimension, FloatRange):
        return trial.suggest_float(name, dimension.low, dimension.high, log=dimension.log)
    return trial.suggest_int(name, dimension.low, dimension.high, step=dimension.step)


def distribution(dimension: Dimension) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution a trial records for `dimension`."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dimension, Choice):
        return CategoricalDistribution(dimension.options)
    if isinstance(dimension, FloatRange):
        return FloatDistribution(dimension.low, dimension.high, log=dimension.log)
    return IntDistribution(dimension.low, dimension.high, step=dimension.step)


def sample_config(
    trial: optuna.Trial, base: DQNConfig, space: Mapping[str, Dimension]
) -> DQNConfig:
    values = {name: suggest(trial, name, dim) for name, dim in space.items()}
    # A preset that starts learning at once (RL Zoo's learning_starts 0 for Acrobot) widens the
    # learning_starts choices with 0, which n-step returns cannot start from (DQNConfig refuses
    # it): such a point starts at the n-step window instead, the earliest it can.
    n_step = values.get("n_step", base.n_step)
    window = n_step * values.get("num_envs", base.num_envs)
    if n_step > 1 and values.get("learning_starts", base.learning_starts) < window:
        values["learning_starts"] = window
    return base.replace(**values)


def preset_params(base: DQNConfig, space: Mapping[str, Dimension]) -> dict[str, Any]:
    """The base config's own values in the space's terms, to enqueue as the first trial."""
    return {name: space_value(name, getattr(base, name)) for name in space}

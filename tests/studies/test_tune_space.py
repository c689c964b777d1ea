"""The space tune searches: built around each preset so that the preset itself, the first trial of
every search, lies in it, and every point of it is a config DQNConfig accepts."""

from __future__ import annotations

from typing import Any

import pytest

from dqn_ref.config import DQNConfig
from dqn_ref.presets import PRESETS, cartpole
from dqn_ref.studies.tune_space import (
    SEARCH_SPACE,
    Choice,
    FloatRange,
    IntRange,
    distribution,
    preset_params,
    sample_config,
    search_space,
    widened,
)

optuna = pytest.importorskip("optuna")

RANDOM_POINTS = 40  # random configs drawn from each preset's space


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_presets_own_values_lie_in_its_space(preset: str) -> None:
    """The first trial of a search is the preset: each of its values must be a point of the
    space (Optuna refuses an enqueued value outside it, as it did the paper's gamma 0.95)."""
    base = PRESETS[preset]
    space = search_space(base, frozenset())
    for name, value in preset_params(base, space).items():
        dist = distribution(space[name])
        assert dist._contains(dist.to_internal_repr(value)), (preset, name, value)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_point_of_each_presets_space_is_a_valid_config(preset: str) -> None:
    """Random points of the space, and the enqueued preset itself, build configs that DQNConfig
    accepts (layer_norm on the Nature CNN would not be one) and that round-trip to the preset."""
    base = PRESETS[preset]
    space = search_space(base, frozenset())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(preset_params(base, space))
    first = sample_config(study.ask(), base, space)
    assert first == base
    for _ in range(RANDOM_POINTS):
        config = sample_config(study.ask(), base, space)
        assert isinstance(config, DQNConfig)


@pytest.mark.parametrize(
    ("preset", "left_out"),
    [
        ("cartpole", set()),
        ("paper", {"epsilon_duration"}),  # its epsilon decays exponentially
        ("pong", {"hidden_sizes", "layer_norm", "tau"}),  # Nature CNN; hard target copies
        ("book", {"hidden_sizes", "layer_norm", "tau", "epsilon_duration"}),
        # hard target copies; epsilon's length is a share of the run (eq-eps-fraction)
        ("acrobot", {"tau", "epsilon_duration"}),
        ("mountaincar", {"tau", "epsilon_duration"}),
    ],
)
def test_fields_that_do_not_apply_to_the_preset_are_left_out(
    preset: str, left_out: set[str]
) -> None:
    space = search_space(PRESETS[preset], frozenset())
    assert set(SEARCH_SPACE) - set(space) == left_out


def test_the_cartpole_preset_searches_the_documented_space_and_flags_are_held_fixed() -> None:
    """Every cartpole value is already in SEARCH_SPACE, so widening adds nothing: the search
    reported in docs/cartpole-search.md is the one the command runs."""
    assert search_space(cartpole, frozenset()) == SEARCH_SPACE
    fixed = search_space(cartpole, frozenset({"gamma", "num_envs"}))
    assert set(SEARCH_SPACE) - set(fixed) == {"gamma", "num_envs"}


@pytest.mark.parametrize(
    ("dimension", "value", "expected"),
    [
        # A value already a choice leaves it as it is; True is not the choice 1.
        (Choice((0.98, 0.99)), 0.99, Choice((0.98, 0.99))),
        (Choice((0.98, 0.99)), 0.95, Choice((0.98, 0.99, 0.95))),
        (Choice((1, 4)), True, Choice((1, 4, True))),
        (Choice((None, 0.0)), 0.0, Choice((None, 0.0))),
        # A range stretches to the value, at either end.
        (FloatRange(1e-4, 3e-3, log=True), 1e-5, FloatRange(1e-5, 3e-3, log=True)),
        (FloatRange(0.002, 0.1), 0.5, FloatRange(0.002, 0.5)),
        # 250,000 - 1,000 is a multiple of 1,000: the step stays.
        (IntRange(1000, 10000, 1000), 250_000, IntRange(1000, 250_000, 1000)),
        # 9,500 - 1,000 = 8,500 and 10,000 - 1,000 = 9,000: gcd(1,000, 8,500, 9,000) = 500.
        (IntRange(1000, 10000, 1000), 9500, IntRange(1000, 10000, 500)),
        # Below the range: low = 300, and gcd(1,000, 0, 10,000 - 300 = 9,700) = 100.
        (IntRange(1000, 10000, 1000), 300, IntRange(300, 10000, 100)),
    ],
)
def test_a_dimension_is_widened_just_enough_to_hold_the_value(
    dimension: Any, value: Any, expected: Any
) -> None:
    assert widened(dimension, value) == expected
    dist = distribution(expected)
    assert dist._contains(dist.to_internal_repr(value))

"""bench/sb3_dqn.py: SB3's keyword arguments for a dqn_ref config, and RL Zoo's presets. The
acrobot, lunarlander and mountaincar presets are RL Zoo's, so matching them to SB3 gives back the
Zoo's hyperparams/dqn.yml entries, key by key (spec/presets.md#control)."""

from __future__ import annotations

import inspect

import pytest
import torch

from bench.sb3_dqn import RL_ZOO, matched_kwargs, sb3_available
from dqn_ref.presets import PRESETS

ZOO_PRESETS = ["acrobot", "lunarlander", "mountaincar"]


@pytest.mark.parametrize("name", ZOO_PRESETS)
def test_rl_zoo_presets_match_back_to_the_zoos_own_keys(name: str) -> None:
    """eq-update-rounds, eq-eps-fraction: the preset, run through matched_kwargs at its own
    length, gives RL Zoo's train_freq (in steps of the one-copy vector env), gradient_steps,
    exploration_fraction and every other key the Zoo sets, with the Zoo's n_timesteps."""
    zoo_steps, zoo = RL_ZOO[name]
    preset = PRESETS[name]
    assert preset.total_steps == zoo_steps
    matched = matched_kwargs(preset, preset.total_steps)
    for key, value in zoo.items():
        if key == "train_freq":  # SB3 reads a bare count as (count, "step")
            assert matched[key] == (value, "step")
        elif key == "policy_kwargs":
            assert matched[key]["net_arch"] == value["net_arch"]
        else:
            assert matched[key] == value, key
    assert preset.random_warmup  # SB3 always acts at random until learning_starts
    # The schedule is a share of the run, so a longer run keeps the Zoo's exploration_fraction.
    longer = preset.replace(total_steps=2 * zoo_steps)
    assert (
        matched_kwargs(longer, longer.total_steps)["exploration_fraction"]
        == zoo["exploration_fraction"]
    )


@pytest.mark.skipif(not sb3_available(), reason="the peers extra is absent")
@pytest.mark.parametrize("name", ZOO_PRESETS)
def test_what_rl_zoo_leaves_out_is_sb3s_default(name: str) -> None:
    """The keys the Zoo does not set (tau, exploration_initial_eps, max_grad_norm, the optimiser)
    come out as SB3's DQN defaults, read from its signature."""
    from stable_baselines3 import DQN

    defaults = {
        key: parameter.default
        for key, parameter in inspect.signature(DQN.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    matched = matched_kwargs(PRESETS[name], PRESETS[name].total_steps)
    for key in set(matched) - set(RL_ZOO[name][1]) - {"policy_kwargs"}:
        assert matched[key] == defaults[key], key
    adam = inspect.signature(torch.optim.Adam.__init__).parameters
    optimizer = matched["policy_kwargs"]
    assert optimizer["optimizer_class"] is torch.optim.Adam  # SB3's DQNPolicy default
    for key, value in optimizer["optimizer_kwargs"].items():
        assert value == adam[key].default, key


def test_rounds_that_split_a_vector_step_are_refused() -> None:
    """SB3's rounds are whole steps of its vector env: a round of 2 agent steps over 4 copies has
    no SB3 equivalent; one of 8 is train_freq 2."""
    config = PRESETS["acrobot"].replace(num_envs=4, train_frequency=2)
    with pytest.raises(ValueError, match="rounds of updates that end part-way"):
        matched_kwargs(config, config.total_steps)
    assert matched_kwargs(config.replace(train_frequency=8), 100)["train_freq"] == (2, "step")

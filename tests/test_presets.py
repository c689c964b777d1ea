"""Presets and config validation. spec/presets.md's table must agree with dqn_ref/presets.py."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError
from dqn_ref.presets import ENV_PRESETS, PRESETS, get_preset, paper, preset_for

PRESETS_PAGE = Path(__file__).resolve().parent.parent / "spec" / "presets.md"


def presets_tables() -> list[tuple[list[str], dict[str, list[str]]]]:
    """Each table of spec/presets.md: (preset names of its columns, field -> cells)."""
    tables = []
    lines = PRESETS_PAGE.read_text().splitlines()
    for start, line in enumerate(lines):
        if not line.startswith("| field |"):
            continue
        header = [cell.strip() for cell in line.strip("|").split("|")]
        rows = {}
        for row in lines[start + 2 :]:
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            if not row.startswith("| `"):
                break
            rows[cells[0].strip("`")] = [cell.strip("`") for cell in cells[1:]]
        tables.append(([name for name in header[1:] if name in PRESETS], rows))
    return tables


def test_presets_page_tables_every_field_of_every_preset() -> None:
    tables = presets_tables()
    assert sorted(name for columns, _ in tables for name in columns) == sorted(PRESETS)
    fields = {f.name for f in dataclasses.fields(DQNConfig)}
    for columns, rows in tables:
        assert set(rows) == fields, f"the {columns} table lists other fields than DQNConfig's"
        for field_name, cells in rows.items():
            for column, preset_name in enumerate(columns):
                assert cells[column] == str(getattr(PRESETS[preset_name], field_name)), (
                    f"spec/presets.md says {preset_name}.{field_name} = {cells[column]}, the "
                    f"code {getattr(PRESETS[preset_name], field_name)}"
                )


def test_paper_preset_has_the_seed_papers_constants() -> None:
    """Seed 000, section 8: EPISODES 1000, MEMORY_SIZE 1000, BATCH_SIZE 128, GAMMA 0.95,
    EPS_START 0.9, EPS_END 0.1, EPS_DECAY 10, TARGET_UPDATE 1000, TAU 0.005, LR 1e-4, AdamW with
    amsgrad, smooth_l1_loss, clip_grad_value_ 5, 128-128 MLP, done = terminated or truncated."""
    assert (paper.total_episodes, paper.buffer_size, paper.batch_size, paper.gamma) == (
        1000,
        1000,
        128,
        0.95,
    )
    assert (
        paper.epsilon_schedule,
        paper.epsilon_start,
        paper.epsilon_end,
        paper.epsilon_decay,
    ) == ("exponential", 0.9, 0.1, 10.0)
    assert (paper.target_hard_copy_episodes, paper.tau, paper.target_update_interval) == (
        1000,
        0.005,
        1,
    )
    assert (paper.optimizer, paper.learning_rate, paper.amsgrad, paper.weight_decay) == (
        "adamw",
        1e-4,
        True,
        0.01,
    )
    assert (paper.loss, paper.huber_delta, paper.max_grad_value, paper.max_grad_norm) == (
        "huber",
        1.0,
        5.0,
        None,
    )
    assert paper.hidden_sizes == (128, 128) and paper.learning_starts == 128
    assert paper.truncation_as_terminal and not paper.reward_clip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"gamma": 1.5}, "gamma=1.5 must lie in [0, 1]"),
        ({"gamma": -0.1}, "gamma=-0.1 must lie in [0, 1]"),
        ({"tau": 0.0}, "tau=0.0 must lie in (0, 1]"),
        ({"tau": 1.5}, "tau=1.5 must lie in (0, 1]"),
        ({"buffer_size": 10, "batch_size": 32}, "buffer_size=10 is smaller than batch_size=32"),
        ({"total_steps": -5}, "total_steps=-5 must be positive"),
        ({"learning_rate": 0.0}, "learning_rate=0.0 must be positive"),
        ({"epsilon_end": 2.0}, "epsilon_start and epsilon_end must lie in [0, 1]"),
        ({"max_grad_norm": -1.0}, "max_grad_norm=-1.0 must be positive or none"),
        ({"hidden_sizes": ()}, "hidden_sizes must be positive widths"),
    ],
)
def test_invalid_values_are_refused_with_the_rule_they_break(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(DQNRefError, match=re.escape(message)):
        DQNConfig().replace(**changes)


def test_unknown_field_and_unknown_preset_are_refused() -> None:
    with pytest.raises(DQNRefError, match="unknown config field 'learning_rat'"):
        DQNConfig().replace(learning_rat=1e-3)
    with pytest.raises(DQNRefError, match="unknown preset 'fast'; choose one of: cartpole, paper"):
        get_preset("fast", "cartpole")


def test_config_round_trips_through_its_json_form() -> None:
    for config in PRESETS.values():
        fields = dataclasses.asdict(config)
        assert DQNConfig(**{**fields, "hidden_sizes": tuple(fields["hidden_sizes"])}) == config


def test_book_preset_has_the_chapters_constants() -> None:
    """Seed 004: B_S 64, LR 1e-4 (Adam), G 0.99, EPS_STRT 1.0, EPS_FINL 0.005, EPS_DECAY 100000,
    MEM_CAP 20000, INIT_LEARN 10000, TGT_UPD_FRQ 1000, N_EPDS 2000, MSE, an update a step."""
    book = get_preset("book", "pong")
    assert (book.batch_size, book.optimizer, book.learning_rate, book.gamma) == (
        64,
        "adam",
        1e-4,
        0.99,
    )
    assert (book.epsilon_schedule, book.epsilon_start, book.epsilon_end, book.epsilon_decay) == (
        "exponential",
        1.0,
        0.005,
        100_000.0,
    )
    assert (book.buffer_size, book.learning_starts, book.target_update_interval) == (
        20_000,
        10_000,
        1_000,
    )
    assert (book.total_episodes, book.loss, book.train_frequency, book.tau) == (
        2_000,
        "mse",
        1,
        1.0,
    )


def test_nature_preset_has_extended_data_table_1() -> None:
    """Mnih et al. (2015): minibatch 32, replay 1M, target every 10k updates (x4 agent steps),
    gamma 0.99, update every 4, RMSProp 2.5e-4 (0.95, 0.01), epsilon 1 -> 0.1 over 1M, replay
    start 50k, no-op max 30, 50M frames, evaluation at epsilon 0.05 for 5 minutes."""
    nature = get_preset("nature", "pong")
    assert (nature.batch_size, nature.buffer_size, nature.target_update_interval) == (
        32,
        1_000_000,
        40_000,
    )
    assert (nature.gamma, nature.train_frequency, nature.learning_starts, nature.noop_max) == (
        0.99,
        4,
        50_000,
        30,
    )
    assert (nature.optimizer, nature.learning_rate, nature.rmsprop_alpha) == (
        "rmsprop",
        2.5e-4,
        0.95,
    )
    assert nature.optimizer_eps == 0.01 and nature.network == "nature_cnn"
    assert (nature.epsilon_start, nature.epsilon_end, nature.epsilon_duration) == (
        1.0,
        0.1,
        1_000_000,
    )
    assert nature.total_steps * 4 == 50_000_000 and nature.terminal_on_life_loss
    assert (nature.eval_epsilon, nature.eval_max_episode_steps * 4) == (0.05, 18_000)


def test_rl_zoo_presets_have_the_zoos_numbers_in_our_fields() -> None:
    """RL Zoo's hyperparams/dqn.yml, Acrobot-v1 and LunarLander-v3 (the same numbers): n_timesteps
    1e5, lr 6.3e-4, batch 128, buffer 50000, learning_starts 0, gamma 0.99, target every 250,
    train_freq 4 with gradient_steps -1 (4 updates in a row every 4 steps), exploration 0.12 of
    the run to 0.1, net_arch [256, 256]. MountainCar-v0: 1.2e5 steps, lr 4e-3, batch 128, buffer
    10000, starts 1000, gamma 0.98, target every 600, 8 updates in a row every 16 steps, 0.2 of
    the run to 0.07. SB3 acts uniformly at random until learning_starts (eq-eps-warmup)."""
    for name, env_id in [("acrobot", "Acrobot-v1"), ("lunarlander", "LunarLander-v3")]:
        zoo = get_preset(name, "control")
        assert zoo.env_id == env_id and zoo.hidden_sizes == (256, 256)
        assert (zoo.total_steps, zoo.learning_rate, zoo.batch_size, zoo.buffer_size) == (
            100_000,
            6.3e-4,
            128,
            50_000,
        )
        assert (zoo.learning_starts, zoo.gamma, zoo.target_update_interval, zoo.tau) == (
            0,
            0.99,
            250,
            1.0,
        )
        assert (zoo.train_frequency, zoo.gradient_steps) == (4, -1)  # eq-update-rounds
        assert (zoo.epsilon_end, zoo.epsilon_fraction) == (0.1, 0.12)
    car = get_preset("mountaincar", "control")
    assert car.env_id == "MountainCar-v0" and car.hidden_sizes == (256, 256)
    assert (car.total_steps, car.learning_rate, car.batch_size, car.buffer_size) == (
        120_000,
        4e-3,
        128,
        10_000,
    )
    assert (car.learning_starts, car.gamma, car.target_update_interval) == (1_000, 0.98, 600)
    assert (car.train_frequency, car.gradient_steps) == (16, 8)
    assert (car.epsilon_end, car.epsilon_fraction) == (0.07, 0.2)
    for zoo in (get_preset("control"), car):
        # SB3's DQN: Adam, Huber, norm clip 10, plain one-step targets, no reward clipping.
        assert (zoo.optimizer, zoo.loss, zoo.max_grad_norm, zoo.n_step) == (
            "adam",
            "huber",
            10.0,
            1,
        )
        assert not (zoo.double_q or zoo.dueling or zoo.layer_norm or zoo.reward_clip)
        assert zoo.random_warmup and zoo.epsilon_start == 1.0
        assert zoo.solved_threshold is None  # the environment's own


def test_each_environments_own_preset_trains_that_environment() -> None:
    for env_id, name in ENV_PRESETS.items():
        assert PRESETS[name].env_id == env_id


@pytest.mark.parametrize(
    ("task", "env_id", "preset"),
    [
        ("control", "Acrobot-v1", "acrobot"),
        ("control", "MountainCar-v0", "mountaincar"),
        ("control", "LunarLander-v3", "lunarlander"),
        ("control", "CartPole-v1", "cartpole"),
        ("control", "CartPole-v0", "control"),
        ("control", None, "control"),
        ("atari", "ALE/Breakout-v5", "atari"),
        ("atari", "ALE/Pong-v5", "pong"),
        ("cartpole", "Acrobot-v1", "cartpole"),
        ("cartpole", None, "cartpole"),
        ("pong", "ALE/Breakout-v5", "pong"),
    ],
)
def test_a_task_picks_the_environments_own_preset_else_its_default(
    task: str, env_id: str | None, preset: str
) -> None:
    assert preset_for(task, env_id) == preset


def test_the_atari_preset_is_pong_without_pongs_threshold() -> None:
    atari = get_preset("atari", "atari")
    assert atari.solved_threshold is None and get_preset("pong").solved_threshold == 18.0
    assert atari.replace(solved_threshold=18.0) == get_preset("pong")

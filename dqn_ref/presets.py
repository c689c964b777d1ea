"""Named configs. Each is a `replace` of DQNConfig's defaults; spec/presets.md tables every value
beside its source; tests/test_presets.py keeps that table and this file in step."""

from __future__ import annotations

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError

# The default CartPole preset: the seed paper's DQN (MLP, replay, target net, Huber, epsilon-greedy)
# with its defects fixed and its hyperparameters chosen for a reliable, fast solve.
# spec/presets.md#cartpole gives the reason for every value.
cartpole = DQNConfig(
    env_id="CartPole-v1",
    num_envs=4,
    total_steps=50_000,
    hidden_sizes=(256, 256),
    optimizer="adam",
    learning_rate=1e-3,
    loss="huber",
    max_grad_norm=10.0,
    buffer_size=50_000,
    batch_size=64,
    learning_starts=1_000,
    train_frequency=4,
    gamma=0.99,
    reward_clip=True,
    truncation_as_terminal=False,
    target_update_interval=1,
    tau=0.005,
    epsilon_schedule="linear",
    epsilon_start=1.0,
    epsilon_end=0.01,
    epsilon_duration=5_000,
    eval_interval=1_000,
)

# The replication paper (seeds/000), section 8 "CODE", faithfully: same constants, same update
# order, its exponential epsilon with a 10-step time constant, its soft update every step plus a
# hard copy after episode 0 (e % TARGET_UPDATE == 0 with TARGET_UPDATE = 1000 episodes), and its
# two defects kept on purpose: time-limit truncation masks the bootstrap, and rewards are not
# clipped. Only the API differs: gymnasium 1.x instead of gym < 0.26.
paper = DQNConfig(
    env_id="CartPole-v1",
    total_steps=500_000,  # a cap only: 1000 episodes end first (at most 500 steps each)
    total_episodes=1_000,
    hidden_sizes=(128, 128),
    optimizer="adamw",
    learning_rate=1e-4,
    weight_decay=0.01,  # torch.optim.AdamW's default, which the paper leaves in place
    amsgrad=True,
    loss="huber",  # smooth_l1_loss, i.e. Huber with delta = 1
    huber_delta=1.0,
    max_grad_value=5.0,
    max_grad_norm=None,
    buffer_size=1_000,
    batch_size=128,
    learning_starts=128,  # optimize_model() returns early until the deque holds BATCH_SIZE
    train_frequency=1,
    gamma=0.95,
    reward_clip=False,
    truncation_as_terminal=True,
    target_update_interval=1,
    tau=0.005,
    target_hard_copy_episodes=1_000,
    epsilon_schedule="exponential",
    epsilon_start=0.9,
    epsilon_end=0.1,
    epsilon_decay=10.0,
)

PRESETS: dict[str, DQNConfig] = {"cartpole": cartpole, "paper": paper}

# Which presets each CLI task accepts, the first being the task's default.
TASK_PRESETS: dict[str, tuple[str, ...]] = {"cartpole": ("cartpole", "paper")}


def get_preset(name: str, task: str | None = None) -> DQNConfig:
    """The preset called `name`, or a one-line DQNRefError listing the known ones."""
    allowed = TASK_PRESETS[task] if task is not None else tuple(PRESETS)
    if name not in allowed:
        raise DQNRefError(f"unknown preset {name!r}; choose one of: {', '.join(allowed)}")
    return PRESETS[name]

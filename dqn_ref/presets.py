"""Named configs. Each is a `replace` of DQNConfig's defaults; spec/presets.md tables every value
beside its source; tests/test_presets.py keeps that table and this file in step."""

from __future__ import annotations

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError

# The default CartPole preset: the seed paper's DQN (MLP, replay, target net, Huber, epsilon-greedy)
# with its defects fixed, Double DQN, a dueling head, 5-step returns and layer normalisation, and
# its hyperparameters found by `python -m dqn_ref.run tune cartpole` for a fast, stable solve.
# spec/presets.md#cartpole gives the reason for every value.
cartpole = DQNConfig(
    env_id="CartPole-v1",
    num_envs=8,
    total_steps=40_000,
    hidden_sizes=(256, 256),
    dueling=True,
    layer_norm=True,
    optimizer="adam",
    learning_rate=2.8e-3,
    learning_rate_end=0.0,
    loss="huber",
    max_grad_norm=10.0,
    buffer_size=50_000,
    batch_size=128,
    learning_starts=1_000,
    train_frequency=8,
    gamma=0.995,
    n_step=5,
    double_q=True,
    reward_clip=True,
    truncation_as_terminal=False,
    target_update_interval=1,
    tau=0.0091,
    epsilon_schedule="linear",
    epsilon_start=1.0,
    epsilon_end=0.01,
    epsilon_duration=9_000,
    eval_interval=1_000,
    stop_when_solved=True,
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

# Any Atari game (spec/presets.md#atari): the Nature pipeline and network with a smaller replay,
# a faster exploration decay and more updates per step, aimed at one GPU; tuned on Pong, whose
# preset below is this one with Pong's solved threshold. Evaluation follows Nature's protocol
# (spec/evaluation.md#atari): epsilon 0.05, 5-minute cap.
atari = DQNConfig(
    env_id="ALE/Pong-v5",
    num_envs=8,
    total_steps=2_000_000,
    torch_threads=1,  # safe on a busy machine: all threads ran 6x slower with a core taken
    network="nature_cnn",
    optimizer="adam",
    learning_rate=1e-4,
    optimizer_eps=1.5e-4,
    loss="huber",
    max_grad_norm=10.0,
    buffer_size=100_000,
    batch_size=32,
    learning_starts=10_000,
    train_frequency=2,
    gamma=0.99,
    reward_clip=True,
    target_update_interval=2_000,
    tau=1.0,
    epsilon_schedule="linear",
    epsilon_start=1.0,
    epsilon_end=0.01,
    epsilon_duration=250_000,
    noop_max=30,
    eval_interval=100_000,
    eval_episodes=10,
    eval_epsilon=0.05,
    final_eval_episodes=30,
    eval_max_episode_steps=4_500,  # 18,000 frames: Nature's 5 minutes at 60 Hz
)

# The default Pong preset (spec/presets.md#pong): the atari preset on Pong, which gymnasium gives
# no reward threshold; 18 is a won game by a margin of 18 points of 21.
pong = atari.replace(solved_threshold=18.0)

# Pong on a laptop CPU (spec/presets.md#pong-cpu): the pong preset with the update made cheap
# (bf16 autocast; adaptive threads, every core while that is faster and one thread once another
# process holds a core; the ALE stepping while the update runs) and spent where it teaches most
# (3-step returns, Double DQN, the dueling head, one update per 4 agent steps, a short exploration
# phase ending at the evaluation's epsilon, so that the policy learns to recover from the random
# actions it is judged with).
pong_cpu = pong.replace(
    total_steps=650_000,  # about an hour of a quiet 2-core CPU
    torch_threads=-1,
    overlap_env_step=True,
    precision="bfloat16",
    dueling=True,
    double_q=True,
    n_step=3,
    train_frequency=4,
    epsilon_end=0.05,
    epsilon_duration=100_000,
    eval_interval=50_000,
)

# The book chapter (seeds/004): B_S=64, LR=1e-4 with Adam, G=0.99, EPS_STRT=1.0, EPS_FINL=0.005,
# EPS_DECAY=100000 (exponential, per agent step), MEM_CAP=20000, INIT_LEARN=10000, TGT_UPD_FRQ=1000,
# N_EPDS=2000, squared TD error, one update per step, no no-op starts. Its wrappers are replaced
# by the same ale-py pipeline as the other presets (spec/presets.md#book says what differs).
book = pong.replace(
    num_envs=1,
    total_steps=20_000_000,  # a cap only: 2000 episodes end first
    total_episodes=2_000,
    optimizer_eps=1e-8,
    loss="mse",
    max_grad_norm=None,
    buffer_size=20_000,
    batch_size=64,
    learning_starts=10_000,
    train_frequency=1,
    target_update_interval=1_000,
    epsilon_schedule="exponential",
    epsilon_start=1.0,
    epsilon_end=0.005,
    epsilon_decay=100_000.0,
    noop_max=0,
)

# Mnih et al. (2015), Extended Data Table 1 and Methods: RMSProp 2.5e-4 (squared-gradient
# momentum 0.95, min squared gradient 0.01), error clipping to [-1, 1] (Huber, delta 1), replay
# 1M, replay start 50k, update every 4 steps, target every 10,000 updates (40,000 agent steps),
# epsilon 1 -> 0.1 over 1M steps, 50M frames (12.5M agent steps), life loss terminal in training.
nature = pong.replace(
    num_envs=1,
    total_steps=12_500_000,
    optimizer="rmsprop",
    learning_rate=2.5e-4,
    optimizer_eps=0.01,
    rmsprop_alpha=0.95,
    loss="huber",
    huber_delta=1.0,
    max_grad_norm=None,
    buffer_size=1_000_000,
    batch_size=32,
    learning_starts=50_000,
    train_frequency=4,
    target_update_interval=40_000,
    epsilon_schedule="linear",
    epsilon_start=1.0,
    epsilon_end=0.1,
    epsilon_duration=1_000_000,
    terminal_on_life_loss=True,
    eval_interval=250_000,
)

# Any Gymnasium environment with discrete actions and vector observations
# (spec/presets.md#control): RL Baselines3 Zoo's DQN hyperparameters for Acrobot-v1, which are
# also its LunarLander-v3 ones (hyperparams/dqn.yml, "Tuned"), field by field in SB3's schedule:
# 4 updates in a row after every 4 agent steps (train_freq 4, gradient_steps -1:
# eq-update-rounds), uniformly random actions until learning_starts (eq-eps-warmup; none here,
# as learning_starts is 0), epsilon reaching its end after 0.12 of the run (exploration_fraction:
# eq-eps-fraction); SB3's defaults for what the Zoo leaves out (Adam, Huber, gradient norm 10,
# hard target copies, epsilon from 1, no reward clipping).
control = DQNConfig(
    env_id="Acrobot-v1",
    num_envs=1,
    total_steps=100_000,
    hidden_sizes=(256, 256),
    optimizer="adam",
    learning_rate=6.3e-4,
    loss="huber",
    max_grad_norm=10.0,
    buffer_size=50_000,
    batch_size=128,
    learning_starts=0,
    train_frequency=4,
    gradient_steps=-1,
    gamma=0.99,
    reward_clip=False,
    target_update_interval=250,
    tau=1.0,
    epsilon_schedule="linear",
    epsilon_start=1.0,
    epsilon_end=0.1,
    epsilon_fraction=0.12,
    epsilon_duration=12_000,  # unused while epsilon_fraction is set: 0.12 x 100,000
    random_warmup=True,
    eval_interval=5_000,
)

# RL Zoo's Acrobot-v1 and LunarLander-v3 presets are the control preset (spec/presets.md#control).
acrobot = control
lunarlander = control.replace(env_id="LunarLander-v3")

# RL Zoo's MountainCar-v0 preset (hyperparams/dqn.yml, "Tuned"): 8 updates in a row after every 16
# agent steps once more than 1,000 are stored, uniformly random actions for those first 1,000,
# epsilon reaching 0.07 after 0.2 of the run.
mountaincar = control.replace(
    env_id="MountainCar-v0",
    total_steps=120_000,
    learning_rate=4e-3,
    buffer_size=10_000,
    batch_size=128,
    learning_starts=1_000,
    train_frequency=16,
    gradient_steps=8,
    gamma=0.98,
    target_update_interval=600,
    epsilon_end=0.07,
    epsilon_fraction=0.2,
    epsilon_duration=24_000,  # unused while epsilon_fraction is set: 0.2 x 120,000
)

PRESETS: dict[str, DQNConfig] = {
    "cartpole": cartpole,
    "paper": paper,
    "pong": pong,
    "pong-cpu": pong_cpu,
    "book": book,
    "nature": nature,
    "atari": atari,
    "control": control,
    "acrobot": acrobot,
    "mountaincar": mountaincar,
    "lunarlander": lunarlander,
}

# Which presets each CLI task accepts, the first being the task's default. The control and atari
# tasks train any environment of their kind (--env-id); without --preset, an environment with a
# preset of its own (ENV_PRESETS) in the task gets it, any other the task's first (preset_for).
TASK_PRESETS: dict[str, tuple[str, ...]] = {
    "cartpole": ("cartpole", "paper"),
    "pong": ("pong", "pong-cpu", "book", "nature"),
    "control": ("control", "acrobot", "mountaincar", "lunarlander", "cartpole", "paper"),
    "atari": ("atari", "pong", "pong-cpu", "book", "nature"),
}


# Each environment's own preset: the one a task picks for it when no --preset is named.
ENV_PRESETS: dict[str, str] = {
    "CartPole-v1": "cartpole",
    "Acrobot-v1": "acrobot",
    "MountainCar-v0": "mountaincar",
    "LunarLander-v3": "lunarlander",
    "ALE/Pong-v5": "pong",
}


def preset_for(task: str, env_id: str | None) -> str:
    """The preset a task uses when none is named: env_id's own preset where the task has it
    (acrobot for Acrobot-v1 under control), else the task's default (its first)."""
    own = ENV_PRESETS.get(env_id or "")
    return own if own in TASK_PRESETS[task] else TASK_PRESETS[task][0]


def get_preset(name: str, task: str | None = None) -> DQNConfig:
    """The preset called `name`, or a one-line DQNRefError listing the known ones."""
    allowed = TASK_PRESETS[task] if task is not None else tuple(PRESETS)
    if name not in allowed:
        raise DQNRefError(f"unknown preset {name!r}; choose one of: {', '.join(allowed)}")
    return PRESETS[name]

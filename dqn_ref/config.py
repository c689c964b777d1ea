"""DQNConfig: every hyperparameter of a run, typed, with its unit, in groups.

Units (spec/algorithm.md#units): an *agent step* is one action taken in one environment; an
*update* is one gradient step on one minibatch; an *episode* is one reset-to-end trajectory.
The CLI builds one flag per field from the help text below, so this file is also the CLI's manual.

The fields are written once each, in the group they belong to: the environment, Atari's emulator,
the algorithm that spec/ specifies, its evaluation, the run's bookkeeping, and the speed-ups
(which change how fast the algorithm runs, never what it computes beyond the tolerance that
spec/ states). DQNConfig is all six at once, flat (`config.gamma`), so that a config.json is one
JSON object of fields; a function that needs one part takes that group's type.

Longer than 300 lines for a reason: one concept, a valid config. Every field is written once, with
its unit and help, and every rule a valid config obeys sits below it, one check per line, so that
a field and the rules about it are read (and changed) together.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from dqn_ref.errors import DQNRefError

T = TypeVar("T")


def knob(default: T, help: str, needs: str | None = None) -> T:
    """A config field with the help text the CLI shows, typed as its default for mypy. `needs`
    ("atari" or "cuda") marks a field that does something only there: the help of the other tasks
    leaves it out (`--help-all` shows it)."""
    return field(default=default, metadata={"help": help, "needs": needs})


@dataclass(frozen=True)
class EnvironmentConfig:
    """Which environment, how many copies, and their time limit."""

    env_id: str = knob(
        "CartPole-v1", "Gymnasium environment id; its action space must be discrete."
    )
    env_kwargs: str = knob(
        "",
        "keyword arguments for the environment, as a JSON object: --env-kwargs "
        "'{\"sutton_barto_reward\": true}' ('': none; gymnasium environments, not Atari).",
    )
    num_envs: int = knob(
        1, "environments stepped in lockstep; one step of all of them is num_envs agent steps."
    )
    max_episode_steps: int = knob(
        0, "time limit in agent steps, truncating episodes (0: the env's own)."
    )


@dataclass(frozen=True)
class AtariConfig:
    """Atari only: the emulator's options (spec/preprocessing.md)."""

    noop_max: int = knob(
        30, "up to this many no-op actions after each reset (0: none).", needs="atari"
    )
    terminal_on_life_loss: bool = knob(
        False, "a lost life masks the bootstrap in training (evaluation never does).", "atari"
    )
    repeat_action_probability: float = knob(
        0.0, "sticky actions, the chance the previous action repeats (Nature: 0).", "atari"
    )


@dataclass(frozen=True)
class AlgorithmConfig:
    """DQN itself, as spec/ specifies it: network, optimiser, replay, target, exploration."""

    # --- Q-network (spec/network.md) --------------------------------------------------------
    network: Literal["mlp", "nature_cnn"] = knob(
        "mlp", "Q-network architecture: eq-qnet-mlp, or eq-qnet-cnn for Atari frames."
    )
    hidden_sizes: tuple[int, ...] = knob((128, 128), "widths of the MLP's hidden layers.")
    dueling: bool = knob(
        False, "output layer: the dueling head V + A - mean(A) (eq-dueling) instead of linear."
    )
    layer_norm: bool = knob(
        False,
        "mlp only: normalise each hidden layer's pre-activations per row, relu(LN(W h + b)) "
        "(eq-layer-norm).",
    )

    # --- optimiser ----------------------------------------------------------------------------
    optimizer: Literal["adam", "adamw", "rmsprop"] = knob(
        "adam", "torch optimiser for the online network (rmsprop: centred, as in Nature)."
    )
    learning_rate: float = knob(1e-3, "optimiser step size.")
    learning_rate_end: float | None = knob(
        None,
        "decay the step size linearly to this value at total_steps (eq-lr-linear); none: constant.",
    )
    optimizer_eps: float = knob(
        1e-8, "the optimiser's epsilon (denominator guard), not exploration."
    )
    rmsprop_alpha: float = knob(0.95, "rmsprop: decay of the squared-gradient average.")
    weight_decay: float = knob(
        0.0, "weight decay: decoupled with adamw, L2 with adam (AdamW's own default: 0.01)."
    )
    amsgrad: bool = knob(False, "use the AMSGrad variant of Adam/AdamW.")
    loss: Literal["huber", "mse"] = knob("huber", "TD loss: eq-huber or eq-mse.")
    huber_delta: float = knob(
        1.0, "Huber threshold delta where the loss turns from quadratic to linear."
    )
    max_grad_value: float | None = knob(
        None, "clip each gradient element to [-v, v] (eq-grad-clip); none: off."
    )
    max_grad_norm: float | None = knob(
        10.0, "rescale gradients to this global L2 norm (eq-grad-clip); none: off."
    )

    # --- replay and updates -----------------------------------------------------------------
    buffer_size: int = knob(50_000, "replay capacity in transitions.")
    batch_size: int = knob(128, "transitions per minibatch.")
    learning_starts: int = knob(1_000, "agent steps stored before the first update.")
    train_frequency: int = knob(1, "agent steps per update once learning has started.")
    gradient_steps: int = knob(
        0,
        "updates made in a row at the end of each round of train_frequency agent steps that "
        "ends after learning_starts, as SB3's gradient_steps (eq-update-rounds; SB3's train_freq "
        "x num_envs is train_frequency); -1: as many as the round's agent steps; 0: no rounds, "
        "one update every train_frequency agent steps from learning_starts on.",
    )
    gamma: float = knob(0.99, "discount factor of eq-target, in [0, 1].")
    n_step: int = knob(
        1, "sum rewards over up to n agent steps before bootstrapping (eq-nstep); 1: eq-target."
    )
    double_q: bool = knob(
        False,
        "Double DQN: the online net picks the next action, the target net values it "
        "(eq-double-target); one more forward pass per update.",
    )
    reward_clip: bool = knob(True, "store clip(r, -1, 1) instead of r (eq-reward-clip).")
    truncation_as_terminal: bool = knob(
        False,
        "mask the bootstrap on time-limit truncation too (the replication paper's bug; keep off).",
    )

    # --- target network (spec/target_update.md) ------------------------------------------------
    target_update_interval: int = knob(500, "agent steps between target-network syncs.")
    tau: float = knob(
        1.0, "Polyak weight of the online net per sync, in (0, 1]; 1 is a hard copy (eq-hard)."
    )
    target_hard_copy_episodes: int = knob(
        0, "also hard-copy after episode e (0-based) when e % N == 0, as the paper does (0: off)."
    )

    # --- exploration (spec/exploration.md) -----------------------------------------------------
    epsilon_schedule: Literal["linear", "exponential"] = knob(
        "linear", "eq-eps-linear or eq-eps-exp."
    )
    epsilon_start: float = knob(1.0, "exploration rate at agent step 0.")
    epsilon_end: float = knob(0.05, "exploration rate the schedule settles at.")
    epsilon_duration: int = knob(10_000, "linear schedule: agent steps to go from start to end.")
    epsilon_decay: float = knob(2_000.0, "exponential schedule: time constant in agent steps.")
    epsilon_fraction: float | None = knob(
        None,
        "linear schedule: reach epsilon_end after this share of total_steps, as SB3's "
        "exploration_fraction (eq-eps-fraction); none: after epsilon_duration agent steps.",
    )
    random_warmup: bool = knob(
        False,
        "act uniformly at random (epsilon 1) until learning_starts agent steps are stored, as "
        "SB3 does (eq-eps-warmup); the epsilon schedule counts from step 0 beneath it.",
    )


@dataclass(frozen=True)
class EvaluationConfig:
    """The evaluation protocol (spec/evaluation.md)."""

    eval_interval: int = knob(
        5_000, "agent steps between greedy evaluations (0: none during training)."
    )
    eval_episodes: int = knob(20, "episodes per evaluation during training.")
    eval_epsilon: float = knob(0.0, "exploration rate while evaluating.")
    final_eval_episodes: int = knob(100, "episodes of the evaluation after training ends.")
    eval_max_episode_steps: int = knob(
        0, "time limit of evaluation episodes in agent steps (0: max_episode_steps)."
    )
    solved_threshold: float | None = knob(
        None,
        "evaluation mean return at which the task counts as solved (none: the environment's "
        "reward_threshold in its gymnasium spec, 475 for CartPole-v1; no solve is measured "
        "where the spec has none).",
    )
    stop_when_solved: bool = knob(
        False,
        "end training at the first evaluation in which every episode reaches solved_threshold; "
        "the final evaluation then tests that network (spec/evaluation.md#stopping-once-solved); "
        "no effect when eval_interval is 0.",
    )


@dataclass(frozen=True)
class RunConfig:
    """The run's length, seed, device and bookkeeping (spec/reliability.md)."""

    total_steps: int = knob(50_000, "training length in agent steps.")
    total_episodes: int = knob(
        0, "also stop after this many training episodes (0: no episode limit)."
    )
    total_minutes: float = knob(
        0.0,
        "also stop after this many minutes of training (wall-clock less the evaluations), then "
        "play the final evaluation (spec/algorithm.md step 9); 0: no time limit. The step limit "
        "stays, for reproducibility; summary.json's stopped_by says which limit ended the run.",
    )
    seed: int = knob(0, "seeds python, numpy, torch and the environments.")
    device: Literal["auto", "cpu", "cuda"] = knob(
        "auto", "where the networks live; auto picks cuda when present."
    )
    tensorboard: bool = knob(
        True,
        "also write a TensorBoard event file in the run folder, where tensorboard is installed "
        "(pip install 'dqn_ref[tensorboard]'); --no-tensorboard turns it off.",
    )
    wandb: str = knob(
        "",
        "also log TensorBoard's scalars and the config to Weights & Biases, as PROJECT or "
        "PROJECT/RUN_NAME (run name: the run folder's by default); pip install "
        "'dqn_ref[wandb]'; WANDB_MODE=offline writes RUN_DIR/wandb/ without network ('': off).",
    )
    checkpoint_minutes: float = knob(
        5.0,
        "wall-clock minutes between checkpoints besides those at each evaluation, so that a "
        "killed run loses at most this much (0: only at evaluations and the end).",
    )
    checkpoint_replay: bool = knob(
        False,
        "also save the replay buffer in checkpoint.pt, so that resume is bit-exact; it adds "
        "buffer_size x (2 x observation bytes + 13) bytes: 2.25 MB for 50,000 CartPole "
        "transitions.",
    )


@dataclass(frozen=True)
class SpeedConfig:
    """Speed-ups (dqn_ref/fast/): each runs the algorithm faster and is proven equal to the
    reference by a test, bit for bit or within the tolerance its spec section states."""

    torch_threads: int = knob(
        1,
        "torch intra-op threads (0: torch's default; -1: adaptive, timing one thread against "
        "every core now and then and keeping the faster, spec/algorithm.md#adaptive-threads); "
        "1 beat 2 by 20% on CartPole updates.",
    )
    precision: Literal["float32", "bfloat16"] = knob(
        "float32",
        "bfloat16: the networks multiply and convolve in bf16 under autocast, with float32 "
        "weights, optimiser and loss; for CPUs with native bf16 and for GPUs.",
    )
    compile: bool = knob(
        False,
        "compile the update's forward and backward passes with torch.compile (the optimiser "
        "step stays eager); equal to the eager update within spec/algorithm.md#compiled-update's "
        "tolerance; the first updates wait for the compiler.",
    )
    overlap_env_step: bool = knob(
        False,
        "run Alg. step 7's updates while the environments step (ale-py's send/recv), so that "
        "the updates of a lockstep step do not see its own transitions "
        "(spec/algorithm.md#overlapped-stepping).",
        needs="atari",
    )
    device_replay: bool = knob(
        False,
        "draw minibatches on the learner's device, frames and metadata held there "
        "(spec/replay.md#eq-replay-device), so that no minibatch crosses the bus.",
        needs="atari",
    )
    graphed_update: bool = knob(
        False,
        "capture the update (draw, target, loss, backward, clipping, optimiser step) once as a "
        "CUDA graph and replay it at every update (spec/algorithm.md#graphed-update); needs "
        "device_replay and adam or adamw. On a CPU the same update runs uncaptured.",
        needs="cuda",
    )


# The groups, in the order --help shows them; DQNConfig's fields are theirs, in this order.
CONFIG_GROUPS: dict[str, type] = {
    "environment": EnvironmentConfig,
    "run": RunConfig,
    "algorithm": AlgorithmConfig,
    "evaluation": EvaluationConfig,
    "speed-ups": SpeedConfig,
    "Atari only": AtariConfig,
}


@dataclass(frozen=True)
class DQNConfig(
    AtariConfig, SpeedConfig, EvaluationConfig, AlgorithmConfig, RunConfig, EnvironmentConfig
):
    """One DQN run: every group's fields, flat. Presets (dqn_ref/presets.py) are
    `dataclasses.replace` of these defaults."""

    def __post_init__(self) -> None:
        type_problems = _type_problems(self)
        problems = type_problems or _problems(self)
        if problems:
            raise DQNRefError(f"invalid config: {problems[0]}")

    def replace(self, **changes: Any) -> DQNConfig:
        """A copy with some fields changed, validated again.

        A stated solved_threshold belongs to its environment (Pong's 18 means nothing for
        Breakout), so changing env_id without stating a threshold goes back to the new
        environment's own (solved_threshold None).
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise DQNRefError(f"unknown config field {unknown[0]!r}; see --help for the fields")
        if changes.get("env_id", self.env_id) != self.env_id:
            changes.setdefault("solved_threshold", None)
        return dataclasses.replace(self, **changes)


def field_group(name: str) -> str:
    """The group (a key of CONFIG_GROUPS) that declares config field `name`."""
    return next(
        group
        for group, fields_of in CONFIG_GROUPS.items()
        if name in {item.name for item in dataclasses.fields(fields_of)}
    )


def field_needs(name: str) -> str | None:
    """ "atari" or "cuda" for a field that does something only there, else None."""
    needs: str | None = DQNConfig.__dataclass_fields__[name].metadata["needs"]
    return needs


FIELD_TYPES: dict[str, Any] = {}  # DQNConfig's annotations, resolved at the first check


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in typing.get_args(annotation))
    if origin is tuple:
        return "a list of integers"  # hidden_sizes, the one tuple field
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(annotation))
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        type(None): "none",
    }[annotation]


def _fits(value: Any, annotation: Any) -> bool:
    """Whether `value` is of `annotation`'s type: an int is not a bool here, nor a bool an int,
    and a float field takes an int (read back as a float)."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        choices = typing.get_args(annotation)
        return any(type(value) is type(choice) and value == choice for choice in choices)
    if origin is tuple:
        element = typing.get_args(annotation)[0]
        return isinstance(value, tuple) and all(_fits(item, element) for item in value)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(annotation))
    if annotation is float:
        return type(value) in (float, int)
    if annotation is type(None):
        return value is None
    return type(value) is annotation


def _type_problems(config: DQNConfig) -> list[str]:
    """Fields whose value is not of their annotated type (spec/reliability.md#input-validation).
    A list becomes a tuple and an int in a float field a float, as JSON writes them."""
    if not FIELD_TYPES:
        FIELD_TYPES.update(typing.get_type_hints(DQNConfig))
    problems = []
    for name, annotation in FIELD_TYPES.items():
        value = getattr(config, name)
        if isinstance(value, list) and typing.get_origin(annotation) is tuple:
            value = tuple(value)
            object.__setattr__(config, name, value)
        if not _fits(value, annotation):
            choices = (
                typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
            )
            given = (
                ""
                if any(type(value) is type(choice) for choice in choices)
                else f" (a {type(value).__name__} was given)"
            )
            problems.append(f"{name}={value!r} must be {_type_name(annotation)}{given}")
        elif type(value) is int and float in (annotation, *typing.get_args(annotation)):
            object.__setattr__(config, name, float(value))
    return problems


# Bounds that the libraries underneath impose, or that keep a typo from exhausting the machine.
INT64_LIMIT = 2**63  # counters and sizes become numpy/torch int64 indices and tensor shapes
# Each copy is an environment held in this process, stepped in lockstep (and, for evaluation,
# one copy per episode): beyond ten thousand copies a typo would exhaust memory or never finish
# building them, so larger counts are refused rather than attempted.
MAX_ENV_COPIES = 10_000
# Environment copies are seeded seed, seed + 1, ..., and the final evaluation's seed + 2 x
# 1,000,003 + copy (dqn_ref.evaluate.EVAL_SEED_OFFSET); ale-py's vector env takes each as a 32-bit
# signed integer, so seeds stop that span short of 2**31 (numpy's own limit is 2**32 - 1).
ENV_SEED_SPAN = 2 * 1_000_003 + MAX_ENV_COPIES
SEED_LIMIT = 2**31 - ENV_SEED_SPAN  # seeds lie in [0, SEED_LIMIT - 1]
# A round's updates are made between two agent steps, where no stop request is heard: beyond ten
# thousand in a row (RL Zoo's largest is 128) a typo would hold the run for hours at one step.
MAX_UPDATES_PER_ROUND = 10_000
MAX_TORCH_THREADS = 1_024  # more than any CPU's cores; torch would spawn them all
# ALE counts an episode's limit in frames (4 per agent step) as a 32-bit integer.
MAX_EPISODE_STEPS = (2**31 - 1) // 4
MAX_NOOPS = 108_000  # ALE v5's episode cap in frames
# Thresholds that meet float32 tensors (the loss's delta, the gradient clips) must be float32s.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_FIELDS = ("huber_delta", "max_grad_value", "max_grad_norm")


def _problems(config: DQNConfig) -> list[str]:
    """Every rule a config breaks, each phrased with its fix: ranges first, then combinations
    that could never make progress (spec/reliability.md#input-validation)."""
    return [
        message for ok, message in [*_range_checks(config), *_progress_checks(config)] if not ok
    ]


def _json_object_or_empty(text: str) -> bool:
    if text == "":
        return True
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)


def _range_checks(config: DQNConfig) -> list[tuple[bool, str]]:
    float_fields = [
        (f.name, getattr(config, f.name))
        for f in dataclasses.fields(config)
        if isinstance(getattr(config, f.name), float)
    ]
    int_fields = [
        (f.name, getattr(config, f.name))
        for f in dataclasses.fields(config)
        if type(getattr(config, f.name)) is int
    ]
    checks: list[tuple[bool, str]] = [
        (_finite(value), f"{name}={value} must be a finite number") for name, value in float_fields
    ]
    checks += [
        (value < INT64_LIMIT, f"{name}={value} must be below 2**63 (a 64-bit integer)")
        for name, value in int_fields
    ]
    checks += [
        (
            value is None or abs(value) <= FLOAT32_MAX,
            f"{name}={value} must be at most {FLOAT32_MAX:.4g} (it meets float32 gradients)",
        )
        for name, value in ((name, getattr(config, name)) for name in FLOAT32_FIELDS)
    ]
    checks += [
        (
            0 <= config.seed < SEED_LIMIT,
            f"seed={config.seed} must lie in [0, {SEED_LIMIT - 1}] (the environments' seeds, "
            "up to seed + 2,010,006, are 32-bit integers)",
        ),
        (0.0 <= config.gamma <= 1.0, f"gamma={config.gamma} must lie in [0, 1]"),
        (0.0 < config.tau <= 1.0, f"tau={config.tau} must lie in (0, 1]; 1 is a hard copy"),
        (config.total_steps > 0, f"total_steps={config.total_steps} must be positive"),
        (
            _json_object_or_empty(config.env_kwargs),
            f"env_kwargs={config.env_kwargs!r} must be a JSON object of keyword arguments, "
            "such as '{\"sutton_barto_reward\": true}'",
        ),
        (config.total_episodes >= 0, f"total_episodes={config.total_episodes} must be >= 0"),
        (config.total_minutes >= 0, f"total_minutes={config.total_minutes} must be >= 0 (0: none)"),
        (
            0 <= config.max_episode_steps <= MAX_EPISODE_STEPS,
            f"max_episode_steps={config.max_episode_steps} must lie in [0, {MAX_EPISODE_STEPS}]",
        ),
        (config.num_envs >= 1, f"num_envs={config.num_envs} must be >= 1"),
        (config.batch_size >= 1, f"batch_size={config.batch_size} must be >= 1"),
        (
            config.buffer_size >= config.batch_size,
            f"buffer_size={config.buffer_size} is smaller than batch_size={config.batch_size}; "
            "raise buffer_size or lower batch_size",
        ),
        (config.learning_starts >= 0, f"learning_starts={config.learning_starts} must be >= 0"),
        (config.n_step >= 1, f"n_step={config.n_step} must be >= 1"),
        (config.train_frequency >= 1, f"train_frequency={config.train_frequency} must be >= 1"),
        (
            -1 <= config.gradient_steps <= MAX_UPDATES_PER_ROUND,
            f"gradient_steps={config.gradient_steps} must be -1 (one update per agent step of a "
            f"round), 0 (no rounds) or a count up to {MAX_UPDATES_PER_ROUND}",
        ),
        (
            config.gradient_steps != -1 or config.train_frequency <= MAX_UPDATES_PER_ROUND,
            f"gradient_steps=-1 makes train_frequency={config.train_frequency} updates a round; "
            f"at most {MAX_UPDATES_PER_ROUND} are allowed, so lower train_frequency",
        ),
        (
            config.target_update_interval >= 1,
            f"target_update_interval={config.target_update_interval} must be >= 1",
        ),
        (
            config.target_hard_copy_episodes >= 0,
            f"target_hard_copy_episodes={config.target_hard_copy_episodes} must be >= 0",
        ),
        (config.learning_rate > 0, f"learning_rate={config.learning_rate} must be positive"),
        (
            config.learning_rate_end is None or config.learning_rate_end >= 0,
            f"learning_rate_end={config.learning_rate_end} must be >= 0 or none",
        ),
        (
            config.optimizer_eps > 0,
            f"optimizer_eps={config.optimizer_eps} must be positive (it guards a division)",
        ),
        (config.weight_decay >= 0, f"weight_decay={config.weight_decay} must be >= 0"),
        (config.huber_delta > 0, f"huber_delta={config.huber_delta} must be positive"),
        (
            config.max_grad_value is None or config.max_grad_value > 0,
            f"max_grad_value={config.max_grad_value} must be positive or none",
        ),
        (
            config.max_grad_norm is None or config.max_grad_norm > 0,
            f"max_grad_norm={config.max_grad_norm} must be positive or none",
        ),
        (
            0.0 <= config.epsilon_end <= 1.0 and 0.0 <= config.epsilon_start <= 1.0,
            "epsilon_start and epsilon_end must lie in [0, 1]",
        ),
        (
            0.0 <= config.eval_epsilon <= 1.0,
            f"eval_epsilon={config.eval_epsilon} must lie in [0, 1]",
        ),
        (config.epsilon_duration >= 1, f"epsilon_duration={config.epsilon_duration} must be >= 1"),
        (config.epsilon_decay > 0, f"epsilon_decay={config.epsilon_decay} must be positive"),
        (
            config.epsilon_fraction is None or config.epsilon_fraction > 0,
            f"epsilon_fraction={config.epsilon_fraction} must be positive or none",
        ),
        (config.eval_interval >= 0, f"eval_interval={config.eval_interval} must be >= 0"),
        (config.eval_episodes >= 1, f"eval_episodes={config.eval_episodes} must be >= 1"),
        (
            config.final_eval_episodes >= 0,
            f"final_eval_episodes={config.final_eval_episodes} must be >= 0",
        ),
        (
            len(config.hidden_sizes) >= 1
            and min(config.hidden_sizes) >= 1
            and max(config.hidden_sizes) < INT64_LIMIT,
            "hidden_sizes must be positive widths below 2**63",
        ),
        (
            0 <= config.noop_max <= MAX_NOOPS,
            f"noop_max={config.noop_max} must lie in [0, {MAX_NOOPS}] (an episode's frames)",
        ),
        (
            0.0 <= config.repeat_action_probability < 1.0,
            f"repeat_action_probability={config.repeat_action_probability} must lie in [0, 1)",
        ),
        (
            0.0 <= config.rmsprop_alpha < 1.0,
            f"rmsprop_alpha={config.rmsprop_alpha} must lie in [0, 1)",
        ),
        (
            0 <= config.eval_max_episode_steps <= MAX_EPISODE_STEPS,
            f"eval_max_episode_steps={config.eval_max_episode_steps} must lie in "
            f"[0, {MAX_EPISODE_STEPS}]",
        ),
        (
            -1 <= config.torch_threads <= MAX_TORCH_THREADS,
            f"torch_threads={config.torch_threads} must lie in [-1, {MAX_TORCH_THREADS}] "
            "(-1: adaptive, 0: torch's default)",
        ),
        (
            config.checkpoint_minutes >= 0,
            f"checkpoint_minutes={config.checkpoint_minutes} must be >= 0 (0: off)",
        ),
    ]
    checks += [
        (
            count <= MAX_ENV_COPIES,
            f"{name}={count} would build {count} environment copies at once; at most "
            f"{MAX_ENV_COPIES} are allowed",
        )
        for name, count in [
            ("num_envs", config.num_envs),
            ("eval_episodes", config.eval_episodes),
            ("final_eval_episodes", config.final_eval_episodes),
        ]
    ]
    return checks


def _progress_checks(config: DQNConfig) -> list[tuple[bool, str]]:
    """Combinations of valid values with which a run could never make progress, or never reach
    what the config asks for."""
    # An n-step transition can be sampled once its n - 1 successors are stored (or its episode
    # ended sooner). The copies store num_envs transitions per iteration, so after n_step x
    # num_envs agent steps some copy has stored n in a row (or ended an episode); a ring buffer
    # smaller than that overwrites every transition before its successors arrive.
    nstep_window = config.n_step * config.num_envs
    # Overlapped, an update samples before the num_envs transitions of its own step are stored.
    overlap_window = nstep_window + config.num_envs
    return [
        (
            config.n_step == 1 or config.learning_starts >= nstep_window,
            f"learning_starts={config.learning_starts} is below n_step x num_envs = "
            f"{nstep_window}, so the first update would find no complete {config.n_step}-step "
            f"transition to sample; raise learning_starts to at least {nstep_window}",
        ),
        (
            config.buffer_size >= nstep_window,
            f"buffer_size={config.buffer_size} is below n_step x num_envs = {nstep_window}, so "
            "every transition would be overwritten before its successors are stored; raise "
            f"buffer_size to at least {nstep_window}",
        ),
        (
            not config.graphed_update or config.device_replay,
            "graphed_update captures the minibatch's draw too, which needs device_replay; add "
            "--device-replay",
        ),
        (
            not config.graphed_update or config.optimizer in ("adam", "adamw"),
            f"graphed_update needs a capturable fused optimiser (adam or adamw), not "
            f"{config.optimizer}; use --optimizer adam or drop --graphed-update",
        ),
        (
            not config.overlap_env_step or config.learning_starts >= overlap_window,
            f"learning_starts={config.learning_starts} is below (n_step + 1) x num_envs = "
            f"{overlap_window}: with overlap_env_step the first update samples before its lockstep "
            f"step's transitions are stored and could find none; raise learning_starts to at "
            f"least {overlap_window}",
        ),
        (
            not config.layer_norm or config.network == "mlp",
            f"layer_norm is an option of the mlp network, not {config.network}; drop --layer-norm",
        ),
    ]

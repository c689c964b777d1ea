"""The training loop of spec/algorithm.md; each step below cites its number there."""

from __future__ import annotations

import dataclasses
import random
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dqn_ref.agent import DQNAgent
from dqn_ref.atomic import atomic_write_json
from dqn_ref.checkpoint import save_checkpoint
from dqn_ref.config import DQNConfig
from dqn_ref.envs import EnvSpaces, atari_options, env_spaces, game_over, make_env
from dqn_ref.errors import DQNRefError
from dqn_ref.estimate import print_cpu_estimate
from dqn_ref.evaluate import EVAL_SEED_OFFSET, evaluate, evaluation_envs
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.metrics import MetricsLog
from dqn_ref.plot import plot_curve
from dqn_ref.preprocessing import clip_reward
from dqn_ref.replay import ReplayBuffer
from dqn_ref.schedule import exponential_epsilon, linear_epsilon
from dqn_ref.target_update import hard_update

PROGRESS_REFRESH_S = 0.5
EVAL_LABELS = {"eval": "evaluation", "final": "final evaluation"}
RECENT_EPISODES = 10  # training episodes averaged in the progress bar
# The replay sampler gets its own seed so that its index stream is not the stream the agent's
# exploration draws from (both are torch generators seeded from config.seed).
REPLAY_SEED_OFFSET = 7_919


@dataclass(frozen=True)
class EvalSummary:
    """Mean, spread and count of one evaluation's episode returns."""

    mean: float
    std: float
    min: float
    max: float
    episodes: int

    @classmethod
    def of(cls, returns: np.ndarray) -> EvalSummary:
        return cls(
            float(returns.mean()),
            float(returns.std()),
            float(returns.min()),
            float(returns.max()),
            len(returns),
        )


@dataclass(frozen=True)
class TrainResult:
    """What a run reports; summary.json holds the same."""

    run_dir: Path
    steps: int
    episodes: int
    updates: int
    wall_time_s: float
    eval_time_s: float  # of wall_time_s, the part spent in the evaluations during training
    first_solved_step: int | None
    first_solved_time_s: float | None
    first_solved_train_time_s: float | None  # first_solved_time_s less the evaluations' time
    final_eval: EvalSummary | None


def resolve_device(requested: str) -> torch.device:
    """cpu, cuda, or for auto whichever is best here; a one-line error when cuda is absent."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise DQNRefError(
            "--device cuda asked for, but this torch sees no CUDA device; use --device cpu, "
            "or install a CUDA build of torch (README, 'GPU install')"
        )
    return torch.device(requested)


def epsilon_at(config: DQNConfig, step: int) -> float:
    """The configured schedule's epsilon at an agent step (eq-eps-exp or eq-eps-linear)."""
    if config.epsilon_schedule == "exponential":
        return exponential_epsilon(
            step, config.epsilon_start, config.epsilon_end, config.epsilon_decay
        )
    return linear_epsilon(step, config.epsilon_start, config.epsilon_end, config.epsilon_duration)


def updates_due(config: DQNConfig, step: int) -> int:
    """Updates that should have happened once `step` transitions are stored: one at learning_starts,
    then one every train_frequency agent steps."""
    if step < config.learning_starts or step == 0:
        return 0
    return (step - config.learning_starts) // config.train_frequency + 1


def make_replay_buffer(
    config: DQNConfig, spaces: EnvSpaces, device: torch.device
) -> ReplayBuffer | FrameReplayBuffer:
    """Frame-deduplicated replay for stacked uint8 frames (Atari), the plain buffer otherwise."""
    seed = config.seed + REPLAY_SEED_OFFSET
    if len(spaces.obs_shape) == 3 and spaces.obs_dtype == np.uint8:
        return FrameReplayBuffer(
            config.buffer_size, spaces.obs_shape, config.num_envs, device, seed
        )
    return ReplayBuffer(config.buffer_size, spaces.obs_shape, spaces.obs_dtype, device, seed)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds code that uses the legacy global generator
    torch.manual_seed(seed)


def train(
    config: DQNConfig, run_dir: Path, preset_name: str = "custom", progress: bool = True
) -> TrainResult:
    """Train one agent as `config` says and write the run folder (README, 'What a run writes')."""
    # Alg. step 1: seed, build the environments, the replay buffer and both networks.
    seed_everything(config.seed)
    if config.torch_threads > 0:
        torch.set_num_threads(config.torch_threads)
    device = resolve_device(config.device)
    envs = make_env(
        config.env_id,
        config.num_envs,
        config.max_episode_steps,
        atari_options(config, training=True),
    )
    spaces = env_spaces(envs, config.env_id)
    eval_envs = evaluation_envs(config, final=False) if config.eval_interval else None
    buffer = make_replay_buffer(config, spaces, device)
    agent = DQNAgent(config, spaces.obs_shape, spaces.num_actions, device)
    if progress and device.type == "cpu":
        print_cpu_estimate(config, spaces, device)
    eval_generator = torch.Generator(device=device)
    eval_generator.manual_seed(config.seed + EVAL_SEED_OFFSET)

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        run_dir / "config.json", {"preset": preset_name, "config": dataclasses.asdict(config)}
    )
    metrics = MetricsLog(run_dir / "metrics.csv")
    checkpoint_path = run_dir / "checkpoint.pt"

    step = episode = updates_done = syncs_done = 0
    next_eval_step = config.eval_interval
    first_solved: tuple[int, float, float] | None = None  # step, seconds, seconds less evaluation
    eval_time = 0.0
    episode_return = np.zeros(config.num_envs)
    episode_length = np.zeros(config.num_envs, dtype=np.int64)
    resetting = np.zeros(config.num_envs, dtype=bool)  # this copy's next step is its autoreset
    loss_sum = torch.zeros((), device=device)
    losses_since_row = 0
    last_eval: EvalSummary | None = None
    recent_returns: deque[float] = deque(maxlen=RECENT_EPISODES)
    epsilon = epsilon_at(config, 0)
    start_time = time.perf_counter()
    bar = tqdm(
        total=config.total_steps,
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
        desc=f"{config.env_id} {preset_name} s{config.seed}",
    )
    last_refresh = 0.0

    def counters() -> dict[str, int]:
        return {"step": step, "episode": episode, "updates": updates_done}

    def run_evaluation(eval_vector_env: Any, kind: str) -> EvalSummary:
        returns = evaluate(
            agent.online_net, eval_vector_env, config.eval_epsilon, eval_generator, device
        )
        summary = EvalSummary.of(returns)
        metrics.write(
            kind=kind,
            step=step,
            episode=episode,
            wall_time_s=time.perf_counter() - start_time,
            **{"return": summary.mean},
            length=summary.episodes,
            epsilon=config.eval_epsilon,
            eval_std=summary.std,
            eval_min=summary.min,
            eval_max=summary.max,
        )
        bar.write(
            f"{EVAL_LABELS[kind]} at step {step}: mean {summary.mean:.1f} +- {summary.std:.1f} "
            f"(min {summary.min:.0f}, max {summary.max:.0f}, {summary.episodes} episodes)"
        )
        return summary

    obs, _ = envs.reset(seed=config.seed)
    try:
        while step < config.total_steps and not (
            config.total_episodes and episode >= config.total_episodes
        ):
            # Alg. step 2: exploration rate for this step (eq-eps-exp / eq-eps-linear).
            epsilon = epsilon_at(config, step)
            # Alg. step 3: epsilon-greedy actions from the online network (eq-eps-greedy).
            actions = agent.act(obs, epsilon)
            # Alg. step 4: step every copy of the environment.
            next_obs, reward, terminated, truncated, info = envs.step(actions)
            ended = game_over(terminated, truncated, info)
            # Alg. step 5: store real transitions; an autoreset step is not one.
            real = ~resetting
            stored_terminated = (
                terminated | truncated if config.truncation_as_terminal else terminated
            )
            stored_reward = clip_reward(reward) if config.reward_clip else reward.astype(np.float32)
            if real.all():
                buffer.add(
                    obs, actions, stored_reward, next_obs, stored_terminated, episode_end=ended
                )
            else:
                buffer.add(
                    obs[real],
                    actions[real],
                    stored_reward[real],
                    next_obs[real],
                    stored_terminated[real],
                    episode_end=ended[real],
                    env_ids=np.flatnonzero(real),
                )
            new_steps = int(real.sum())
            step += new_steps
            episode_return += np.where(real, reward, 0.0)
            episode_length += real
            # Alg. step 6: close finished episodes (log; the paper's episodic hard copy).
            for index in np.flatnonzero(ended & real):
                episode += 1
                loss_mean = (
                    (loss_sum / losses_since_row).item() if losses_since_row else float("nan")
                )
                loss_sum.zero_()
                losses_since_row = 0
                metrics.write(
                    kind="train",
                    step=step,
                    episode=episode,
                    wall_time_s=time.perf_counter() - start_time,
                    **{"return": float(episode_return[index])},
                    length=int(episode_length[index]),
                    epsilon=epsilon,
                    loss=loss_mean,
                )
                recent_returns.append(float(episode_return[index]))
                episode_return[index] = 0.0
                episode_length[index] = 0
                if (
                    config.target_hard_copy_episodes
                    and (episode - 1) % config.target_hard_copy_episodes == 0
                ):
                    hard_update(agent.target_net, agent.online_net)
            resetting = ended
            obs = next_obs
            # Alg. step 7: learn: sample, eq-target, TD loss, clip, optimiser step.
            while updates_done < updates_due(config, step):
                loss_sum += agent.update(buffer.sample(config.batch_size))
                losses_since_row += 1
                updates_done += 1
            # Alg. step 8: sync the target network every target_update_interval agent steps.
            while syncs_done < step // config.target_update_interval:
                agent.sync_target()
                syncs_done += 1
            # Alg. step 9: evaluate greedily and checkpoint every eval_interval agent steps.
            if eval_envs is not None and step >= next_eval_step:
                eval_start = time.perf_counter()
                last_eval = run_evaluation(eval_envs, "eval")
                eval_end = time.perf_counter()
                eval_time += eval_end - eval_start
                if first_solved is None and last_eval.mean >= config.solved_threshold:
                    # Wall-clock counts the evaluation that confirmed the solve; training time
                    # leaves out every evaluation's time.
                    seconds = eval_end - start_time
                    first_solved = (step, seconds, seconds - eval_time)
                save_checkpoint(checkpoint_path, config, agent, spaces, counters())
                while next_eval_step <= step:
                    next_eval_step += config.eval_interval
            bar.update(new_steps)
            now = time.perf_counter()
            if progress and now - last_refresh > PROGRESS_REFRESH_S and recent_returns:
                last_refresh = now
                postfix = {
                    "episode": episode,
                    f"return({RECENT_EPISODES})": f"{np.mean(recent_returns):.0f}",
                    "eps": f"{epsilon:.3f}",
                }
                if last_eval is not None:
                    postfix["eval"] = f"{last_eval.mean:.0f}"
                bar.set_postfix(postfix, refresh=False)
        bar.close()
        wall_time = time.perf_counter() - start_time

        # Alg. step 10: final checkpoint and evaluation, then the curve and the summary.
        save_checkpoint(checkpoint_path, config, agent, spaces, counters())
        final_eval = None
        if config.final_eval_episodes:
            final_envs = evaluation_envs(config, final=True)
            final_eval = run_evaluation(final_envs, "final")
            final_envs.close()
    finally:
        bar.close()
        metrics.close()
        envs.close()
        if eval_envs is not None:
            eval_envs.close()

    plot_curve(
        metrics,
        run_dir / "curve.png",
        f"{config.env_id}, preset {preset_name}, seed {config.seed}",
        config.solved_threshold,
    )
    result = TrainResult(
        run_dir=run_dir,
        steps=step,
        episodes=episode,
        updates=updates_done,
        wall_time_s=wall_time,
        eval_time_s=eval_time,
        first_solved_step=first_solved[0] if first_solved else None,
        first_solved_time_s=first_solved[1] if first_solved else None,
        first_solved_train_time_s=first_solved[2] if first_solved else None,
        final_eval=final_eval,
    )
    summary = dataclasses.asdict(result)
    summary["run_dir"] = str(run_dir)
    summary["steps_per_s"] = step / wall_time if wall_time > 0 else None
    atomic_write_json(run_dir / "summary.json", summary)
    return result

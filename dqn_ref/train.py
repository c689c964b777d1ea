"""The training loop of spec/algorithm.md; each step below cites its number there."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dqn_ref.agent import DQNAgent
from dqn_ref.atomic import atomic_write_json
from dqn_ref.checkpoint import (
    Resumable,
    config_of,
    load_checkpoint,
    restore_run,
    save_checkpoint,
)
from dqn_ref.config import DQNConfig
from dqn_ref.envs import EnvSpaces, atari_options, env_spaces, game_over, make_env
from dqn_ref.errors import DQNRefError
from dqn_ref.estimate import print_cpu_estimate
from dqn_ref.evaluate import EVAL_SEED_OFFSET, EvalSummary, evaluate, evaluation_envs
from dqn_ref.frame_replay import FrameReplayBuffer
from dqn_ref.interrupt import StopCheck, TrainingInterruptedError
from dqn_ref.loop_state import RECENT_EPISODES, LoopState
from dqn_ref.memory import format_bytes
from dqn_ref.metrics import MetricsLog
from dqn_ref.plot import plot_curve
from dqn_ref.preprocessing import clip_reward
from dqn_ref.replay import ReplayBuffer
from dqn_ref.schedule import exponential_epsilon, linear_epsilon
from dqn_ref.seeding import seed_everything
from dqn_ref.solve import stable_solve_of_run
from dqn_ref.target_update import hard_update
from dqn_ref.tensorboard_log import open_tensorboard

PROGRESS_REFRESH_S = 0.5
EVAL_LABELS = {"eval": "evaluation", "final": "final evaluation"}
# The replay sampler gets its own seed so that its index stream is not the stream the agent's
# exploration draws from (both are torch generators seeded from config.seed).
REPLAY_SEED_OFFSET = 7_919


@dataclass(frozen=True)
class TrainResult:
    """What a run reports; summary.json holds the same."""

    run_dir: Path
    steps: int
    episodes: int
    updates: int
    updates_skipped: (
        int  # of updates, those skipped while a run resumed without its buffer refilled
    )
    wall_time_s: float
    eval_time_s: float  # of wall_time_s, the part spent in the evaluations during training
    solved_threshold: float  # the evaluation mean that counts as solved
    eval_epsilon: float  # the exploration rate of the evaluations
    first_solved_step: int | None
    first_solved_time_s: float | None
    first_solved_train_time_s: float | None  # first_solved_time_s less the evaluations' time
    stable_solved_step: int | None  # eq-stable-solve: every evaluation from this one on solves
    stable_solved_time_s: float | None  # wall-clock at that evaluation, evaluations included
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
            config.buffer_size,
            spaces.obs_shape,
            config.num_envs,
            device,
            seed,
            n_step=config.n_step,
            gamma=config.gamma,
        )
    return ReplayBuffer(
        config.buffer_size,
        spaces.obs_shape,
        spaces.obs_dtype,
        device,
        seed,
        n_step=config.n_step,
        gamma=config.gamma,
    )


def all_finite(tensors: Iterable[torch.Tensor]) -> bool:
    """Whether every element of every tensor is finite; one host sync for them all."""
    return bool(torch.stack([torch.isfinite(tensor).all() for tensor in tensors]).all())


def non_finite_error(
    what: str, step: int, checkpoint_step: int | None, run_dir: Path
) -> DQNRefError:
    """The numerical guard's message (spec/reliability.md#numerical-guard)."""
    kept = (
        f"checkpoint.pt in {run_dir} keeps the last good state (step {checkpoint_step})"
        if checkpoint_step is not None
        else "no checkpoint had been written yet"
    )
    return DQNRefError(
        f"{what} became non-finite by step {step}, so the run stopped; {kept}; lower "
        "--learning-rate, or set --max-grad-norm, and train again"
    )


def resume(
    run_dir: Path,
    progress: bool = True,
    stop: StopCheck | None = None,
    device: str | None = None,
) -> TrainResult:
    """Continue the run in `run_dir` from its checkpoint.pt, to its config's total_steps.

    spec/reliability.md#resume says when the result equals that of an uninterrupted run.
    `device` replaces the config's (a run trained on a GPU can be finished on a CPU).
    """
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    config = config_of(payload)
    if device is not None:
        config = config.replace(device=device)
    return train(config, run_dir, payload.get("preset", "custom"), progress, stop, payload)


def train(
    config: DQNConfig,
    run_dir: Path,
    preset_name: str = "custom",
    progress: bool = True,
    stop: StopCheck | None = None,
    resume_from: dict[str, Any] | None = None,
) -> TrainResult:
    """Train one agent as `config` says and write the run folder (README, 'What a run writes').

    After each iteration `stop.should_stop(step)` is asked; when it says so, a checkpoint is saved
    and TrainingInterruptedError raised. `resume_from`, a checkpoint's payload, continues that run.
    """
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
    checkpoint_path = run_dir / "checkpoint.pt"
    checkpoint_step: int | None = None  # the step that checkpoint.pt holds now
    if resume_from is None:
        metrics = MetricsLog(run_dir / "metrics.csv")
        obs, _ = envs.reset(seed=config.seed)
        state = LoopState.start(obs, device, config.eval_interval)
    else:
        metrics = MetricsLog.continued(run_dir / "metrics.csv", resume_from["metrics_rows"])
        restored = restore_run(resume_from, agent, buffer, envs, eval_envs, eval_generator, device)
        state, envs, eval_envs = restored.loop, restored.envs, restored.eval_envs
        checkpoint_step = state.step
        exactness = (
            "bit-exact"
            if not restored.not_exact_because
            else "not bit-exact: " + "; ".join(restored.not_exact_because)
        )
        print(f"dqn_ref: resuming {run_dir} at step {state.step} ({exactness})", flush=True)
    if config.checkpoint_replay:
        print(
            f"dqn_ref: checkpoints include the replay buffer, up to {format_bytes(buffer.nbytes)}",
            flush=True,
        )
    metrics.listener = open_tensorboard(
        config.tensorboard, run_dir, agent, lambda: state.updates_done
    )
    last_eval: EvalSummary | None = None
    epsilon = epsilon_at(config, state.step)
    # Seconds of training: those before the checkpoint a resumed run starts from, plus this
    # process's. Wall-clock columns therefore differ between a resumed and an uninterrupted run.
    start_time = time.perf_counter() - state.elapsed_s
    bar = tqdm(
        total=config.total_steps,
        initial=state.step,
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
        desc=f"{config.env_id} {preset_name} s{config.seed}",
    )
    last_refresh = 0.0

    def checkpoint() -> None:
        """Save, unless the numbers have gone bad: the last good checkpoint is then kept."""
        nonlocal checkpoint_step
        if not all_finite([state.loss_sum, *agent.online_parameters]):
            raise non_finite_error(
                "the TD loss or the online network's weights", state.step, checkpoint_step, run_dir
            )
        state.elapsed_s = time.perf_counter() - start_time
        resumable = Resumable(
            loop=state,
            preset=preset_name,
            metrics_rows=len(metrics.rows),
            envs=envs,
            eval_envs=eval_envs,
            eval_generator=eval_generator,
            replay=buffer if config.checkpoint_replay else None,
        )
        save_checkpoint(checkpoint_path, config, agent, spaces, resumable)
        checkpoint_step = state.step

    def run_evaluation(eval_vector_env: Any, kind: str) -> EvalSummary:
        returns = evaluate(
            agent.online_net, eval_vector_env, config.eval_epsilon, eval_generator, device
        )
        summary = EvalSummary.of(returns)
        metrics.write(
            kind=kind,
            step=state.step,
            episode=state.episode,
            wall_time_s=time.perf_counter() - start_time,
            **{"return": summary.mean},
            length=summary.episodes,
            epsilon=config.eval_epsilon,
            eval_std=summary.std,
            eval_min=summary.min,
            eval_max=summary.max,
        )
        bar.write(
            f"{EVAL_LABELS[kind]} at step {state.step}: mean {summary.mean:.1f} "
            f"+- {summary.std:.1f} (min {summary.min:.0f}, max {summary.max:.0f}, "
            f"{summary.episodes} episodes)"
        )
        return summary

    try:
        while state.step < config.total_steps and not (
            config.total_episodes and state.episode >= config.total_episodes
        ):
            # Alg. step 2: exploration rate for this step (eq-eps-exp / eq-eps-linear).
            epsilon = epsilon_at(config, state.step)
            # Alg. step 3: epsilon-greedy actions from the online network (eq-eps-greedy).
            actions = agent.act(state.obs, epsilon)
            # Alg. step 4: step every copy of the environment.
            next_obs, reward, terminated, truncated, info = envs.step(actions)
            ended = game_over(terminated, truncated, info)
            # Alg. step 5: store real transitions; an autoreset step is not one.
            real = ~state.resetting
            stored_terminated = (
                terminated | truncated if config.truncation_as_terminal else terminated
            )
            stored_reward = clip_reward(reward) if config.reward_clip else reward.astype(np.float32)
            if real.all():
                buffer.add(
                    state.obs,
                    actions,
                    stored_reward,
                    next_obs,
                    stored_terminated,
                    episode_end=ended,
                )
            else:
                buffer.add(
                    state.obs[real],
                    actions[real],
                    stored_reward[real],
                    next_obs[real],
                    stored_terminated[real],
                    episode_end=ended[real],
                    env_ids=np.flatnonzero(real),
                )
            new_steps = int(real.sum())
            state.step += new_steps
            state.episode_return += np.where(real, reward, 0.0)
            state.episode_length += real
            # Alg. step 6: close finished episodes (log; the paper's episodic hard copy).
            for index in np.flatnonzero(ended & real):
                state.episode += 1
                loss_mean = (
                    (state.loss_sum / state.losses_since_row).item()
                    if state.losses_since_row
                    else float("nan")
                )
                if state.losses_since_row and not math.isfinite(loss_mean):
                    raise non_finite_error("the TD loss", state.step, checkpoint_step, run_dir)
                state.loss_sum.zero_()
                state.losses_since_row = 0
                metrics.write(
                    kind="train",
                    step=state.step,
                    episode=state.episode,
                    wall_time_s=time.perf_counter() - start_time,
                    **{"return": float(state.episode_return[index])},
                    length=int(state.episode_length[index]),
                    epsilon=epsilon,
                    loss=loss_mean,
                )
                state.recent_returns.append(float(state.episode_return[index]))
                state.episode_return[index] = 0.0
                state.episode_length[index] = 0
                if (
                    config.target_hard_copy_episodes
                    and (state.episode - 1) % config.target_hard_copy_episodes == 0
                ):
                    hard_update(agent.target_net, agent.online_net)
            state.resetting = ended
            state.obs = next_obs
            # Alg. step 7: learn: sample, eq-target, TD loss, clip, optimiser step.
            updates_now_due = updates_due(config, state.step)
            if state.step < state.learning_paused_until:
                # Resumed without its replay buffer: the updates due while the buffer refills are
                # skipped, rather than made later in a burst on the few transitions it holds.
                state.updates_skipped += updates_now_due - state.updates_done
                state.updates_done = updates_now_due
            while state.updates_done < updates_now_due:
                state.loss_sum += agent.update(buffer.sample(config.batch_size))
                state.losses_since_row += 1
                state.updates_done += 1
            # Alg. step 8: sync the target network every target_update_interval agent steps.
            while state.syncs_done < state.step // config.target_update_interval:
                agent.sync_target()
                state.syncs_done += 1
            # Alg. step 9: evaluate greedily and checkpoint every eval_interval agent steps.
            if eval_envs is not None and state.step >= state.next_eval_step:
                if not all_finite(agent.online_parameters):
                    raise non_finite_error(
                        "the online network's weights", state.step, checkpoint_step, run_dir
                    )
                eval_start = time.perf_counter()
                last_eval = run_evaluation(eval_envs, "eval")
                eval_end = time.perf_counter()
                state.eval_time_s += eval_end - eval_start
                if state.first_solved is None and last_eval.mean >= config.solved_threshold:
                    # Wall-clock counts the evaluation that confirmed the solve; training time
                    # leaves out every evaluation's time.
                    seconds = eval_end - start_time
                    state.first_solved = (state.step, seconds, seconds - state.eval_time_s)
                while state.next_eval_step <= state.step:
                    state.next_eval_step += config.eval_interval
                checkpoint()
            bar.update(new_steps)
            now = time.perf_counter()
            if progress and now - last_refresh > PROGRESS_REFRESH_S and state.recent_returns:
                last_refresh = now
                postfix = {
                    "episode": state.episode,
                    f"return({RECENT_EPISODES})": f"{np.mean(state.recent_returns):.0f}",
                    "eps": f"{epsilon:.3f}",
                }
                if last_eval is not None:
                    postfix["eval"] = f"{last_eval.mean:.0f}"
                bar.set_postfix(postfix, refresh=False)
            if stop is not None and stop.should_stop(state.step):
                if checkpoint_step != state.step:
                    checkpoint()
                raise TrainingInterruptedError(
                    run_dir, state.step, config.checkpoint_replay, stop.signal_number
                )
        bar.close()
        wall_time = time.perf_counter() - start_time

        # Alg. step 10: final checkpoint and evaluation, then the curve and the summary.
        checkpoint()
        if stop is not None and stop.should_stop(state.step):
            raise TrainingInterruptedError(
                run_dir, state.step, config.checkpoint_replay, stop.signal_number
            )
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
    first_solved = state.first_solved
    stable_solved = stable_solve_of_run(metrics.rows, config.solved_threshold)
    result = TrainResult(
        run_dir=run_dir,
        steps=state.step,
        episodes=state.episode,
        updates=state.updates_done,
        updates_skipped=state.updates_skipped,
        wall_time_s=wall_time,
        eval_time_s=state.eval_time_s,
        solved_threshold=config.solved_threshold,
        eval_epsilon=config.eval_epsilon,
        first_solved_step=first_solved[0] if first_solved else None,
        first_solved_time_s=first_solved[1] if first_solved else None,
        first_solved_train_time_s=first_solved[2] if first_solved else None,
        stable_solved_step=stable_solved[0] if stable_solved else None,
        stable_solved_time_s=stable_solved[1] if stable_solved else None,
        final_eval=final_eval,
    )
    summary = dataclasses.asdict(result)
    summary["run_dir"] = str(run_dir)
    summary["steps_per_s"] = state.step / wall_time if wall_time > 0 else None
    atomic_write_json(run_dir / "summary.json", summary)
    return result

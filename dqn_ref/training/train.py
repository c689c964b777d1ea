"""A run around the DQN loop of dqn_ref/loop.py, as Dopamine's Runner is around its agent.

Alg. steps 1, 9 and 10 of spec/algorithm.md live here: build or resume the run, then, between two
steps of the loop, log finished episodes, evaluate, checkpoint (at each evaluation and every
checkpoint_minutes), show progress and honour stop requests; at the end, the final checkpoint and
evaluation, the curve and the summary.

Longer than 300 lines for a reason: one concept, the run around the loop, read top to bottom in
the order a run does it (build or resume, then each step's bookkeeping and its stops: solved, a
callback, the time limit; then the end); the bookkeeping's parts (checkpoints, metrics, logs,
progress, plots, callbacks) are already modules of their own.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv

from dqn_ref.agent import DQNAgent
from dqn_ref.config import DQNConfig
from dqn_ref.env_source import EnvMaker, env_kwargs_of, give_callable_again
from dqn_ref.envs import EnvSpaces, atari_options, env_spaces, make_env, with_env_threshold
from dqn_ref.evaluate import (
    EVAL_SEED_OFFSET,
    EvalSummary,
    evaluate,
    evaluation_envs,
    final_evaluation_generator,
)
from dqn_ref.loop import LoopReport, updates_due
from dqn_ref.loop_state import LoopState
from dqn_ref.memory import format_bytes
from dqn_ref.replay_interface import Replay
from dqn_ref.solve import solved_in_every_episode, stable_solve_of_run
from dqn_ref.training.atomic import atomic_write_json
from dqn_ref.training.build import (
    make_agent,
    make_replay_buffer,
    make_update,
    resolve_device,
    run_loop,
)
from dqn_ref.training.callbacks import Callback, Callbacks, EpisodeEnd, EvaluationEnd
from dqn_ref.training.checkpoint import (
    Resumable,
    config_of,
    load_checkpoint,
    restore_run,
    save_checkpoint,
)
from dqn_ref.training.checkpoint_timer import CheckpointTimer
from dqn_ref.training.estimate import print_cpu_estimate
from dqn_ref.training.interrupt import StopCheck, TrainingInterruptedError
from dqn_ref.training.metrics import MetricsLog, check_metrics_rows
from dqn_ref.training.numerical_guard import all_finite, non_finite_error
from dqn_ref.training.plot import plot_curve
from dqn_ref.training.policy import Policy
from dqn_ref.training.progress import Progress
from dqn_ref.training.resume_checks import (
    check_config_json_matches,
    check_more_steps,
    check_run_not_finished,
)
from dqn_ref.training.run_folder import remove_leftover_temporaries
from dqn_ref.training.run_logs import RunLogs, open_run_logs
from dqn_ref.training.seeding import seed_everything
from dqn_ref.training.thread_choice import ThreadChoice
from dqn_ref.training.wording import count

EVAL_LABELS = {"eval": "evaluation", "final": "final evaluation"}
Clock = Callable[[], float]


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
    solved_threshold: float | None  # the evaluation mean that counts as solved (None: none)
    eval_epsilon: float  # the exploration rate of the evaluations
    first_solved_step: int | None
    first_solved_time_s: float | None
    first_solved_train_time_s: float | None  # first_solved_time_s less the evaluations' time
    stable_solved_step: int | None  # eq-stable-solve: every evaluation from this one on solves
    stable_solved_time_s: float | None  # wall-clock at that evaluation, evaluations included
    stable_solved_train_time_s: float | None  # stable_solved_time_s less the evaluations' time
    final_eval: EvalSummary | None
    final_eval_time_s: float | None = None  # after wall_time_s, the final evaluation's seconds
    # What ended training: total_steps, total_episodes, total_minutes, stop_when_solved, callback.
    stopped_by: str = "total_steps"


def resume(
    run_dir: Path,
    progress: bool = True,
    stop: StopCheck | None = None,
    device: str | None = None,
    env: EnvMaker | None = None,
    total_steps: int | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Continue the run in `run_dir` from its checkpoint.pt, to its config's total_steps, or to
    `total_steps` agent steps, a finished run too (spec/reliability.md#more-steps).

    spec/reliability.md#resume says when the result equals that of an uninterrupted run.
    `device` replaces the config's (a run trained on a GPU can be finished on a CPU). `env` is
    the callable a run's environment was made with, given again (env_source.py).
    """
    payload = load_checkpoint(run_dir / "checkpoint.pt")
    config = config_of(payload)
    give_callable_again(config.env_id, env)
    if total_steps is None:
        check_run_not_finished(
            run_dir, config, payload["counters"], payload["metrics_rows"], training_seconds(payload)
        )
        check_config_json_matches(run_dir, config)
    else:
        check_more_steps(
            run_dir, config, payload["counters"], total_steps, training_seconds(payload)
        )
        check_config_json_matches(run_dir, config, ("total_steps",))
        config = config.replace(total_steps=total_steps)
    if device is not None:
        config = config.replace(device=device)
    preset = payload.get("preset", "custom")
    return train(config, run_dir, preset, progress, stop, payload, callbacks=callbacks)


def training_seconds(payload: dict[str, Any]) -> float:
    """A checkpoint's seconds of training: wall-clock up to it, less its evaluations."""
    loop = payload["loop"]
    return float(loop["elapsed_s"]) - float(loop["eval_time_s"])


@dataclass
class RunParts:
    """What the loop runs on, built from the config or restored from a checkpoint."""

    agent: DQNAgent
    spaces: EnvSpaces
    envs: VectorEnv
    eval_envs: VectorEnv | None  # None without evaluations during training
    replay: Replay
    eval_generator: torch.Generator  # the evaluations' exploration draws


@dataclass
class RunRecords:
    """Where the run reports: metrics.csv (and its TensorBoard twin), the progress bar, and the
    clock that times both."""

    metrics: MetricsLog
    progress: Progress
    clock: Clock
    logs: RunLogs | None = None  # TensorBoard and W&B; also metrics.listener


@dataclass
class TrainingRun:
    """A run's config and folder, its parts and records, the loop's state, and what the run does
    between two steps of the loop."""

    config: DQNConfig
    run_dir: Path
    preset: str
    parts: RunParts
    records: RunRecords
    state: LoopState
    checkpoint_step: int | None = None  # the step checkpoint.pt holds now
    last_eval: EvalSummary | None = None
    solved_stop: bool = False  # stop_when_solved and the last evaluation solved in every episode
    ended_by: str = "total_steps"  # stopped_by() once the loop has ended
    callbacks: Callbacks = dataclasses.field(default_factory=lambda: Callbacks([]))

    def __post_init__(self) -> None:
        # Seconds of training: those before the checkpoint a resumed run starts from, plus this
        # process's. Wall-clock columns therefore differ between a resumed and an uninterrupted run.
        self.start_time = self.records.clock() - self.state.elapsed_s
        self.timer = CheckpointTimer(60.0 * self.config.checkpoint_minutes, self.records.clock)

    def seconds(self) -> float:
        return self.records.clock() - self.start_time

    def log_episodes(self, report: LoopReport) -> None:
        """A metrics row per finished episode (raw return, length, mean loss since the last row),
        then this step's losses join the next row's mean."""
        state = self.state
        if self.records.logs is not None:
            self.records.logs.add_updates(report.updates)
        state.episode_return += np.where(report.real, report.reward, 0.0)
        state.episode_length += report.real
        finished = np.flatnonzero(report.ended & report.real)
        for number, index in enumerate(finished, start=state.episode - len(finished) + 1):
            loss_mean = (
                (state.loss_sum / state.losses_since_row).item()
                if state.losses_since_row
                else float("nan")
            )
            if state.losses_since_row and not math.isfinite(loss_mean):
                raise non_finite_error(
                    "the TD loss", state.step, self.checkpoint_step, self.run_dir
                )
            state.loss_sum.zero_()
            state.losses_since_row = 0
            episode_return = float(state.episode_return[index])
            self.records.metrics.write(
                kind="train",
                step=state.step,
                episode=number,
                wall_time_s=self.seconds(),
                **{"return": episode_return},
                length=int(state.episode_length[index]),
                epsilon=report.epsilon,
                loss=loss_mean,
            )
            state.recent_returns.append(episode_return)
            self.callbacks.episode_end(
                EpisodeEnd(
                    state.step,
                    number,
                    episode_return,
                    int(state.episode_length[index]),
                    report.epsilon,
                )
            )
            state.episode_return[index] = 0.0
            state.episode_length[index] = 0
        for outcome in report.updates:
            state.loss_sum += outcome.loss
        state.losses_since_row += len(report.updates)

    def checkpoint(self) -> None:
        """Save, unless the numbers have gone bad: the last good checkpoint is then kept."""
        state = self.state
        if not all_finite([state.loss_sum, *self.parts.agent.online_parameters]):
            raise non_finite_error(
                "the TD loss or the online network's weights",
                state.step,
                self.checkpoint_step,
                self.run_dir,
            )
        state.elapsed_s = self.seconds()
        resumable = Resumable(
            loop=state,
            preset=self.preset,
            metrics_rows=len(self.records.metrics.rows),
            envs=self.parts.envs,
            eval_envs=self.parts.eval_envs,
            eval_generator=self.parts.eval_generator,
            replay=self.parts.replay if self.config.checkpoint_replay else None,
        )
        save_checkpoint(
            self.run_dir / "checkpoint.pt",
            self.config,
            self.parts.agent,
            self.parts.spaces,
            resumable,
        )
        self.checkpoint_step = state.step
        self.timer.restart()

    def evaluate(self, envs: VectorEnv, kind: str, generator: torch.Generator) -> EvalSummary:
        """Evaluate the online network (spec/evaluation.md) and log the result."""
        config = self.config
        train_time_s = self.seconds() - self.state.eval_time_s
        returns = evaluate(
            self.parts.agent.online_net,
            envs,
            config.eval_epsilon,
            generator,
            self.parts.agent.device,
        )
        summary = EvalSummary.of(returns)
        self.records.metrics.write(
            kind=kind,
            step=self.state.step,
            episode=self.state.episode,
            wall_time_s=self.seconds(),
            **{"return": summary.mean},
            length=summary.episodes,
            epsilon=config.eval_epsilon,
            eval_std=summary.std,
            eval_min=summary.min,
            eval_max=summary.max,
            train_time_s=train_time_s,
        )
        self.records.progress.write(
            f"{EVAL_LABELS[kind]} at step {self.state.step}: mean {summary.mean:.1f} "
            f"+- {summary.std:.1f} (min {summary.min:.0f}, max {summary.max:.0f}, "
            f"{count(summary.episodes, 'episode')})"
        )
        return summary

    def evaluate_and_checkpoint_when_due(self) -> None:
        """Alg. step 9's evaluation and checkpoint every eval_interval agent steps; between them,
        a checkpoint every checkpoint_minutes of wall-clock time."""
        state = self.state
        if self.parts.eval_envs is None or state.step < state.next_eval_step:
            if self.timer.due():
                self.checkpoint()
            return
        if not all_finite(self.parts.agent.online_parameters):
            raise non_finite_error(
                "the online network's weights", state.step, self.checkpoint_step, self.run_dir
            )
        eval_start = self.records.clock()
        self.last_eval = self.evaluate(self.parts.eval_envs, "eval", self.parts.eval_generator)
        eval_end = self.records.clock()
        policy = Policy(
            self.config,
            self.parts.agent.online_net,
            self.parts.spaces.obs_shape,
            self.parts.spaces.num_actions,
            self.parts.agent.device,
        )
        self.callbacks.evaluation_end(
            EvaluationEnd(state.step, state.episode, self.last_eval, policy)
        )
        state.eval_time_s += eval_end - eval_start
        threshold = self.config.solved_threshold  # None: the environment gives none
        solved = threshold is not None and self.last_eval.mean >= threshold
        if state.first_solved is None and solved:
            # Wall-clock counts the evaluation that confirmed the solve; training time leaves
            # out every evaluation's time.
            seconds = eval_end - self.start_time
            state.first_solved = (state.step, seconds, seconds - state.eval_time_s)
        while state.next_eval_step <= state.step:
            state.next_eval_step += self.config.eval_interval
        self.solved_stop = self.solved_in_every_episode()
        self.checkpoint()

    def solved_in_every_episode(self) -> bool:
        """With stop_when_solved: every episode of the last evaluation during training reached
        solved_threshold (spec/evaluation.md#stopping-once-solved). Read off the metrics rows, so
        that a run resumed from the checkpoint of the evaluation it stopped at stays stopped."""
        return self.config.stop_when_solved and solved_in_every_episode(
            self.records.metrics.rows, self.config.solved_threshold
        )

    def stop_if_asked(self, stop: StopCheck | None) -> None:
        """A stop request ends the run here, with a checkpoint `resume` continues from."""
        if stop is None or not stop.should_stop(self.state.step):
            return
        if self.checkpoint_step != self.state.step:
            self.checkpoint()
        raise TrainingInterruptedError(
            self.run_dir, self.state.step, self.config.checkpoint_replay, stop.signal_number
        )

    def out_of_time(self) -> bool:
        """total_minutes of training (wall-clock less the evaluations) are spent."""
        limit_s = 60.0 * self.config.total_minutes
        return limit_s > 0 and self.seconds() - self.state.eval_time_s >= limit_s

    def stopped_by(self) -> str:
        """The limit or request that ended training, the first that holds in this order."""
        config, state = self.config, self.state
        if self.solved_stop:
            return "stop_when_solved"
        if self.callbacks.stop_requested:
            return "callback"
        if state.step < config.total_steps and self.out_of_time():
            return "total_minutes"
        if config.total_episodes and state.episode >= config.total_episodes:
            return "total_episodes"
        return "total_steps"

    def result(
        self, wall_time: float, final_eval: EvalSummary | None, final_eval_time: float | None
    ) -> TrainResult:
        state = self.state
        first_solved = state.first_solved
        stable_solved = stable_solve_of_run(self.records.metrics.rows, self.config.solved_threshold)
        # A resume without the buffer counts the updates of its refill as skipped in advance;
        # those the run ended before were never due, so neither made nor skipped.
        never_due = max(0, state.updates_done - updates_due(self.config, state.step))
        return TrainResult(
            run_dir=self.run_dir,
            steps=state.step,
            episodes=state.episode,
            updates=state.updates_done - never_due,
            updates_skipped=state.updates_skipped - never_due,
            wall_time_s=wall_time,
            eval_time_s=state.eval_time_s,
            solved_threshold=self.config.solved_threshold,
            eval_epsilon=self.config.eval_epsilon,
            first_solved_step=first_solved[0] if first_solved else None,
            first_solved_time_s=first_solved[1] if first_solved else None,
            first_solved_train_time_s=first_solved[2] if first_solved else None,
            stable_solved_step=stable_solved[0] if stable_solved else None,
            stable_solved_time_s=stable_solved[1] if stable_solved else None,
            stable_solved_train_time_s=stable_solved[2] if stable_solved else None,
            final_eval=final_eval,
            final_eval_time_s=final_eval_time,
            stopped_by=self.ended_by,
        )


def train(
    config: DQNConfig,
    run_dir: Path,
    preset_name: str = "custom",
    progress: bool = True,
    stop: StopCheck | None = None,
    resume_from: dict[str, Any] | None = None,
    clock: Clock = time.perf_counter,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train one agent as `config` says and write the run folder (docs/guides/training.md, "What
    a run writes").

    After each step of the loop `stop.should_stop(step)` is asked; when it says so, a checkpoint
    is saved and TrainingInterruptedError raised. `resume_from`, a checkpoint's payload, continues
    that run. `clock` (seconds) times the run and its checkpoints; tests pass their own.
    `callbacks` are called at each episode's and evaluation's end (callbacks.py).
    """
    hooks = Callbacks(callbacks)
    # The threshold the run is judged by, stated in config.json: the config's or the env's own.
    config = with_env_threshold(config)
    # Alg. step 1: seed, build the environments, the replay buffer and both networks.
    seed_everything(config.seed)
    threads = ThreadChoice(config.torch_threads)
    threads.apply()
    device = resolve_device(config.device)
    envs = make_env(
        config.env_id,
        config.num_envs,
        config.max_episode_steps,
        atari_options(config, training=True),
        env_kwargs_of(config.env_kwargs),
    )
    spaces = env_spaces(envs, config.env_id)
    eval_envs = evaluation_envs(config, final=False) if config.eval_interval else None
    replay = make_replay_buffer(config, spaces, device)
    agent = make_agent(config, spaces.obs_shape, spaces.num_actions, device)
    if progress and device.type == "cpu":
        print_cpu_estimate(config, spaces, device)
    eval_generator = torch.Generator(device=device)
    eval_generator.manual_seed(config.seed + EVAL_SEED_OFFSET)

    def write_config() -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(
            run_dir / "config.json", {"preset": preset_name, "config": dataclasses.asdict(config)}
        )

    checkpoint_step = None
    if resume_from is None:
        write_config()
        metrics = MetricsLog(run_dir / "metrics.csv")
        obs, _ = envs.reset(seed=config.seed)
        state = LoopState.start(obs, device, config.eval_interval)
    else:
        # Everything that can refuse the checkpoint (its networks, its buffer, its environments,
        # metrics.csv's rows) before a file is touched: a refused resume changes nothing.
        restored = restore_run(resume_from, agent, replay, envs, eval_envs, eval_generator, device)
        state, envs, eval_envs = restored.loop, restored.envs, restored.eval_envs
        check_metrics_rows(run_dir / "metrics.csv", resume_from["metrics_rows"])
        remove_leftover_temporaries(run_dir)
        # A run continued to more steps is unfinished again until its new summary is written.
        (run_dir / "summary.json").unlink(missing_ok=True)
        metrics = MetricsLog.continued(run_dir / "metrics.csv", resume_from["metrics_rows"])
        write_config()
        checkpoint_step = state.step
        exactness = (
            "bit-exact"
            if not restored.not_exact_because
            else "not bit-exact: " + "; ".join(restored.not_exact_because)
        )
        print(f"dqn_ref: resuming {run_dir} at step {state.step} ({exactness})", flush=True)
    if config.checkpoint_replay:
        print(
            f"dqn_ref: checkpoints include the replay buffer, up to {format_bytes(replay.nbytes)}",
            flush=True,
        )
    run_logs = open_run_logs(
        config, run_dir, lambda: state.updates_done, dataclasses.asdict(config)
    )
    metrics.listener = run_logs
    bar = Progress(
        config.total_steps,
        state.step,
        f"{config.env_id} {preset_name} s{config.seed}",
        progress,
    )
    parts = RunParts(agent, spaces, envs, eval_envs, replay, eval_generator)
    records = RunRecords(metrics, bar, clock, run_logs)
    run = TrainingRun(
        config=config,
        run_dir=run_dir,
        preset=preset_name,
        parts=parts,
        records=records,
        state=state,
        checkpoint_step=checkpoint_step,
        callbacks=hooks,
    )
    run.solved_stop = run.solved_in_every_episode()
    try:
        update = threads.timed(make_update(config, agent, replay))
        loop = run_loop(config, agent, envs, replay, state, update)
        reports = iter(()) if run.solved_stop else loop
        for report in reports:
            run.log_episodes(report)
            run.evaluate_and_checkpoint_when_due()
            bar.advance(int(report.real.sum()), state, report.epsilon, run.last_eval)
            run.stop_if_asked(stop)
            if run.solved_stop or run.callbacks.stop_requested or run.out_of_time():
                break  # spec/evaluation.md#stopping-once-solved: the final evaluation follows
        run.ended_by = run.stopped_by()
        bar.close()
        wall_time = run.seconds()

        # Alg. step 10: final checkpoint and evaluation, then the curve and the summary.
        run.checkpoint()
        if stop is not None and stop.should_stop(state.step):
            raise TrainingInterruptedError(
                run_dir, state.step, config.checkpoint_replay, stop.signal_number
            )
        final_eval, final_eval_time = None, None
        if config.final_eval_episodes:
            # Said before it starts: 30 Pong games take about a minute, with no bar moving.
            bar.write(
                f"final evaluation: {count(config.final_eval_episodes, 'episode')} at epsilon "
                f"{config.eval_epsilon:g}..."
            )
            final_start = clock()
            final_envs = evaluation_envs(config, final=True)
            generator = final_evaluation_generator(config, device)
            final_eval = run.evaluate(final_envs, "final", generator)
            final_envs.close()
            final_eval_time = clock() - final_start
    finally:
        bar.close()
        metrics.close()
        run.parts.envs.close()
        if run.parts.eval_envs is not None:
            run.parts.eval_envs.close()

    plot_curve(
        metrics,
        run_dir / "curve.png",
        f"{config.env_id}, preset {preset_name}, seed {config.seed}",
        config.solved_threshold,
    )
    result = run.result(wall_time, final_eval, final_eval_time)
    summary = dataclasses.asdict(result)
    summary["run_dir"] = str(run_dir.resolve())  # the same folder, whatever the working folder
    summary["steps_per_s"] = state.step / wall_time if wall_time > 0 else None
    atomic_write_json(run_dir / "summary.json", summary)
    return result

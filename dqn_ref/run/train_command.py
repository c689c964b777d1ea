"""The commands that train or read one run: TASK (train), resume RUN_DIR and eval RUN_DIR."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dqn_ref.config import MAX_ENV_COPIES
from dqn_ref.errors import DQNRefError
from dqn_ref.run.failure import report_failure, report_interruption, report_video_failure
from dqn_ref.run.flags import PROG, config_from_args, float_between, int_at_least
from dqn_ref.run.run_outcome import print_result
from dqn_ref.training.interrupt import SignalStop, TrainingInterruptedError, sigterm_as_ctrl_c
from dqn_ref.training.run_folder import (
    folder_lock,
    prepare_run_dir,
    run_dir_path,
)
from dqn_ref.training.wording import count

if TYPE_CHECKING:
    from dqn_ref.training.saved_agent import SavedAgent


RESUME_HELP = "continue a run from its checkpoint.pt to its total_steps, or to --steps N"
RESUME_DESCRIPTION = """\
Continue the run in RUN_DIR from its checkpoint.pt, with the run's own config, until its
total_steps; metrics.csv is cut back to the checkpoint's rows and appended to. With the replay
buffer in the checkpoint (--checkpoint-replay when training) the result equals that of a run never
interrupted, wall-clock columns aside; without it the buffer refills before learning goes on.
Nothing is changed in RUN_DIR before it is checked: a finished run (summary.json written), a
config.json edited since the checkpoint, or a checkpoint whose networks do not fit its config is
refused in one line, every file left as it was.

--steps N continues the run, a finished one too, to N agent steps, as if its config had said
total_steps=N from the start (spec/reliability.md#more-steps): epsilon goes on along its schedule
(a function of the step); a decaying learning rate follows eq-lr-linear over the N steps from
there on. With --checkpoint-replay it ends exactly as a run of N steps never stopped. A run that
ended at its total_episodes, or once solved (stop_when_solved), is refused: a longer run would
have ended there too."""
EVAL_HELP = "evaluate a saved run's network as the final evaluation does"
EVAL_DESCRIPTION = """\
Evaluate the online network in RUN_DIR/checkpoint.pt under the protocol of spec/evaluation.md:
fresh environments seeded as the final evaluation's, one episode each, and print the mean, std,
min and max return. With the run's own --episodes and --epsilon it replays its final evaluation
exactly, also at an epsilon above 0, on the same kind of device (cpu, cuda) as the run.
With --video it first films one episode, at the same epsilon, from the final evaluation's first
seed: a looping GIF (the default, RUN_DIR/video.gif) or an MP4 (pip install 'dqn_ref[video]')."""
VIDEO_NAME = "video.gif"  # in the run folder, where --video is given without a path
VIDEO_HELP = (
    "write a video of one episode played by the {agent} at the run's eval_epsilon: .gif or "
    f".mp4 (default PATH: RUN_DIR/{VIDEO_NAME}); needs pip install 'dqn_ref[video]'"
)


def add_video_flag(parser: argparse.ArgumentParser, agent: str) -> None:
    """--video [PATH]: given alone, the run folder's video.gif (resolved by video_path)."""
    parser.add_argument(
        "--video",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help=VIDEO_HELP.format(agent=agent),
    )


def video_path(video: str | None, run_dir: Path) -> Path | None:
    """Where --video writes: None without the flag, RUN_DIR/video.gif for the flag alone."""
    if video is None:
        return None
    return run_dir / VIDEO_NAME if video == "" else Path(video)  # "": the flag alone


def write_video_of_agent(agent: SavedAgent, path: Path) -> None:
    """Film a saved agent and say what was filmed."""
    episode = agent.save_video(path)
    print(
        f"video: 1 episode, return {episode.episode_return:g} in {episode.steps} agent steps, "
        f"{len(episode.frames)} pictures at {episode.fps:g} per second -> {path}",
        flush=True,
    )


def add_run_dir_commands(commands: Any) -> None:
    """The commands that act on a run folder: resume and eval."""
    device_help = "where the network runs (default: the run's own device setting)"
    resume_parser = commands.add_parser(
        "resume",
        help=RESUME_HELP,
        description=RESUME_DESCRIPTION,
        allow_abbrev=False,
        usage=f"{PROG} resume RUN_DIR [--steps N] [--device DEVICE] [--no-progress]",
    )
    resume_parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run's folder")
    resume_parser.add_argument(
        "--steps",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="continue to N agent steps in all, a finished run too (default: the run's own "
        "total_steps)",
    )
    resume_parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help=device_help)
    resume_parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    eval_parser = commands.add_parser(
        "eval",
        help=EVAL_HELP,
        description=EVAL_DESCRIPTION,
        allow_abbrev=False,
        usage=f"{PROG} eval RUN_DIR [--episodes N] [--epsilon E] [--device DEVICE] "
        "[--video [PATH]]",
    )
    eval_parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run's folder")
    eval_parser.add_argument(
        "--episodes",
        type=int_at_least(1, MAX_ENV_COPIES),  # one environment copy per episode
        default=None,
        metavar="N",
        help="episodes to play (default: the run's final_eval_episodes, or 100)",
    )
    eval_parser.add_argument(
        "--epsilon",
        type=float_between(0.0, 1.0),
        default=None,
        metavar="E",
        help="exploration rate while evaluating (default: the run's eval_epsilon, 0: greedy)",
    )
    eval_parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where the network runs (default: auto, cuda when present)",
    )
    add_video_flag(eval_parser, "saved agent")


def report_run_failure(
    error: DQNRefError | OSError | KeyboardInterrupt, run_dir: Path | None
) -> int:
    """The one line a training or resumed run ends with when it fails or is stopped early."""
    return report_failure(
        error,
        "run",
        run_dir,
        "what was written so far is kept",
        "(metrics.csv, and checkpoint.pt from the last evaluation)",
    )


def train_main(args: argparse.Namespace) -> int:
    run_dir: Path | None = None
    try:
        config = config_from_args(args)
        # Imported here so that --help and argument errors answer without loading torch.
        from dqn_ref.training.build import resolve_device
        from dqn_ref.training.preflight import check_run_can_start, run_warnings
        from dqn_ref.training.train import train

        device = resolve_device(config.device)
        check_run_can_start(config, device)
        run_dir = run_dir_path(args.out, config, args.preset)
        video = video_path(args.video, run_dir)
        if video is not None:
            from dqn_ref.training.video import check_video_path

            check_video_path(video)
        with folder_lock(run_dir):
            prepare_run_dir(run_dir, config, args.preset, args.overwrite)
            print(
                f"dqn_ref: {args.task}, preset {args.preset}, seed {config.seed}, "
                f"device {device}, {config.total_steps} agent steps -> {run_dir}",
                flush=True,
            )
            for warning in run_warnings(config):
                print(f"dqn_ref: warning: {warning}", flush=True)
            with SignalStop() as stop:
                result = train(
                    config, run_dir, args.preset, progress=not args.no_progress, stop=stop
                )
    except TrainingInterruptedError as interrupted:
        return report_interruption(interrupted)
    except (DQNRefError, OSError, KeyboardInterrupt) as error:
        return report_run_failure(error, run_dir)
    print_result(result)
    if video is not None:
        try:
            from dqn_ref.training.saved_agent import load

            with sigterm_as_ctrl_c():
                write_video_of_agent(load(run_dir, config.device), video)
        except (DQNRefError, OSError, KeyboardInterrupt) as error:
            return report_video_failure(
                error, run_dir, video, f"the run's files in {run_dir} are complete"
            )
    return 0


def resume_main(args: argparse.Namespace) -> int:
    try:
        from dqn_ref.training.train import resume

        # A missing folder is reported by resume itself; the lock would create it. Resume
        # checks the folder before it changes anything, crash leftovers included.
        lock = folder_lock(args.run_dir) if args.run_dir.is_dir() else contextlib.nullcontext()
        with lock, SignalStop() as stop:
            result = resume(
                args.run_dir, not args.no_progress, stop, args.device, total_steps=args.steps
            )
    except TrainingInterruptedError as interrupted:
        return report_interruption(interrupted)
    except (DQNRefError, OSError, KeyboardInterrupt) as error:
        return report_run_failure(error, args.run_dir)
    print_result(result)
    return 0


def eval_main(args: argparse.Namespace) -> int:
    video: Path | None = None
    filming = False
    try:
        from dqn_ref.training.build import resolve_device
        from dqn_ref.training.saved_run import evaluate_saved_run

        # SIGTERM ends eval as Ctrl-C does, with its one line, the video's included.
        with sigterm_as_ctrl_c():
            device = resolve_device(args.device)
            video = video_path(args.video, args.run_dir)
            if video is not None:
                from dqn_ref.training.saved_agent import load
                from dqn_ref.training.video import check_video_path

                check_video_path(video)
                agent = load(args.run_dir, args.device)
                filming = True
                write_video_of_agent(agent, video)
                filming = False
            config, summary = evaluate_saved_run(args.run_dir, args.episodes, args.epsilon, device)
    except (DQNRefError, OSError, KeyboardInterrupt) as error:
        if filming and video is not None:
            return report_video_failure(
                error, args.run_dir, video, f"the run's files in {args.run_dir} are unchanged"
            )
        return report_failure(error, "run", args.run_dir, "nothing was written", "")
    print(
        f"evaluation of {args.run_dir} over {count(summary.episodes, 'episode')} "
        f"(epsilon {config.eval_epsilon:g}, seed {config.seed}): mean {summary.mean:.1f}, "
        f"std {summary.std:.1f}, min {summary.min:.0f}, max {summary.max:.0f}"
    )
    return 0

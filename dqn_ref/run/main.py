"""Command line: python -m dqn_ref.run TASK [--preset NAME] [--FIELD VALUE ...] to train,
python -m dqn_ref.run resume RUN_DIR to continue a run, python -m dqn_ref.run eval RUN_DIR to
evaluate one, python -m dqn_ref.run study TASK [--seeds N] [...] for one run per seed, compared,
and python -m dqn_ref.run tune TASK [...] for an Optuna hyperparameter search
(dqn_ref/studies/tune.py).

Every DQNConfig field is a flag (--learning-rate 3e-4, --no-reward-clip, --hidden-sizes 64,64);
flags override the chosen preset. Errors in what you type print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dqn_ref import __version__
from dqn_ref.presets import TASK_PRESETS
from dqn_ref.run.flags import PROG, TASK_HELP, OneLineParser, add_task_flags
from dqn_ref.run.process_io import outputs_that_may_close, set_aside_unknown_mplbackend
from dqn_ref.run.study_command import add_study_command, study_main
from dqn_ref.run.train_command import (
    add_run_dir_commands,
    add_video_flag,
    eval_main,
    resume_main,
    train_main,
)
from dqn_ref.run.tune_command import add_tune_command, tune_main

DESCRIPTION = """\
Train the reference DQN. Each task has presets; flags named after config fields override them.

examples:
  python -m dqn_ref.run cartpole                      # the tuned default preset
  python -m dqn_ref.run cartpole --preset paper       # the replication paper's exact settings
  python -m dqn_ref.run cartpole --seed 3 --steps 20000 --learning-rate 5e-4
  python -m dqn_ref.run study cartpole --seeds 10     # seeds 0-9 in parallel, compared
  python -m dqn_ref.run pong                          # 2M agent steps, for a GPU
  python -m dqn_ref.run pong --preset pong-cpu        # Pong on a 2-core CPU
  python -m dqn_ref.run pong --steps 20000            # a short CPU run
  python -m dqn_ref.run pong --preset nature          # Mnih et al. (2015), 50M frames
  python -m dqn_ref.run control --env-id Acrobot-v1   # any discrete-action vector env
  python -m dqn_ref.run atari --env-id ALE/Breakout-v5  # any Atari game (a GPU job)
  python -m dqn_ref.run resume runs/NAME              # continue a stopped run
  python -m dqn_ref.run resume runs/NAME --steps 80000  # train a run on, to 80,000 steps
  python -m dqn_ref.run control --env-id mypkg.envs:MyEnv-v0 --env-kwargs '{"size": 8}'
                                                      # imports mypkg.envs, which registers it
  python -m dqn_ref.run eval runs/NAME --episodes 20  # evaluate a saved run
A run writes runs/<env>-<preset>-s<seed>-<time>/ (or --out): config.json, metrics.csv,
checkpoint.pt, curve.png and summary.json (with --wandb PROJECT[/RUN_NAME], a Weights & Biases
run too). `study --help` says what a study writes. `--version` prints the version.
From Python (README, "From Python"): dqn_ref.train(config_or_preset, env=id_or_callable,
env_kwargs={...}, callbacks=[...], verbose=0), dqn_ref.resume(run_dir, total_steps=N),
dqn_ref.load(run_dir) (act on one observation or a batch, play, save_policy), load_policy.
Ctrl-C (or SIGTERM) saves a checkpoint and says how to resume; spec/reliability.md says what
resuming guarantees. Measured (docs/claims.json lists each figure with its source): the default
CartPole preset takes a median 2.3 s of training to a stable solve on a 2-core Intel Xeon
(docs/cartpole/study-heldout.md); pong-cpu trained 650,003 agent steps in 56 minutes of training
on a 2-core Intel Xeon (docs/results.md); the default pong preset trained at 511 agent steps/s on
one NVIDIA H200 (docs/results.md, "Speed by preset on the H200")."""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description=DESCRIPTION,
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"dqn_ref {__version__}", help="print the version"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser
    )
    for task in TASK_PRESETS:
        task_parser = commands.add_parser(
            task,
            help=TASK_HELP[task],
            description=TASK_HELP[task],
            allow_abbrev=False,
            usage=f"{PROG} {task} [--preset NAME] [--out DIR] [--FIELD VALUE ...]",
        )
        task_parser.set_defaults(task=task)
        add_task_flags(
            task_parser,
            task,
            "run",
            "runs/<env>-<preset>-s<seed>-<time>",
            "evaluations are still printed",
        )
        add_video_flag(task_parser, "trained agent after the final evaluation")
    add_study_command(commands)
    add_tune_command(commands)
    add_run_dir_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with outputs_that_may_close():
        ignored = set_aside_unknown_mplbackend()
        if ignored is not None:
            print(
                f"dqn_ref: MPLBACKEND={ignored!r} is not a backend matplotlib knows, so it is "
                "ignored here (dqn_ref draws its figures to files with Agg); unset or correct it "
                "for other programs",
                file=sys.stderr,
            )
        return run_command(argv)


def run_command(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "study":
        return study_main(args, sys.argv[1:] if argv is None else argv)
    if args.command == "tune":
        return tune_main(args, sys.argv[1:] if argv is None else argv)
    if args.command == "resume":
        return resume_main(args)
    if args.command == "eval":
        return eval_main(args)
    return train_main(args)


if __name__ == "__main__":
    sys.exit(main())

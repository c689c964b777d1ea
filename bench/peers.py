"""A dqn_ref preset against Stable-Baselines3's DQN with RL-Zoo's preset for the same environment
(CartPole-v1, Acrobot-v1, MountainCar-v0 or LunarLander-v3), on the same seeds and under one
evaluation protocol: steps to solve, wall-clock to solve, and their ratios.

Both sides are judged by dqn_ref's protocol (spec/evaluation.md), through the same code
(dqn_ref.evaluate): every eval_interval agent steps, eval_episodes greedy episodes on environments
seeded apart from training's; solved at the first evaluation whose mean return reaches
solved_threshold, and stably solved at the first evaluation from which every later one reaches it
(spec/evaluation.md#eq-stable-solve); after the run, a final evaluation of final_eval_episodes
episodes. dqn_ref runs it inside dqn_ref.training.train.train; SB3 runs it from a callback on its
`learn` loop, handing the callback its Q-network. Wall-clock to solve is given including the
evaluations up to the solve (what a user waits) and excluding them (the training alone, so that
neither side pays for evaluation cost).

python -m bench.peers [--env cartpole|acrobot|mountaincar|lunarlander] --seeds 0-4 [--workers 2]
    [--steps N] [--sb3-steps N] [--out peers.json]

--env names dqn_ref's preset (cartpole, the default, or the RL-Zoo presets acrobot, mountaincar,
lunarlander); the protocol is that preset's evaluation settings and solved threshold (the
environment's reward_threshold). Each side trains for its own preset's length: dqn_ref the
preset's total_steps, SB3 RL-Zoo's n_timesteps (its exploration is a fraction of that).

Each seed's two runs go to a pool of --workers processes, one torch thread each, both on the CPU.
Needs stable-baselines3 (`pip install -e .[peers]`; LunarLander also `.[box2d]`). RL-Zoo's presets
are bench/sb3_dqn.py's RL_ZOO (each exploration_fraction is a fraction of --sb3-steps, as in
RL-Zoo); `--sb3-preset matched` runs SB3 at dqn_ref's own settings instead.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from bench.sb3_dqn import RL_ZOO, make_dqn, matched_kwargs, sb3_available
from bench.speed_ratios import machine
from dqn_ref.config import DQNConfig
from dqn_ref.envs import with_env_threshold
from dqn_ref.errors import DQNRefError
from dqn_ref.evaluate import EVAL_SEED_OFFSET, evaluate, evaluation_envs
from dqn_ref.presets import PRESETS
from dqn_ref.solve import stable_solve_index
from dqn_ref.training.train import train

IMPLEMENTATIONS = ("dqn_ref", "sb3")
CPU = torch.device("cpu")


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,3,7' -> [0, 3, 7]; ranges and lists mix: '0-2,9'."""
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        seeds += range(int(first), int(last or first) + 1)
    return seeds


def protocol_config(preset: str, seed: int, steps: int, eval_interval: int) -> DQNConfig:
    """The preset for this seed and length, on the CPU: dqn_ref's run, and the evaluation
    protocol both sides are judged by (its solved threshold the environment's own)."""
    return with_env_threshold(
        PRESETS[preset].replace(
            seed=seed,
            total_steps=steps,
            eval_interval=eval_interval,
            device="cpu",
            torch_threads=1,
            tensorboard=False,  # SB3 writes no TensorBoard file here either
        )
    )


def threshold_of(config: DQNConfig) -> float:
    """The protocol's solved threshold; every environment compared here has one."""
    if config.solved_threshold is None:
        raise DQNRefError(f"{config.env_id} has no solved threshold to compare solves by")
    return config.solved_threshold


def run_dqn_ref(
    preset: str, seed: int, steps: int, eval_interval: int, runs_dir: Path
) -> dict[str, Any]:
    """dqn_ref.training.train.train with the preset; the run folder goes under runs_dir."""
    config = protocol_config(preset, seed, steps, eval_interval)
    run_dir = runs_dir / f"dqn_ref-{preset}-s{seed}"
    result = train(config, run_dir, preset_name=preset, progress=False)
    evals: list[tuple[int, float, float]] = []  # step, mean return, training seconds before it
    metrics = run_dir / "metrics.csv"
    if metrics.exists():
        with metrics.open(newline="") as file:
            evals = [
                (int(row["step"]), float(row["return"]), float(row["train_time_s"]))
                for row in csv.DictReader(file)
                if row["kind"] == "eval"
            ]
    final = result.final_eval
    return {
        "implementation": "dqn_ref",
        "seed": seed,
        "steps": result.steps,
        "updates": result.updates,
        "wall_time_s": result.wall_time_s,
        "train_time_s": result.wall_time_s - result.eval_time_s,
        "first_solved_step": result.first_solved_step,
        "first_solved_time_s": result.first_solved_time_s,
        "first_solved_train_time_s": result.first_solved_train_time_s,
        "stable_solved_step": result.stable_solved_step,
        "stable_solved_time_s": result.stable_solved_time_s,
        "stable_solved_train_time_s": result.stable_solved_train_time_s,
        "evals": evals,
        "final_eval": None if final is None else {"mean": final.mean, "min": final.min},
    }


class ProtocolCallback:
    """A functional SB3 callback (called after every env step) that evaluates the model's Q-network
    by dqn_ref's protocol and times the evaluations, so that they can be taken out of the clock."""

    def __init__(self, model: Any, config: DQNConfig):
        self.model = model
        self.config = config
        self.envs = evaluation_envs(config, final=False) if config.eval_interval else None
        self.generator = torch.Generator(device=CPU)
        self.generator.manual_seed(config.seed + EVAL_SEED_OFFSET)
        self.next_eval_step = config.eval_interval
        self.start = time.perf_counter()
        self.eval_time_s = 0.0
        self.evals: list[tuple[int, float, float]] = []  # step, mean, training s before it
        self.eval_end_s: list[float] = []  # wall-clock at the end of each evaluation
        self.first_solved: tuple[int, float, float] | None = None  # step, s with eval, s without

    def __call__(self, _locals: dict[str, Any], _globals: dict[str, Any]) -> bool:
        step = int(self.model.num_timesteps)
        if self.envs is None or step < self.next_eval_step:
            return True
        before = time.perf_counter()
        train_s = before - self.start - self.eval_time_s
        returns = evaluate(
            self.model.q_net, self.envs, self.config.eval_epsilon, self.generator, CPU
        )
        after = time.perf_counter()
        self.eval_time_s += after - before
        mean = float(returns.mean())
        self.evals.append((step, mean, train_s))
        self.eval_end_s.append(after - self.start)
        if self.first_solved is None and mean >= threshold_of(self.config):
            elapsed = after - self.start
            self.first_solved = (step, elapsed, elapsed - self.eval_time_s)
        while self.next_eval_step <= step:
            self.next_eval_step += self.config.eval_interval
        return True

    def close(self) -> None:
        if self.envs is not None:
            self.envs.close()


def run_sb3(
    preset: str, seed: int, steps: int, eval_interval: int, sb3_preset: str
) -> dict[str, Any]:
    """SB3's DQN (RL-Zoo's preset for the environment of dqn_ref's `preset`, or matched to
    dqn_ref's), judged by dqn_ref's protocol."""
    config = protocol_config(preset, seed, steps, eval_interval)
    kwargs = RL_ZOO[preset][1] if sb3_preset == "zoo" else matched_kwargs(config, steps)
    torch.set_num_threads(1)
    model = make_dqn(kwargs, config.env_id, seed)
    callback = ProtocolCallback(model, config)
    try:
        callback.start = time.perf_counter()
        model.learn(steps, callback=callback)
        wall_time = time.perf_counter() - callback.start
    finally:
        callback.close()
    final = None
    if config.final_eval_episodes:
        final_envs = evaluation_envs(config, final=True)
        returns = evaluate(model.q_net, final_envs, config.eval_epsilon, callback.generator, CPU)
        final_envs.close()
        final = {"mean": float(returns.mean()), "min": float(returns.min())}
    solved = callback.first_solved
    stable = stable_solve_index([mean for _, mean, _ in callback.evals], threshold_of(config))
    return {
        "implementation": "sb3",
        "seed": seed,
        "steps": int(model.num_timesteps),
        "updates": int(model._n_updates),
        "wall_time_s": wall_time,
        "train_time_s": wall_time - callback.eval_time_s,
        "first_solved_step": None if solved is None else solved[0],
        "first_solved_time_s": None if solved is None else solved[1],
        "first_solved_train_time_s": None if solved is None else solved[2],
        "stable_solved_step": None if stable is None else callback.evals[stable][0],
        "stable_solved_time_s": None if stable is None else callback.eval_end_s[stable],
        "stable_solved_train_time_s": None if stable is None else callback.evals[stable][2],
        "evals": callback.evals,
        "final_eval": final,
    }


def run_job(
    implementation: str,
    preset: str,
    seed: int,
    steps: int,
    eval_interval: int,
    runs_dir: str,
    sb3_preset: str,
) -> dict[str, Any]:
    """One run in a worker process, with one torch thread."""
    torch.set_num_threads(1)
    if implementation == "dqn_ref":
        # train() writes a line per evaluation even without its progress bar; keep the log to
        # one line per finished run.
        with contextlib.redirect_stdout(io.StringIO()):
            return run_dqn_ref(preset, seed, steps, eval_interval, Path(runs_dir))
    return run_sb3(preset, seed, steps, eval_interval, sb3_preset)


def median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def aggregate(records: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Solved counts and medians; each to-solve median is over the seeds that solved so."""
    solved = [r for r in records if r["first_solved_step"] is not None]
    stable = [r for r in records if r["stable_solved_step"] is not None]
    finals = [r["final_eval"]["mean"] for r in records if r["final_eval"] is not None]
    return {
        "runs": len(records),
        "solved": len(solved),
        "median_steps_to_solve": median([r["first_solved_step"] for r in solved]),
        "median_s_to_solve": median([r["first_solved_time_s"] for r in solved]),
        "median_train_s_to_solve": median([r["first_solved_train_time_s"] for r in solved]),
        "stably_solved": len(stable),
        "median_steps_to_stable_solve": median([r["stable_solved_step"] for r in stable]),
        "median_s_to_stable_solve": median([r["stable_solved_time_s"] for r in stable]),
        "median_train_s_to_stable_solve": median([r["stable_solved_train_time_s"] for r in stable]),
        "median_final_eval": median(finals),
        "final_eval_at_threshold": sum(mean >= threshold for mean in finals),
        "median_wall_time_s": median([r["wall_time_s"] for r in records]),
        "median_train_time_s": median([r["train_time_s"] for r in records]),
    }


def cell(value: Any, spec: str = ".1f") -> str:
    if value is None:
        return "-"
    return f"{value:{spec}}" if isinstance(value, float) else f"{value:,}"


def report(records: list[dict[str, Any]], summary: dict[str, Any], args: Any) -> str:
    sb3_name = f"sb3 ({args.sb3_preset})"
    config = protocol_config(args.env, 0, args.steps, args.eval_interval)
    lines = [
        f"{config.env_id}: dqn_ref's {args.env} preset, {args.steps:,} agent steps per dqn_ref "
        f"run, {args.sb3_steps:,} per SB3 run; protocol: {config.eval_episodes} greedy episodes "
        f"every {args.eval_interval:,} steps, solved at mean >= {threshold_of(config):g}, "
        f"final {config.final_eval_episodes} episodes; {args.workers} worker(s)",
        "",
        "| seed | implementation | solved at step | s to solve (with eval) | s to solve (training) "
        "| stably solved at step | s to stable solve (with eval) | s to stable solve (training) "
        "| final mean (min) | wall-clock s (with eval) | training s | updates |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sorted(records, key=lambda r: (r["seed"], r["implementation"])):
        final = r["final_eval"]
        final_cell = "-" if final is None else f"{final['mean']:.1f} ({final['min']:.0f})"
        lines.append(
            f"| {r['seed']} | {sb3_name if r['implementation'] == 'sb3' else 'dqn_ref'} "
            f"| {cell(r['first_solved_step'])} | {cell(r['first_solved_time_s'])} "
            f"| {cell(r['first_solved_train_time_s'])} "
            f"| {cell(r['stable_solved_step'])} | {cell(r['stable_solved_time_s'])} "
            f"| {cell(r['stable_solved_train_time_s'])} | {final_cell} "
            f"| {cell(r['wall_time_s'])} | {cell(r['train_time_s'])} | {cell(r['updates'])} |"
        )
    lines += [
        "",
        "| implementation | solved | median steps to solve | median s to solve (with eval) "
        "| median s to solve (training) | stably solved | median steps to stable solve "
        "| median s to stable solve (with eval) | median s to stable solve (training) "
        "| median final | final >= threshold |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in IMPLEMENTATIONS:
        a = summary["aggregate"][name]
        lines.append(
            f"| {sb3_name if name == 'sb3' else name} | {a['solved']} of {a['runs']} "
            f"| {cell(a['median_steps_to_solve'], ',.0f')} | {cell(a['median_s_to_solve'])} "
            f"| {cell(a['median_train_s_to_solve'])} | {a['stably_solved']} of {a['runs']} "
            f"| {cell(a['median_steps_to_stable_solve'], ',.0f')} "
            f"| {cell(a['median_s_to_stable_solve'])} "
            f"| {cell(a['median_train_s_to_stable_solve'])} | {cell(a['median_final_eval'])} "
            f"| {a['final_eval_at_threshold']} of {a['runs']} |"
        )
    ratios = summary["ratios_sb3_over_dqn_ref"]
    lines += [
        "",
        "SB3 / dqn_ref (medians over solved seeds; above 1: dqn_ref is better): "
        f"steps {cell(ratios['steps_to_solve'], '.2f')}, "
        f"s with eval {cell(ratios['s_to_solve'], '.2f')}, "
        f"s training {cell(ratios['train_s_to_solve'], '.2f')}; to a stable solve: "
        f"steps {cell(ratios['steps_to_stable_solve'], '.2f')}, "
        f"s with eval {cell(ratios['s_to_stable_solve'], '.2f')}, "
        f"s training {cell(ratios['train_s_to_stable_solve'], '.2f')}",
    ]
    return "\n".join(lines)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--env",
        choices=sorted(RL_ZOO),
        default="cartpole",
        help="dqn_ref's preset, compared with RL-Zoo's for the same environment",
    )
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4, or 0,3,7, or 0-2,9")
    parser.add_argument("--workers", type=int, default=2, help="processes running side by side")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="agent steps per dqn_ref run (default: the preset's)",
    )
    parser.add_argument(
        "--sb3-steps",
        type=int,
        default=None,
        help="agent steps per SB3 run (default: RL-Zoo's n_timesteps for the environment "
        "with --sb3-preset zoo; --steps with matched)",
    )
    parser.add_argument(
        "--eval-interval",
        type=int,
        default=None,
        help="agent steps between evaluations (default: the preset's); change it for smoke "
        "tests only",
    )
    parser.add_argument(
        "--sb3-preset",
        choices=("zoo", "matched"),
        default="zoo",
        help="SB3's hyperparameters: RL-Zoo's preset for the environment, or matched to dqn_ref's",
    )
    parser.add_argument(
        "--runs-dir", type=Path, help="dqn_ref's run folders (none: a temporary folder)"
    )
    parser.add_argument("--out", type=Path, help="also write every run and the summary as JSON")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="train nothing: report the runs of earlier --out files together (the same --env, "
        "lengths and protocol, other seeds), so that a study grows a few seeds at a time",
    )
    args = parser.parse_args(argv)
    if args.merge:
        merged = merge_payloads([json.loads(path.read_text()) for path in args.merge])
        args.env, args.steps, args.sb3_steps, args.eval_interval, args.sb3_preset, args.workers = (
            merged["args"][key]
            for key in ("env", "steps", "sb3_steps", "eval_interval", "sb3_preset", "workers")
        )
        threshold = threshold_of(protocol_config(args.env, 0, args.steps, args.eval_interval))
        summarise(merged["runs"], merged["seeds"], threshold, args, merged["machine"])
        return
    if not sb3_available():
        parser.error("stable-baselines3 is not installed; pip install -e .[peers]")
    seeds = parse_seeds(args.seeds)
    # Each side trains for its own preset's length: dqn_ref's total_steps, RL-Zoo's n_timesteps.
    args.steps = args.steps or PRESETS[args.env].total_steps
    args.eval_interval = args.eval_interval or PRESETS[args.env].eval_interval
    args.sb3_steps = args.sb3_steps or (
        RL_ZOO[args.env][0] if args.sb3_preset == "zoo" else args.steps
    )
    threshold = threshold_of(protocol_config(args.env, 0, args.steps, args.eval_interval))

    with tempfile.TemporaryDirectory() as temporary:
        runs_dir = args.runs_dir or Path(temporary)
        runs_dir.mkdir(parents=True, exist_ok=True)
        jobs = [(name, seed) for seed in seeds for name in IMPLEMENTATIONS]
        records: list[dict[str, Any]] = []
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
            futures = [
                pool.submit(
                    run_job,
                    name,
                    args.env,
                    seed,
                    args.steps if name == "dqn_ref" else args.sb3_steps,
                    args.eval_interval,
                    str(runs_dir),
                    args.sb3_preset,
                )
                for name, seed in jobs
            ]
            for future in as_completed(futures):
                record = future.result()
                records.append(record)
                print(
                    f"done: {record['implementation']} seed {record['seed']}: solved at "
                    f"{cell(record['first_solved_step'])}, {record['wall_time_s']:.1f} s",
                    flush=True,
                )
    summarise(records, seeds, threshold, args, {**machine(), "torch_threads": 1})


# What runs must share to be reported together: the same comparison, seed apart.
MERGE_KEYS = ("env", "steps", "sb3_steps", "eval_interval", "sb3_preset", "workers")


def merge_payloads(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs of several --out files as one, refused when they compare different things, ran
    on different machines or repeat a seed."""
    first = payloads[0]
    for payload in payloads[1:]:
        for key in MERGE_KEYS:
            if payload["args"][key] != first["args"][key]:
                raise SystemExit(
                    f"bench.peers: --merge files differ in {key}: "
                    f"{first['args'][key]} and {payload['args'][key]}"
                )
        if payload["machine"]["cpu"] != first["machine"]["cpu"]:
            raise SystemExit("bench.peers: --merge files were measured on different CPUs")
    seeds = [seed for payload in payloads for seed in payload["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"bench.peers: --merge files repeat a seed: {sorted(seeds)}")
    runs = [run for payload in payloads for run in payload["runs"]]
    return {
        "args": first["args"],
        "seeds": sorted(seeds),
        "machine": first["machine"],
        "runs": runs,
    }


def summarise(
    records: list[dict[str, Any]],
    seeds: list[int],
    threshold: float,
    args: Any,
    machine_info: dict[str, Any],
) -> None:
    """Print the per-seed table, the aggregates and the ratios; write them to --out if given."""
    by_name = {
        name: [r for r in records if r["implementation"] == name] for name in IMPLEMENTATIONS
    }
    aggregates = {name: aggregate(by_name[name], threshold) for name in IMPLEMENTATIONS}
    summary = {
        "aggregate": aggregates,
        "ratios_sb3_over_dqn_ref": {
            key: ratio(aggregates["sb3"][f"median_{key}"], aggregates["dqn_ref"][f"median_{key}"])
            for key in (
                "steps_to_solve",
                "s_to_solve",
                "train_s_to_solve",
                "steps_to_stable_solve",
                "s_to_stable_solve",
                "train_s_to_stable_solve",
            )
        },
    }
    print()
    print(report(records, summary, args))
    if args.out:
        payload = {
            "args": {
                **vars(args),
                "runs_dir": str(args.runs_dir),
                "out": str(args.out),
                "merge": [str(path) for path in args.merge or []],
            },
            "seeds": seeds,
            "machine": machine_info,  # torch_threads: each worker's
            "sb3_kwargs": RL_ZOO[args.env][1] if args.sb3_preset == "zoo" else "matched_kwargs",
            "runs": sorted(records, key=lambda r: (r["seed"], r["implementation"])),
            **summary,
        }
        args.out.write_text(json.dumps(payload, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()

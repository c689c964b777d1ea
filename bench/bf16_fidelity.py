"""How far bf16 autocast moves a trained Pong agent's Q-values and greedy actions.

python -m bench.bf16_fidelity RUN_DIR [--states 800]

Loads RUN_DIR/checkpoint.pt, plays the float32 network (epsilon 0.05) in 8 copies of its game to
collect states, and compares on them the float32 network with the same weights under bf16
autocast: the action gap (best minus second-best Q-value) against the bf16 error, and how often
the greedy action differs. The gap is what learning must resolve; an error of its size changes
which action the agent takes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dqn_ref.envs import atari_options, make_env
from dqn_ref.network import Precision, make_q_network
from dqn_ref.training.checkpoint import config_of, load_checkpoint

NUM_ENVS = 8
PLAY_EPSILON = 0.05


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--states", type=int, default=800)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    payload = load_checkpoint(args.run_dir / "checkpoint.pt")
    config = config_of(payload)
    networks = {}
    precisions: tuple[Precision, ...] = ("float32", "bfloat16")
    for precision in precisions:
        network = make_q_network(
            config.network,
            tuple(payload["obs_shape"]),
            payload["num_actions"],
            config.hidden_sizes,
            config.dueling,
            precision,
        )
        network.load_state_dict(payload["agent"]["online_net"])
        networks[precision] = network.eval()
    envs = make_env(config.env_id, NUM_ENVS, 0, atari_options(config, training=False))
    obs, _ = envs.reset(seed=config.seed + 1)
    rng = np.random.default_rng(config.seed)
    states: list[np.ndarray] = []
    with torch.no_grad():
        while len(states) * NUM_ENVS < args.states:
            greedy = networks["float32"](torch.as_tensor(obs)).argmax(1).numpy()
            explore = rng.random(NUM_ENVS) < PLAY_EPSILON
            actions = np.where(explore, rng.integers(0, payload["num_actions"], NUM_ENVS), greedy)
            obs, *_ = envs.step(actions)
            if rng.random() < 0.25:  # every ~4th lockstep, so that states are less alike
                states.append(obs.copy())
        frames = torch.as_tensor(np.concatenate(states))
        exact, approximate = networks["float32"](frames), networks["bfloat16"](frames)
    envs.close()
    top_two = exact.topk(2, dim=1).values
    gap = top_two[:, 0] - top_two[:, 1]
    error = (approximate - exact).abs()
    agreement = (approximate.argmax(1) == exact.argmax(1)).float().mean()
    print(f"{args.run_dir} at step {payload['counters']['step']}, {len(frames)} states")
    print(f"action gap: median {gap.median():.4f}, 10th percentile {gap.quantile(0.1):.4f}")
    print(
        f"bf16 error of Q: median {error.median():.4f}, 90th percentile {error.quantile(0.9):.4f}"
    )
    print(f"greedy action unchanged under bf16: {agreement:.1%} of states")


if __name__ == "__main__":
    main()

"""A trained agent as a policy (dqn_ref/training/policy.py, play.py), through dqn_ref.load and
dqn_ref.load_policy: actions for a batch (eq-eps-greedy), episodes in an environment given as an
id or a raw gymnasium.Env, and the one-file policy."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import dqn_ref
from dqn_ref.errors import DQNRefError
from dqn_ref.network import make_q_network
from dqn_ref.training.policy import Policy

# Long enough that the greedy action differs between observations (300 steps push one way).
SHORT = {
    "num_envs": 1,
    "total_steps": 1_000,
    "learning_starts": 100,
    "buffer_size": 1_000,
    "eval_interval": 0,
    "final_eval_episodes": 3,
    "tensorboard": False,
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("policy") / "run"
    dqn_ref.train(dqn_ref.get_preset("cartpole").replace(**SHORT), folder, verbose=0)
    return folder


def observations(count: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(count, 4)).astype(np.float32)


def test_a_batch_gets_one_greedy_action_per_observation(run_dir: Path) -> None:
    """eq-eps-greedy at epsilon 0, row by row: argmax of each row of Q, the same action as the
    observation alone gets."""
    agent = dqn_ref.load(run_dir, device="cpu")
    batch = observations(32)
    actions = agent.act(batch)
    q_values = agent.q_values(batch)
    assert isinstance(actions, np.ndarray) and actions.shape == (32,)
    assert q_values.shape == (32, 2)
    np.testing.assert_array_equal(actions, q_values.argmax(axis=1))
    assert [agent.act(row) for row in batch] == actions.tolist()
    np.testing.assert_array_equal(agent.act(batch, deterministic=True), actions)
    assert np.asarray(agent.act(batch[:1])).shape == (1,)  # a batch of one stays a batch
    # Both actions are greedy for some of these observations, so that the check above can fail.
    assert set(actions.tolist()) == {0, 1}


def test_a_batch_at_epsilon_one_draws_every_action(run_dir: Path) -> None:
    agent = dqn_ref.load(run_dir, device="cpu")
    batch = np.zeros((200, 4), np.float32)
    assert set(np.asarray(agent.act(batch, epsilon=1.0)).tolist()) == {0, 1}
    assert set(np.asarray(agent.act(batch, epsilon=0.0)).tolist()) == {agent.act(batch[0])}


@pytest.mark.parametrize(
    ("observation", "kwargs", "message"),
    [
        (np.zeros(3, np.float32), {}, r"shape \(3,\) given; .* shape \(4,\) .* \(N, 4\)"),
        (np.zeros((2, 5), np.float32), {}, r"shape \(2, 5\) given"),
        (np.zeros(4, np.float32), {"epsilon": 1.5}, "epsilon=1.5 must lie in"),
        (np.zeros(4, np.float32), {"epsilon": 0.1, "deterministic": True}, "give one of"),
    ],
)
def test_act_refuses_what_it_cannot_take_in_one_line(
    run_dir: Path, observation: np.ndarray, kwargs: dict[str, float], message: str
) -> None:
    agent = dqn_ref.load(run_dir, device="cpu")
    with pytest.raises(DQNRefError, match=message):
        agent.act(observation, **kwargs)  # type: ignore[arg-type]


def greedy_return(agent: dqn_ref.SavedAgent, seed: int) -> float:
    """The oracle: one episode of gym.make's CartPole-v1 from reset(seed), argmax of Q."""
    env = gym.make("CartPole-v1")
    observation, _ = env.reset(seed=seed)
    total, ended = 0.0, False
    while not ended:
        action = int(np.argmax(agent.q_values(observation)))
        observation, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        ended = terminated or truncated
    return total


def test_play_by_id_and_on_a_raw_env_play_the_greedy_episodes(run_dir: Path) -> None:
    """Episode i from reset(seed + i), greedy: by id (the run's own env pipeline), on gym.make's
    env, and in a hand-written loop, the same returns."""
    agent = dqn_ref.load(run_dir, device="cpu")
    by_id = agent.play("CartPole-v1", episodes=3, seed=40)
    raw = agent.play(gym.make("CartPole-v1"), episodes=3, seed=40)
    assert by_id.shape == (3,)
    np.testing.assert_array_equal(by_id, raw)
    assert by_id.tolist() == [greedy_return(agent, seed) for seed in (40, 41, 42)]
    assert len(set(agent.play("CartPole-v1", episodes=6, seed=0).tolist())) > 1


def test_play_refuses_an_env_the_agent_cannot_see(run_dir: Path) -> None:
    agent = dqn_ref.load(run_dir, device="cpu")
    with pytest.raises(DQNRefError, match=r"shape \(6,\), but this agent takes \(4,\)"):
        agent.play(gym.make("Acrobot-v1"))
    with pytest.raises(DQNRefError, match=r"environment id or a gymnasium\.Env, not list"):
        agent.play([1, 2])  # type: ignore[arg-type]
    with pytest.raises(DQNRefError, match="another preprocessing"):
        agent.play("ALE/Pong-v5")
    with pytest.raises(DQNRefError, match="episodes=0 must be >= 1"):
        agent.play("CartPole-v1", episodes=0)


def test_a_saved_policy_acts_as_the_run_did_without_its_folder(
    run_dir: Path, tmp_path: Path
) -> None:
    agent = dqn_ref.load(run_dir, device="cpu")
    path = agent.save_policy(tmp_path / "cartpole.pt")
    assert sorted(path.parent.iterdir()) == [path]  # one file, no temporary left
    policy = dqn_ref.load_policy(path, device="cpu")
    assert isinstance(policy, dqn_ref.Policy) and not isinstance(policy, dqn_ref.SavedAgent)
    assert policy.config == agent.config and policy.num_actions == 2
    batch = observations(64)
    np.testing.assert_array_equal(policy.q_values(batch), agent.q_values(batch))
    np.testing.assert_array_equal(
        policy.play("CartPole-v1", 2, seed=5), agent.play("CartPole-v1", 2, seed=5)
    )


def test_load_policy_refuses_what_is_not_a_policy_file(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DQNRefError, match="no policy file at"):
        dqn_ref.load_policy(tmp_path / "absent.pt")
    with pytest.raises(DQNRefError, match=r"not a dqn_ref policy file .*dqn_ref\.load"):
        dqn_ref.load_policy(run_dir / "checkpoint.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a policy")
    with pytest.raises(DQNRefError, match="not a readable policy file"):
        dqn_ref.load_policy(tmp_path / "garbage.pt")


def pong_policy() -> Policy:
    """An untrained Nature CNN for Pong: what play feeds it is what is checked, not its skill."""
    config = dqn_ref.get_preset("pong")
    network = make_q_network("nature_cnn", (4, 84, 84), 6, config.hidden_sizes)
    return Policy(config, network, (4, 84, 84), 6, torch.device("cpu"))


def test_a_raw_atari_game_is_played_through_the_runs_frame_pipeline(tmp_path: Path) -> None:
    """gym.make's ALE game (frameskip 1) gets max-and-skip 4, 84x84 grey frames, a stack of 4
    (spec/preprocessing.md#eq-atari-frames); a game that skips frames itself is refused."""
    pytest.importorskip("cv2")
    policy = pong_policy()
    seen: list[np.ndarray] = []
    real_act = policy.act

    def act(observation: np.ndarray, epsilon: float = 0.0, deterministic: bool = False) -> int:
        seen.append(np.asarray(observation))
        return int(real_act(observation, epsilon))

    policy.act = act  # type: ignore[method-assign]
    game = gym.make("ALE/Pong-v5", frameskip=1, max_episode_steps=200)  # 200 frames
    (score,) = policy.play(game, episodes=1, seed=0)
    assert -21 <= score <= 21
    assert {(frames.shape, frames.dtype) for frames in seen} == {((4, 84, 84), np.dtype(np.uint8))}
    assert 40 <= len(seen) <= 50  # 200 frames, 4 per agent step, some no-ops at the start
    with pytest.raises(DQNRefError, match=r"skips 4 frames itself.*frameskip=1"):
        policy.play(gym.make("ALE/Pong-v5"))

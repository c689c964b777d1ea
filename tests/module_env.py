"""A module that registers an environment when imported, as a user's package does: the target of
gymnasium's `module:EnvId` form in tests/test_env_source.py."""

import gymnasium as gym

MODULE_ENV_ID = "ModuleCartPole-v0"

if MODULE_ENV_ID not in gym.registry:
    gym.register(
        MODULE_ENV_ID,
        entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv",
        max_episode_steps=50,
        reward_threshold=45.0,
    )

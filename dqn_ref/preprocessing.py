"""What happens to an environment's outputs before they are stored: reward clipping.

The Atari frame pipeline (no-op reset, max-and-skip, 84x84 grayscale, frame stack) joins this
module with the Pong task; CartPole observations are stored as the environment returns them.
"""

import numpy as np
from numpy.typing import NDArray


def clip_reward(reward: NDArray[np.floating]) -> NDArray[np.float32]:
    """r_stored = clip(r, -1, 1).

    Implements: spec/preprocessing.md#eq-reward-clip

    Applied to the reward that goes into replay, never to the return that is logged or evaluated.
    """
    clipped: NDArray[np.float32] = np.clip(reward, -1.0, 1.0).astype(np.float32)
    return clipped

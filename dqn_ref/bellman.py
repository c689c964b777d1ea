"""The one-step Bellman target that the online network regresses towards."""

from torch import Tensor


def bellman_target(
    reward: Tensor, next_q: Tensor, terminated: Tensor, gamma: float | Tensor
) -> Tensor:
    """y = r + gamma * (1 - terminated) * max_a' Q(s', a'; theta^-).

    Implements: spec/bellman.md#eq-target

    reward:     r, (B,) float, the stored (possibly clipped) reward.
    next_q:     Q(s', . ; theta^-), (B, A) float, from the target network; the caller detaches it.
    terminated: (B,) bool, True only when s' is a terminal state of the MDP. A time-limit
                truncation is not termination and must arrive here as False, so the target
                still bootstraps from the true s'.
    gamma:      discount factor in [0, 1]; for eq-nstep transitions a (B,) tensor of gamma^k,
                with reward the n-step return R^(k) and next_q taken at s_{t+k}.
    Returns y, (B,) with next_q's dtype.
    """
    best_next_q = next_q.max(dim=1).values  # (B,)
    bootstrap = best_next_q.masked_fill(terminated, 0.0)  # (1 - terminated) * max_a' Q
    return reward.to(best_next_q.dtype) + gamma * bootstrap

"""The one-step Bellman targets the online network regresses towards: DQN's and Double DQN's."""

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


def double_bellman_target(
    reward: Tensor,
    next_q_online: Tensor,
    next_q_target: Tensor,
    terminated: Tensor,
    gamma: float | Tensor,
) -> Tensor:
    """y = r + gamma * (1 - terminated) * Q(s', argmax_a' Q(s', a'; theta); theta^-).

    Implements: spec/bellman.md#eq-double-target

    reward:        r, (B,) float, the stored (possibly clipped) reward.
    next_q_online: Q(s', . ; theta), (B, A) float, from the online network; it only chooses a'.
    next_q_target: Q(s', . ; theta^-), (B, A) float, from the target network; it values that a'.
    terminated:    (B,) bool, as in bellman_target: True only at a terminal state of the MDP.
    gamma:         discount factor in [0, 1], or (B,) gamma^k for eq-nstep transitions.
    The caller detaches both Q tables. Ties in the online values go to the lowest action index.
    Returns y, (B,) with next_q_target's dtype.
    """
    chosen_action = next_q_online.argmax(dim=1, keepdim=True)  # (B, 1), chosen by theta
    chosen_next_q = next_q_target.gather(1, chosen_action).squeeze(1)  # (B,), valued by theta^-
    bootstrap = chosen_next_q.masked_fill(terminated, 0.0)  # (1 - terminated) * Q(s', a*)
    return reward.to(chosen_next_q.dtype) + gamma * bootstrap

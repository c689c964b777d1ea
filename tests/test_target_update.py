"""eq-hard and eq-soft (spec/target_update.md): syncing theta^- with theta in place."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from dqn_ref.target_update import hard_update, soft_update
from tests.strategies import small_mlp, taus

seeds = st.integers(0, 2**31 - 1)


def flat(net: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def pair(seed: int) -> tuple[nn.Module, nn.Module]:
    """(target_net, online_net) with different weights."""
    return small_mlp(seed), small_mlp(seed + 1)


@given(seeds)
def test_hard_update_makes_target_equal_online(seed: int) -> None:
    """eq-hard P1: after the copy theta^- = theta exactly, and theta is unchanged."""
    target_net, online_net = pair(seed)
    online_before = flat(online_net).clone()
    hard_update(target_net, online_net)
    assert torch.equal(flat(target_net), flat(online_net))
    assert torch.equal(flat(online_net), online_before)


@given(seeds)
def test_hard_update_shares_no_storage(seed: int) -> None:
    """eq-hard P2: changing theta after the copy leaves theta^- as it was."""
    target_net, online_net = pair(seed)
    hard_update(target_net, online_net)
    copied = flat(target_net).clone()
    with torch.no_grad():
        for parameter in online_net.parameters():
            parameter.add_(1.0)
    assert torch.equal(flat(target_net), copied)


@given(seeds, taus)
def test_soft_update_is_the_polyak_average(seed: int, tau: float) -> None:
    """eq-soft P1: theta^-' = tau * theta + (1 - tau) * theta^-, parameter by parameter."""
    target_net, online_net = pair(seed)
    expected = tau * flat(online_net) + (1 - tau) * flat(target_net)
    soft_update(target_net, online_net, tau)
    assert torch.allclose(flat(target_net), expected, rtol=1e-5, atol=1e-6)


@given(seeds)
def test_soft_update_with_tau_one_is_a_hard_copy(seed: int) -> None:
    """eq-soft P2: tau = 1 gives exactly eq-hard."""
    target_net, online_net = pair(seed)
    soft_update(target_net, online_net, 1.0)
    assert torch.equal(flat(target_net), flat(online_net))


@given(seeds, taus)
def test_soft_update_moves_each_weight_between_its_old_value_and_the_online_one(
    seed: int, tau: float
) -> None:
    """eq-soft P3: each new weight lies between its old value and theta's (a convex combination)."""
    target_net, online_net = pair(seed)
    old, online = flat(target_net).clone(), flat(online_net)
    soft_update(target_net, online_net, tau)
    new = flat(target_net)
    low, high = torch.minimum(old, online), torch.maximum(old, online)
    assert bool(((new >= low - 1e-6) & (new <= high + 1e-6)).all())


@given(seeds, taus, st.integers(1, 20))
def test_repeated_soft_updates_shrink_the_gap_geometrically(
    seed: int, tau: float, syncs: int
) -> None:
    """eq-soft P4: n syncs towards a fixed theta leave theta^- - theta scaled by (1 - tau)^n."""
    target_net, online_net = pair(seed)
    gap_before = flat(target_net) - flat(online_net)
    for _ in range(syncs):
        soft_update(target_net, online_net, tau)
    gap_after = flat(target_net) - flat(online_net)
    assert torch.allclose(gap_after, gap_before * (1 - tau) ** syncs, rtol=1e-4, atol=1e-6)


def test_soft_update_matches_torch_ema_oracle() -> None:
    """eq-soft against torch: swa_utils' EMA with decay 1 - tau is the same Polyak average."""
    tau = 0.005
    target_net, online_net = pair(7)
    ema = torch.optim.swa_utils.AveragedModel(
        target_net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(1 - tau)
    )
    ema.n_averaged.fill_(1)  # the EMA already holds theta^-; every next call averages
    for _ in range(5):
        ema.update_parameters(online_net)
        soft_update(target_net, online_net, tau)
    assert torch.allclose(flat(target_net), flat(ema.module), rtol=1e-6, atol=1e-7)


def test_soft_update_worked_example() -> None:
    """eq-soft by hand, tau = 0.25: theta^- = 4, theta = 8 -> 0.25 * 8 + 0.75 * 4 = 2 + 3 = 5."""
    target_net, online_net = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        target_net.weight.fill_(4.0)
        online_net.weight.fill_(8.0)
    soft_update(target_net, online_net, 0.25)
    assert target_net.weight.item() == 5.0


def test_hard_update_worked_example() -> None:
    """eq-hard by hand: theta^- = 4, theta = 8 -> theta^- = 8, and theta stays 8."""
    target_net, online_net = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        target_net.weight.fill_(4.0)
        online_net.weight.fill_(8.0)
    hard_update(target_net, online_net)
    assert (target_net.weight.item(), online_net.weight.item()) == (8.0, 8.0)


def test_soft_update_copies_buffers_instead_of_averaging_them() -> None:
    """eq-soft, its deviation: a module's buffers (batch-norm statistics here; dqn_ref's networks
    have none) are copied from theta, while its parameters are averaged."""
    target, online = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        online.weight.fill_(2.0)
        online.get_buffer("running_mean").fill_(4.0)
        online.get_buffer("num_batches_tracked").fill_(7)
    soft_update(target, online, tau=0.25)
    for name in ("running_mean", "num_batches_tracked"):
        assert torch.equal(target.get_buffer(name), online.get_buffer(name)), name
    assert torch.allclose(target.weight, torch.full((3,), 0.25 * 2.0 + 0.75 * 1.0))

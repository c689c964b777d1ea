"""Which Ray cluster a study joins, and whether anything answers there: --address, else RAY_ADDRESS
in the environment (Ray's own convention: `ray job submit` sets it), else none (a new local
instance). An address is tried with a plain TCP connection, for at most CONNECT_TIMEOUT_S, before
anything is written: where nothing listens, Ray itself would retry for minutes. No Ray import here
but for `auto`, so that the command line can state the timeout in --help cheaply."""

from __future__ import annotations

import os
import socket

from dqn_ref.errors import DQNRefError

CONNECT_TIMEOUT_S = 5.0  # how long the cluster's address may take to accept a TCP connection
ADDRESS_VARIABLE = "RAY_ADDRESS"


def cluster_address(address: str | None) -> tuple[str | None, str]:
    """The cluster to join and what named it: --address, else RAY_ADDRESS, else (None) a new
    local instance."""
    if address is not None:
        return address, "--address"
    from_environment = os.environ.get(ADDRESS_VARIABLE, "").strip()
    if from_environment:
        return from_environment, f"{ADDRESS_VARIABLE} in the environment"
    return None, ""


def address_fix(named_by: str) -> str:
    if named_by == "--address":
        return "check its host and port, or start the cluster's head there (ray start --head)"
    return (
        f"start that cluster, pass --address, or unset {ADDRESS_VARIABLE} to train on a local "
        "Ray instance"
    )


def resolve_auto() -> str:
    """The cluster Ray's address "auto" finds (the last `ray start` on this machine), or a
    one-line error when there is none."""
    from ray._private.services import canonicalize_bootstrap_address

    try:
        found: str | None = canonicalize_bootstrap_address("auto")
    except ConnectionError:
        found = None
    if not found:
        raise DQNRefError(
            "--address auto found no Ray cluster started on this machine (ray start --head); "
            "start one, or leave --address out to train on a local Ray instance"
        )
    return found


def check_reachable(address: str, named_by: str) -> None:
    """A one-line DQNRefError unless something accepts a TCP connection at `address` (host:port,
    ray://host:port, or auto) within CONNECT_TIMEOUT_S."""
    target = resolve_auto() if address == "auto" else address.removeprefix("ray://")
    host, colon, port = target.rpartition(":")
    host = host.strip("[]")  # an IPv6 address: [::1]:6379
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DQNRefError(
            f"{named_by} {address!r} is not a Ray cluster address; give host:port of its head "
            "(as `ray start --head` prints it), ray://host:10001 for a Ray client server, or auto"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        reason = "no answer" if isinstance(error, TimeoutError) else error.strerror or str(error)
        raise DQNRefError(
            f"nothing answers at {address} ({named_by}) within {CONNECT_TIMEOUT_S:g} s "
            f"({reason}); {address_fix(named_by)}"
        ) from None

"""The study's Ray backend: a tiny two-seed study on a local Ray instance of one CPU, one of whose
workers dies, writes what the local backend writes; a study through a real Ray client server
(ray://); SIGTERM stops a Ray study and its workers; an address where nothing listens, from
--address or RAY_ADDRESS, is refused in one line within CONNECT_TIMEOUT_S; without Ray,
--backend ray says what to install."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from dqn_ref.config import DQNConfig
from dqn_ref.run.main import main
from dqn_ref.studies.ray_address import ADDRESS_VARIABLE, CONNECT_TIMEOUT_S
from dqn_ref.training.metrics import read_metrics
from dqn_ref.training.tensorboard_log import EVENT_FILE_PREFIX
from tests.studies.test_study import TINY_STUDY, is_running, one_line_error

DEATH_MARKER = "DQN_REF_TEST_DEATH_MARKER"


def dying_once(config: DQNConfig, preset_name: str, board: Any, unit: str) -> dict[str, bytes]:
    """Seed 1's first attempt kills its worker process, as a crash or an out-of-memory kill
    would; the retry trains it."""
    from dqn_ref.studies.ray_backend import train_seed_task

    marker = Path(os.environ[DEATH_MARKER])
    if config.seed == 1 and not marker.exists():
        marker.write_text("died once")
        os._exit(1)
    return train_seed_task(config, preset_name, board, unit)


def folder_files(folder: Path) -> list[str]:
    """The files under folder; a TensorBoard event file's name, which holds the time and host that
    wrote it, shortened to its prefix."""
    names = (path.relative_to(folder).as_posix() for path in folder.rglob("*"))
    event_file = re.compile(f"{re.escape(EVENT_FILE_PREFIX)}.*")
    return sorted(event_file.sub(EVENT_FILE_PREFIX, name) for name in names)


def without_clock(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    clocks = {"wall_time_s", "train_time_s"}
    return [{key: value for key, value in row.items() if key not in clocks} for row in rows]


@pytest.mark.slow
def test_ray_study_survives_a_dead_worker_and_writes_what_the_local_backend_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two seeds, one Ray task each on a local instance of 1 CPU: seed 1's first worker dies and
    Ray trains it again. The study folder holds the same files as a local study's, and each
    seed's metrics.csv is the local seed's row for row (clocks aside): a CPU run is
    deterministic, so this checks that each task trained its own seed with the study's config."""
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    import dqn_ref.studies.ray_backend

    monkeypatch.setenv(DEATH_MARKER, str(tmp_path / "died"))
    # The workers import dqn_ref, not this test module: the task goes to them by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(dqn_ref.studies.ray_backend, "train_seed_task", dying_once)
    try:
        ray_out, local_out = tmp_path / "ray", tmp_path / "local"
        ray_flags = ["--backend", "ray", "--workers", "1", "--out", str(ray_out)]
        assert main([*TINY_STUDY, *ray_flags]) == 0
        assert (tmp_path / "died").exists()  # seed 1's first worker did die
        assert not ray.is_initialized()  # the local instance was shut down
        assert main([*TINY_STUDY, "--workers", "1", "--out", str(local_out)]) == 0
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    printed = capsys.readouterr().out
    assert "one Ray task each on a local Ray instance of 1 CPUs" in printed

    assert folder_files(ray_out) == folder_files(local_out)
    for seed in (0, 1):
        ray_rows = read_metrics(ray_out / f"seed{seed}" / "metrics.csv")
        local_rows = read_metrics(local_out / f"seed{seed}" / "metrics.csv")
        assert without_clock(ray_rows) == without_clock(local_rows)
    ray_study = json.loads((ray_out / "study.json").read_text())
    local_study = json.loads((local_out / "study.json").read_text())
    assert (ray_study["backend"], local_study["backend"]) == ("ray", "local")
    assert ray_study["seeds"] == local_study["seeds"] == [0, 1]
    for ray_seed, local_seed in zip(ray_study["per_seed"], local_study["per_seed"], strict=True):
        assert ray_seed["steps_to_solve"] == local_seed["steps_to_solve"]
        assert ray_seed["final_eval"] == local_seed["final_eval"]
    assert (ray_out / "study.csv").read_text().splitlines()[0] == (
        (local_out / "study.csv").read_text().splitlines()[0]
    )


def test_ray_backend_without_ray_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    out = tmp_path / "study"
    assert main([*TINY_STUDY, "--backend", "ray", "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, "--backend ray needs Ray", "pip install 'dqn_ref[ray]'")
    assert not out.exists()


def test_address_without_the_ray_backend_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study"
    assert main([*TINY_STUDY, "--address", "auto", "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, "--address", "--backend ray")
    assert not out.exists()


# Without the address check, Ray retries an address where nothing listens for minutes.
HANG_SECONDS = 60
RAY_START_S = 180  # a Ray head or a local instance starting on a busy 2-core machine


def free_port() -> int:
    """A port nothing listens on (the operating system's pick, released again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# (--address, RAY_ADDRESS, the refusal's fragments); PORT stands for a port nothing listens on.
ADDRESS_REFUSALS: dict[str, tuple[str | None, str | None, tuple[str, ...]]] = {
    "host:port": (
        "127.0.0.1:PORT",
        None,
        ("nothing answers at 127.0.0.1:PORT (--address)", f"{CONNECT_TIMEOUT_S:g} s",
         "ray start --head"),
    ),
    "ray client": ("ray://127.0.0.1:PORT", None, ("nothing answers at ray://127.0.0.1:PORT",)),
    "RAY_ADDRESS": (
        None,
        "127.0.0.1:PORT",
        ("127.0.0.1:PORT (RAY_ADDRESS in the environment)", "unset RAY_ADDRESS", "--address"),
    ),
    "not an address": ("headnode", None, ("--address 'headnode' is not a Ray cluster address",)),
    "port out of range": ("127.0.0.1:99999", None, ("is not a Ray cluster address",)),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ADDRESS_REFUSALS))
def test_an_address_where_nothing_listens_is_refused_in_one_line_before_anything_is_written(
    case: str, tmp_path: Path
) -> None:
    """In a process of its own, so that a hang fails the test: Ray's retries run in native code,
    where no alarm in this process could interrupt them."""
    pytest.importorskip("ray")
    port = str(free_port())
    address, variable, fragments = ADDRESS_REFUSALS[case]
    environment = {key: value for key, value in os.environ.items() if key != ADDRESS_VARIABLE}
    if variable is not None:
        environment[ADDRESS_VARIABLE] = variable.replace("PORT", port)
    flags = [] if address is None else ["--address", address.replace("PORT", port)]
    out = tmp_path / "study"
    try:
        process = subprocess.run(
            [sys.executable, "-m", "dqn_ref.run", *TINY_STUDY, "--backend", "ray", *flags,
             "--out", str(out)],
            capture_output=True,
            text=True,
            env=environment,
            timeout=HANG_SECONDS,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {HANG_SECONDS} s")
    assert process.returncode == 2, process.stderr
    one_line_error(process.stderr, *(part.replace("PORT", port) for part in fragments))
    assert not out.exists()


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children first, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):  # the process ended while it was read
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_stops_a_ray_study_and_its_workers(tmp_path: Path) -> None:
    """SIGTERM to a Ray study while its seed trains on a local instance: exit status 143 and one
    line, as a local study ends, and every process Ray started (its task's worker included) is
    gone; ray.init's own handler would exit 15 at once without either."""
    pytest.importorskip("ray")
    out = tmp_path / "study"
    long_study = ["study", "cartpole", "--seeds", "1", "--steps", "1000000", "--backend", "ray"]
    environment = {key: value for key, value in os.environ.items() if key != ADDRESS_VARIABLE}
    process = subprocess.Popen(
        [sys.executable, "-m", "dqn_ref.run", *long_study, "--workers", "1", "--no-progress",
         "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,
    )  # fmt: skip
    ray_processes: list[int] = []
    try:
        deadline = time.monotonic() + RAY_START_S
        while not any("train_seed_task" in command_line(pid) for pid in ray_processes):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the seed's task never started"
            time.sleep(0.5)
            ray_processes = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
        deadline = time.monotonic() + 60
        while any(is_running(pid) for pid in ray_processes) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        outlived = [pid for pid in ray_processes if is_running(pid)]
        for pid in outlived:  # so that a failure leaves no Ray process behind
            os.kill(pid, signal.SIGKILL)
    assert not outlived, [command_line(pid) for pid in outlived]
    assert process.returncode == 143
    one_line_error(stderr, "interrupted by SIGTERM", str(out))


@pytest.mark.slow
def test_a_study_runs_through_a_ray_client_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--address ray://host:port against a real Ray client server (a head started here): the
    driver's dqn_ref reaches the workers as a folder (a module object does not pickle through
    the client), and the study writes every seed's run folder and its tables. Token
    authentication is off on both sides: the client sends a token only when told to."""
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    client_port = free_port()
    # A short temporary folder of its own: Ray's sockets live there (107-byte limit), and so does
    # the address file that a later `ray.init()` on this machine would otherwise find.
    ray_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    head = subprocess.Popen(
        ["ray", "start", "--head", "--block", f"--temp-dir={ray_dir}", f"--port={free_port()}",
         f"--ray-client-server-port={client_port}", f"--dashboard-agent-listen-port={free_port()}",
         "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
        executable=str(Path(sys.executable).parent / "ray"),
        start_new_session=True,
    )  # fmt: skip
    head_processes: list[int] = []
    try:
        deadline = time.monotonic() + RAY_START_S
        while True:
            assert head.poll() is None and time.monotonic() < deadline, "the head never started"
            try:
                socket.create_connection(("127.0.0.1", client_port), timeout=1).close()
                break
            except OSError:
                time.sleep(1)
        head_processes = descendants(head.pid)
        out = tmp_path / "study"
        address = f"ray://127.0.0.1:{client_port}"
        flags = ["--seeds", "1", "--backend", "ray", "--address", address, "--out", str(out)]
        assert main([*TINY_STUDY, *flags]) == 0
    finally:
        head_processes += descendants(head.pid)
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        for pid in head_processes:
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(ray_dir, ignore_errors=True)
    assert f"one Ray task each on the cluster at {address}" in capsys.readouterr().out
    assert (out / "seed0" / "metrics.csv").is_file() and (out / "study.csv").is_file()
    study = json.loads((out / "study.json").read_text())
    assert (study["backend"], study["address"], study["seeds"]) == ("ray", address, [0])

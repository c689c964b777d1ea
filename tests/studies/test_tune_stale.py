"""dqn_ref/studies/tune_stale.py: trials a killed search left RUNNING are marked failed when the
search goes on, each with one line; a trial whose process still runs is left alone
(spec/reliability.md#tune-and-ray)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dqn_ref.run.main import main
from dqn_ref.studies import tune_stale
from dqn_ref.studies.tune_stale import PROCESS_ATTR, fail_abandoned_trials, process_record
from dqn_ref.studies.tune_storage import open_search
from tests.studies.test_tune import TINY_TUNE

if TYPE_CHECKING:
    from optuna.trial import TrialState

optuna = pytest.importorskip("optuna")
sqlalchemy_errors = pytest.importorskip("sqlalchemy.exc")  # optuna's storage engine
# Trials made here with study.ask(), which Optuna warns heartbeats are meant for optimize().
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
RUNNING, FAIL = optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.FAIL
STUDY = "cartpole-cartpole-steps"  # tune's default name: TASK-PRESET-OBJECTIVE


def ended_process_record() -> dict[str, object]:
    """The record a trial trained by a process killed since would hold."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = tune_stale.start_time(child.pid)
    finally:
        child.kill()
        child.wait()
    return {"machine": tune_stale.this_machine(), "pid": child.pid, "start_time": started}


def test_only_the_trials_whose_process_on_this_machine_ended_are_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A killed process's trial, and one whose process id now belongs to another process, are
    failed with a line each; this live process's trial, another machine's and one without a
    record (an older dqn_ref's) stay RUNNING."""
    if tune_stale.this_machine() is None:
        pytest.skip("processes are told apart through /proc, on Linux")
    study = open_search("stale", f"sqlite:///{tmp_path / 'study.db'}", 0)
    live, ended = process_record(), ended_process_record()
    assert live is not None
    records: list[dict[str, object] | None] = [
        ended,
        {**live, "start_time": int(str(live["start_time"])) - 1},  # the same id, reused
        live,
        {**ended, "machine": "another-boot/4026531836"},  # an id this machine does not know
        None,
    ]
    for record in records:
        trial = study.ask()
        if record is not None:
            trial.set_user_attr(PROCESS_ATTR, record)
    fail_abandoned_trials(study)
    assert [trial.state for trial in study.trials] == [FAIL, FAIL, RUNNING, RUNNING, RUNNING]
    assert capsys.readouterr().out.splitlines() == [
        f"dqn_ref tune: trial {number} was left running by process {records[number]['pid']}, "  # type: ignore[index]
        "which has ended (killed?), so it is marked failed"
        for number in (0, 1)
    ]
    fail_abandoned_trials(study)  # a second pass finds nothing more
    assert capsys.readouterr().out == ""


def test_a_trial_whose_heartbeat_stopped_is_failed_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another machine's trial cannot be looked up: it is failed once its heartbeat, which the
    storage records while it runs, has been silent for GRACE_S seconds (1 s here)."""
    monkeypatch.setattr(tune_stale, "HEARTBEAT_S", 1)
    monkeypatch.setattr(tune_stale, "GRACE_S", 1)
    study = open_search("silent", f"sqlite:///{tmp_path / 'study.db'}", 0)
    trial = study.ask()
    trial.set_user_attr(PROCESS_ATTR, {"machine": "elsewhere", "pid": 1, "start_time": 1})
    storage = study._storage
    assert isinstance(storage, optuna.storages._heartbeat.BaseHeartbeat)
    storage.record_heartbeat(trial._trial_id)  # as the thread optimize() runs would
    fail_abandoned_trials(study)
    assert study.trials[0].state == RUNNING  # heard from within the grace period
    time.sleep(2.5)
    fail_abandoned_trials(study)
    assert study.trials[0].state == FAIL
    assert capsys.readouterr().out.splitlines() == [
        "dqn_ref tune: trial 0 was left running by a process that sent no heartbeat for 1 s "
        "(killed, or its machine lost), so it is marked failed"
    ]


@pytest.mark.slow
def test_a_search_killed_with_sigkill_has_its_running_trials_failed_when_continued(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tune --workers 2`, killed with SIGKILL while both workers train (its workers die with
    it), leaves two trials RUNNING; the same command, run again, marks them failed with a line
    each, and its report counts them as failed."""
    if tune_stale.this_machine() is None:
        pytest.skip("processes are told apart through /proc, on Linux")
    out = tmp_path / "tune"
    # Long enough trials (20,000 steps each, not stopped by their first solve) that both are
    # still running when the kill comes, however fast the machine.
    command = [*TINY_TUNE, "--budget", "20000", "--no-pruning", "--no-stop-when-solved"]
    command += ["--out", str(out)]
    search = subprocess.Popen(
        [sys.executable, "-m", "dqn_ref.run", *command, "--workers", "2", "--trials", "4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and search.poll() is None:
            time.sleep(0.5)
            if (out / "study.db").is_file() and running_trials(out) == 2:
                break
        assert running_trials(out) == 2, "the search never had two trials running"
        os.kill(search.pid, signal.SIGKILL)
        search.wait(timeout=30)
        time.sleep(1)  # the workers die with their parent (PR_SET_PDEATHSIG)
    finally:
        if search.poll() is None:
            search.kill()
            search.wait()
    left_running = sorted(trial_numbers(out, RUNNING))
    assert len(left_running) == 2
    assert main([*command, "--timeout", "0.001"]) == 0  # continued; no new trial starts
    printed = capsys.readouterr().out
    assert [line for line in printed.splitlines() if line.endswith("so it is marked failed")] == [
        f"dqn_ref tune: trial {number} was left running by process {pid}, which has ended "
        "(killed?), so it is marked failed"
        for number, pid in left_running
    ]
    trials = json.loads((out / "tune.json").read_text())["trials"]
    failed = [trial["number"] for trial in trials if trial["state"] == "FAIL"]
    assert failed == [number for number, _ in left_running]
    assert all(trial["state"] == "COMPLETE" for trial in trials if trial["number"] not in failed)
    complete = len(trials) - 2
    assert f"{len(trials)} trials in study '{STUDY}': {complete} complete, 0 pruned, 2 failed;" in (
        printed
    )


def trial_numbers(out: Path, state: TrialState) -> list[tuple[int, int]]:
    """The search's trials in `state` (number, and the process that started each), read from its
    default storage as a second process would."""
    try:
        study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{out / 'study.db'}")
    except KeyError:  # the file is made, the study not yet
        return []
    except sqlalchemy_errors.OperationalError:  # the search is making its tables at this moment
        return []
    return [
        (trial.number, trial.user_attrs[PROCESS_ATTR]["pid"])
        for trial in study.get_trials(deepcopy=False, states=(state,))
        if PROCESS_ATTR in trial.user_attrs
    ]


def running_trials(out: Path) -> int:
    return len(trial_numbers(out, RUNNING))

"""Trials a killed search left RUNNING: marked failed when the search goes on, each with one line,
as Optuna's heartbeat and fail_stale_trials do (spec/reliability.md#tune-and-ray).

A process killed outright (SIGKILL, a power cut) cannot record that its trial ended, so the trial
would stay RUNNING in the storage, and in tune.json, for ever. Two ways to tell that its process
is gone:

- **This machine's processes, at once.** A trial records, as it starts, the process training it:
  the machine (its kernel's boot id and PID namespace, so that containers sharing one storage are
  told apart), the process id and the process's start time (so that an id the kernel has given
  to a new process is not taken for the old one). A process continuing the search fails each
  RUNNING trial whose process was on this machine and is gone. Linux only (/proc).
- **Any machine's, after a silence.** The storage records a heartbeat every HEARTBEAT_S seconds
  while a trial runs (Optuna's RDBStorage heartbeat); a trial whose last heartbeat is GRACE_S
  seconds old is failed when a search continues, and by Optuna itself before each new trial.

A trial whose process still runs, here or elsewhere, is never touched: searches in several
processes share one storage.
"""

from __future__ import annotations

import inspect
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

# Optuna's own example beats every 60 s; three missed beats before a trial counts as abandoned,
# so that a machine busy with its own training (or a database slow for a minute) is not taken
# for a dead one.
HEARTBEAT_S = 60
GRACE_S = 180
PROCESS_ATTR = "started_in"  # the user attribute a trial's process is recorded under


def this_machine() -> str | None:
    """The kernel's boot id and this process's PID namespace, or None off Linux: two processes
    with the same value see the same process ids."""
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = Path("/proc/self/ns/pid").stat().st_ino
    except OSError:
        return None
    return f"{boot_id}/{namespace}"


def start_time(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, /proc/PID/stat's 22nd field), or None
    where there is no such process, or it has ended and awaits its parent (a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (name) ", which may hold spaces
    state, started = fields[0], fields[19]
    return None if state in ("Z", "X") else int(started)


def process_record() -> dict[str, Any] | None:
    """What a trial records about the process that trains it, or None off Linux."""
    machine = this_machine()
    started = start_time(os.getpid())
    if machine is None or started is None:
        return None
    return {"machine": machine, "pid": os.getpid(), "start_time": started}


def process_gone(record: Any) -> bool:
    """Whether the recorded process was on this machine and has ended; False where it cannot be
    told (another machine, no record, not Linux)."""
    if not isinstance(record, dict) or record.get("machine") != this_machine():
        return False
    if this_machine() is None:
        return False
    return start_time(int(record["pid"])) != record.get("start_time")


def say_failed(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """The line for a trial failed after its heartbeat stopped."""
    print(
        f"dqn_ref tune: trial {trial.number} was left running by a process that sent no "
        f"heartbeat for {GRACE_S} s (killed, or its machine lost), so it is marked failed",
        flush=True,
    )


def fail_abandoned_trials(study: optuna.Study) -> None:
    """Mark failed, with a line each, the RUNNING trials whose process on this machine has ended,
    then those whose heartbeat stopped GRACE_S seconds ago."""
    import optuna

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in running:
        record = trial.user_attrs.get(PROCESS_ATTR)
        if record is None or not process_gone(record):
            continue
        # skip_if_finished: another process continuing the search may have failed it just now.
        study.tell(trial.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        print(
            f"dqn_ref tune: trial {trial.number} was left running by process {record['pid']}, "
            "which has ended (killed?), so it is marked failed",
            flush=True,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def heartbeat_storage(url: str) -> optuna.storages.RDBStorage:
    """The search's storage, recording a heartbeat every HEARTBEAT_S seconds for each running
    trial; Optuna fails one silent for GRACE_S seconds, and say_failed says so."""
    import optuna

    # Optuna 4.9 renamed the callback's argument; older versions know the first name only.
    arguments = inspect.signature(optuna.storages.RDBStorage).parameters
    callback = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in arguments
        else "failed_trial_callback"
    )
    options: dict[str, Any] = {
        "heartbeat_interval": HEARTBEAT_S,
        "grace_period": GRACE_S,
        callback: say_failed,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, **options)

"""Where a search lives: the Optuna storage that `tune` opens (and a second process continues), with
each way it can be wrong (not a database URL, an unknown database, a missing driver, a database
that cannot be opened, a study begun over another space) turned into a one-line DQNRefError."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from dqn_ref.errors import DQNRefError
from dqn_ref.studies.tune import (
    PRUNE_PERCENTILE,
    PRUNE_STARTUP_TRIALS,
    PRUNE_WARMUP_EVALUATIONS,
    first_line,
)
from dqn_ref.studies.tune_space import Dimension, distribution
from dqn_ref.studies.tune_stale import heartbeat_storage

if TYPE_CHECKING:
    import optuna


def shown_storage(storage: str) -> str:
    """The storage URL as printed: a password in it is masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(storage).render_as_string(hide_password=True)
    except ArgumentError:
        return storage


def open_search(name: str, storage: str, sampler_seed: int) -> optuna.Study:
    """The search `name` in `storage`, created or continued; TPE sampling seeded per trial
    (tune_sampler.py), percentile pruning. A storage that is not a database URL, whose driver
    is missing or that cannot be opened is a one-line DQNRefError."""
    import optuna
    import sqlalchemy.exc

    from dqn_ref.studies.tune_sampler import TrialSeededSampler

    # Optuna logs a failed trial's whole traceback; the command ends with its one line instead.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    shown = shown_storage(storage)
    try:
        return optuna.create_study(
            study_name=name,
            storage=heartbeat_storage(storage),
            direction="minimize",
            load_if_exists=True,
            sampler=TrialSeededSampler(sampler_seed),
            pruner=optuna.pruners.PercentilePruner(
                PRUNE_PERCENTILE,
                n_startup_trials=PRUNE_STARTUP_TRIALS,
                n_warmup_steps=PRUNE_WARMUP_EVALUATIONS,
            ),
        )
    except sqlalchemy.exc.NoSuchModuleError:
        scheme = storage.split("://", 1)[0]
        raise DQNRefError(
            f"--storage {shown}: SQLAlchemy knows no database called {scheme!r}; give a URL "
            "such as sqlite:///tune.db or postgresql://user@host/db"
        ) from None
    except sqlalchemy.exc.ArgumentError:
        raise DQNRefError(
            f"--storage {shown} is not a database URL; give one such as sqlite:///tune.db (a "
            "file) or postgresql://user@host/db, or leave --storage out for an SQLite file in "
            "the search's folder"
        ) from None
    except ImportError as error:
        cause = error.__cause__ or error
        raise DQNRefError(
            f"--storage {shown} needs a database driver that is not installed ({cause}); "
            "install that driver into this Python environment, or use an SQLite file, "
            "sqlite:///tune.db"
        ) from None
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
        raise DQNRefError(
            f"cannot open --storage {shown}: {first_line(error)}; an SQLite URL must name a "
            "database file, or a new file in a folder that exists; another database must be "
            "running and reachable"
        ) from None
    except ValueError as error:  # e.g. redis://, which Optuna no longer takes as a URL
        raise DQNRefError(f"--storage {shown}: {error}") from None


def check_same_space(study: optuna.Study, space: Mapping[str, Dimension]) -> None:
    """A study continued with another preset or other fixed flags would sample another space,
    which Optuna refuses half-way through a trial; refuse it before any trial starts."""
    earlier = next((trial for trial in study.trials if trial.distributions), None)
    if earlier is None:
        return
    wanted = {name: distribution(dimension) for name, dimension in space.items()}
    if earlier.distributions != wanted:
        changed = sorted(
            name
            for name in set(wanted) | set(earlier.distributions)
            if wanted.get(name) != earlier.distributions.get(name)
        )
        raise DQNRefError(
            f"study {study.study_name!r} was started with another preset or other fixed flags "
            f"(the search space differs in {', '.join(changed)}); rerun it with the preset and "
            "flags it began with, or give a new --study-name"
        )

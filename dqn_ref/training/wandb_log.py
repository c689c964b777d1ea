"""Weights & Biases logging of a run (config field `wandb`, flag `--wandb PROJECT[/RUN_NAME]`):
the scalars of the TensorBoard event file (tensorboard_log.py's table, the same tags), keyed by
the agent step (W&B's `agent_step`), and every config field as the W&B run's config.

Optional: `pip install 'dqn_ref[wandb]'`. W&B's own settings apply: `WANDB_MODE=offline` writes
the run under RUN_DIR/wandb/ for a later `wandb sync`, without network; online, `wandb login`
first. The W&B run is named RUN_NAME, else the run folder's name; a resumed run logs as a new W&B
run of the same name.
"""

from __future__ import annotations

import importlib.util
import math
import netrc
import os
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dqn_ref.errors import DQNRefError
from dqn_ref.training.tensorboard_log import TensorBoardLog

WANDB_INSTALL = "pip install 'dqn_ref[wandb]'"
STEP_METRIC = "agent_step"
OFFLINE_MODES = ("offline", "disabled", "dryrun")  # W&B modes that need no key
DEFAULT_HOST = "https://api.wandb.ai"


def wandb_available() -> bool:
    return importlib.util.find_spec("wandb") is not None


def check_wandb(target: str) -> None:
    """Refuse, in one line, a config's wandb target without the package, or one W&B cannot
    name (PROJECT or PROJECT/RUN_NAME)."""
    if not target:
        return
    project, _, name = target.partition("/")
    if not project or "/" in name or (target.endswith("/") and not name):
        raise DQNRefError(
            f"wandb={target!r} must be PROJECT or PROJECT/RUN_NAME, such as dqn/cartpole-s0"
        )
    if not wandb_available():
        raise DQNRefError(f"--wandb needs the wandb package: {WANDB_INSTALL}")
    if not wandb_can_log():
        raise DQNRefError(
            "--wandb needs a W&B login to log online: run wandb login (or set WANDB_API_KEY), "
            "or set WANDB_MODE=offline to write RUN_DIR/wandb/ for a later wandb sync"
        )


def wandb_can_log() -> bool:
    """Whether W&B can start a run here without asking for a key: offline or disabled by
    WANDB_MODE, or a key in WANDB_API_KEY or in the netrc file `wandb login` writes."""
    if os.environ.get("WANDB_MODE", "").lower() in OFFLINE_MODES:
        return True
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urllib.parse.urlparse(os.environ.get("WANDB_BASE_URL", DEFAULT_HOST)).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host or "") is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbLog(TensorBoardLog):
    """TensorBoardLog's rows and rates, written to a W&B run instead of an event file."""

    def __init__(
        self,
        target: str,
        run_dir: Path,
        mean_q: Callable[[], float | None],
        updates_done: Callable[[], int],
        config: Mapping[str, Any],
    ):
        import wandb

        project, _, name = target.partition("/")
        try:
            self.run = wandb.init(
                project=project,
                name=name or run_dir.name,
                dir=str(run_dir),
                config=dict(config),
                reinit="create_new",
            )
        except Exception as error:  # W&B's errors: no key, no network, a refused project, ...
            first_line = (str(error).splitlines() or [type(error).__name__])[0]
            raise DQNRefError(
                f"W&B could not start the run ({type(error).__name__}: {first_line}); fix that, "
                "or set WANDB_MODE=offline"
            ) from error
        self.run.define_metric(STEP_METRIC)
        self.run.define_metric("*", step_metric=STEP_METRIC)
        self.mean_q = mean_q
        self.updates_done = updates_done
        self.rate_start: tuple[int, float, int] | None = None
        self.pending: dict[str, float] = {}  # one row's scalars, logged together

    def hparams(self, config: Mapping[str, Any]) -> None:
        """Given to wandb.init as the W&B run's config."""

    def scalar(self, tag: str, value: float, step: int) -> None:
        if math.isfinite(value):
            self.pending[tag] = value

    def row(self, row: Mapping[str, Any]) -> None:
        """One metrics.csv row's scalars, as one W&B history row at its agent step."""
        super().row(row)
        if self.pending:
            self.run.log({STEP_METRIC: int(row["step"]), **self.pending})
            self.pending = {}

    def close(self) -> None:
        self.run.finish()

"""How much a run started from Python prints: `verbose=1`, its evaluation lines and notices on
stdout as the command line prints them; `verbose=0`, nothing on stdout."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from dqn_ref.errors import DQNRefError

VERBOSE_LEVELS = (0, 1)


@contextlib.contextmanager
def output_at(verbose: int) -> Iterator[None]:
    """Within it, stdout is discarded at verbose=0 and left alone at verbose=1. The progress bar
    and warnings write to stderr and are not affected (the bar has its own switch)."""
    if verbose not in VERBOSE_LEVELS:
        raise DQNRefError(f"verbose={verbose!r} must be 0 (quiet) or 1 (evaluation lines)")
    if verbose:
        yield
        return
    with Path(os.devnull).open("w") as sink, contextlib.redirect_stdout(sink):
        yield

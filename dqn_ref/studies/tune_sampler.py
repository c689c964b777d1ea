"""The tune command's sampler: TPE, seeded per trial rather than per process.

One TPE sampler seeded once per process draws the same random numbers in every process: a search
continued in a second process, or run by two processes side by side, would propose the trials the
first one already ran. Here each trial gets its own TPE sampler, seeded from (--sampler-seed, the
trial's number). Trial numbers are unique within a study, whichever process runs the trial, so
every trial draws fresh numbers; and a search run in one process proposes the same trials every
time, since trial k sees the same history and the same seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState


def trial_seed(sampler_seed: int, trial_number: int) -> int:
    """A 32-bit seed for one trial, independent of the others' (numpy's SeedSequence mixes the
    two numbers, so neighbouring trials do not get neighbouring seeds)."""
    return int(np.random.SeedSequence([sampler_seed, trial_number]).generate_state(1)[0])


class TrialSeededSampler(BaseSampler):
    """TPE, with a sampler of its own for each trial, seeded by trial_seed."""

    def __init__(self, sampler_seed: int):
        self.sampler_seed = sampler_seed
        self.by_trial: dict[int, TPESampler] = {}

    def for_trial(self, trial: FrozenTrial) -> TPESampler:
        if trial.number not in self.by_trial:
            self.by_trial[trial.number] = TPESampler(
                seed=trial_seed(self.sampler_seed, trial.number)
            )
        return self.by_trial[trial.number]

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.for_trial(trial).before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.for_trial(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        return self.for_trial(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self.for_trial(trial).sample_independent(
            study, trial, param_name, param_distribution
        )

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.for_trial(trial).after_trial(study, trial, state, values)
        self.by_trial.pop(trial.number, None)

    def reseed_rng(self) -> None:
        """Nothing to reseed: every trial's generator comes from its own seed."""

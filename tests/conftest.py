"""Hypothesis profiles: `ci` is derandomised (same examples every run, no flakes, no database);
`dev` explores more examples; `mutants` is ci with a third of its examples and no shrinking, for
the mutation run, which repeats each test for every mutant of the code it covers and only needs to
know that a test fails. tox selects them through HYPOTHESIS_PROFILE."""

import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "mutants",
    settings.get_profile("ci"),
    max_examples=20,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    print_blob=False,
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

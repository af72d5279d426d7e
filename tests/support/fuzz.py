"""Property tests in two sizes: a short run in the default suite, a long one with ``-m slow``."""

import os

import pytest
from hypothesis import HealthCheck, given, settings

SHORT_EXAMPLES = int(os.environ.get("MUSINTERP_FUZZ_EXAMPLES", "40"))
LONG_EXAMPLES = 3000  # per property, with -m slow


def fuzz(long_examples: int = LONG_EXAMPLES, **strategies):
    """The property as two tests: ``SHORT_EXAMPLES`` cases in the default suite and
    ``long_examples`` in a second test marked slow. Use as
    ``test_x, test_x_long = fuzz(arg=strategy)(check)``."""

    def runs(examples: int):
        return settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )

    def both(check):
        short = runs(SHORT_EXAMPLES)(given(**strategies)(check))
        long = pytest.mark.slow(runs(long_examples)(given(**strategies)(check)))
        return short, long

    return both

"""How many examples a property test tries, by tier.

`make test` (what CI runs) tries each property as many times as its test says. `make check`,
the loop while working, sets ``VENDORWATCH_EXAMPLES=quick`` and tries a quarter of that (at
least 10), which keeps the fast tier under a minute on two cores. Hypothesis saves every
failing example in ``.hypothesis/`` and tries it first next time, so a failure either tier
finds is retried by both.
"""

from __future__ import annotations

import os

ENV = "VENDORWATCH_EXAMPLES"
TIERS = ("full", "quick")


def tier() -> str:
    """The tier named by ``VENDORWATCH_EXAMPLES`` (``full`` when unset)."""
    value = os.environ.get(ENV, "").strip().lower() or "full"
    if value not in TIERS:
        raise ValueError(f"{ENV} must be one of {', '.join(TIERS)}, not {value!r}")
    return value


QUICK = tier() == "quick"
HYPOTHESIS_DEFAULT = 100
"""Hypothesis's own count, for a ``@given`` test that names none."""


def examples(full: int) -> int:
    """``full`` under `make test`; a quarter of it, at least 10, under `make check`."""
    return max(10, full // 4) if QUICK else full

"""Garbage-collector settings for a process that holds every vendor's history in memory.

The fold's state only grows: each event leaves a payload model and a fact behind, and none of
it forms reference cycles, so reference counting frees all of it that ever becomes garbage.
CPython's cyclic collector cannot know that. With its default thresholds (700, 10, 10) it scans
the young objects every 700 allocations and re-scans the whole, growing heap each time it has
grown by a quarter; folding 1,000,000 events that costs about 40% of the CPU time
(benchmarks/README.md).

Raising the young-generation threshold makes those scans rare without switching anything off:
cycles (asyncio, exceptions with tracebacks, ...) are still collected, just in larger batches,
and the memory they hold meanwhile is bounded by the threshold. Call `tune_collector()` once at
start-up in any process that folds a long history: the worker, replay, the benchmarks.

A bulk fold (an event file, a partition rebuilt at start, a replay) goes further with
`bulk_fold()`: the collector is off while it runs, and what it built is frozen afterwards
(`gc.freeze`), so later collections, young or full, never walk the history again. Freezing is
safe for the same reason: the fold's objects are acyclic, so reference counting still frees
every one of them that is dropped.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000
"""Allocations (net of frees) between young-generation collections; CPython's default is 700."""
OLDER_THRESHOLDS = (20, 10)
"""Young collections per middle-generation one, middle ones per full one (defaults: 10, 10)."""


def tune_collector() -> tuple[int, int, int]:
    """Apply vendorwatch's collector thresholds; returns the previous ones."""
    previous = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    return previous


@contextmanager
def bulk_fold() -> Iterator[None]:
    """Run a fold of many events with the cyclic collector paused, then freeze its result.

    Without it, folding 1,000,000 events spends more time in collections than in the fold
    (benchmarks/README.md). Use it around each chunk of a long read: between chunks the
    collector runs as usual over what is new. Nested uses are fine: only the outermost one
    re-enables the collector, and only if it was enabled when it started.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        # Garbage cycles made since the last freeze (I/O between two chunks of a replay) are
        # collected now, while they are few, rather than frozen with the fold's objects.
        gc.collect(1)
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()

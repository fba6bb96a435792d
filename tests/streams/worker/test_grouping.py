"""The notify agent's group wait (`take_grouped`) on a real Faust stream, in process.

Faust's agent `test_context()` feeds an in-memory channel with real Events and Messages, so the
buffering, the passive consumption and the acks are Faust's own; no broker is contacted. Times
are wall-clock sleeps with wide margins (the wait is 0.5 s, the gaps 0.25 s or 1 s).

The point of `take_grouped` over Faust's `take_events`: the wait starts at the first event, so
two alerts 0.25 s apart are one notification however the clock falls. `take_events` restarts
its timer after every batch, and splits them whenever a boundary falls in between (half the
time here); the first test catches that with a first event placed just before a boundary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import faust
import pytest

from vendorwatch.streams.worker.grouping import take_grouped

WAIT = 0.5


@dataclass
class Seen:
    """What the agent saw: each batch's values, when it got it, and whether its messages were
    already acked at that moment (they must not be: a crash must re-read the batch)."""

    batches: list[tuple[float, list[str], bool]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)


def grouped_agent(max_: int, seen: Seen) -> Any:
    app = faust.App(
        "vw-test-grouping",
        broker="kafka://127.0.0.1:1",  # never contacted by test_context()
        store="memory://",
        web_enabled=False,
        autodiscover=False,
    )

    @app.agent()
    async def grouped(stream: Any) -> AsyncIterator[int]:
        async for batch in take_grouped(stream, max_, within=WAIT):
            acked = any(e.message.acked for e in batch)
            seen.batches.append((time.monotonic(), [e.value for e in batch], acked))
            seen.events.extend(batch)
            yield len(batch)

    return grouped


async def feed(agent: Any, schedule: list[tuple[float, str]], tail_s: float) -> float:
    """Put values at the given offsets (seconds from start); returns the start time."""
    async with agent.test_context() as ctx:
        started = time.monotonic()
        for at, value in schedule:
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            await ctx.put(value, wait=False)
        await asyncio.sleep(tail_s)
    return started


@pytest.mark.parametrize("first_at", [0.45, 0.2])
def test_alerts_within_the_wait_of_the_first_are_one_batch(first_at: float) -> None:
    seen = Seen()
    schedule = [(first_at, "stake"), (first_at + 0.25, "ceo"), (first_at + 1.5, "later")]
    started = asyncio.run(feed(grouped_agent(200, seen), schedule, tail_s=0.8))
    assert [values for _, values, _ in seen.batches] == [["stake", "ceo"], ["later"]]
    flushed = [at - started for at, _, _ in seen.batches]
    # each batch goes out one wait after its first event, not at a periodic boundary; the upper
    # bound leaves a busy machine's event loop half a wait of lag (`make test` runs three
    # processes on two cores), which still tells "one wait" from "two waits"
    assert first_at + WAIT - 0.05 <= flushed[0] <= first_at + WAIT + WAIT / 2
    assert first_at + 1.5 + WAIT - 0.05 <= flushed[1] <= first_at + 1.5 + WAIT + WAIT / 2


def test_a_full_buffer_goes_at_once_and_nothing_is_acked_before_the_body_ran() -> None:
    seen = Seen()
    schedule = [(0.1, f"a{i}") for i in range(5)]
    started = asyncio.run(feed(grouped_agent(3, seen), schedule, tail_s=0.9))
    assert [values for _, values, _ in seen.batches] == [["a0", "a1", "a2"], ["a3", "a4"]]
    assert seen.batches[0][0] - started < 0.1 + WAIT / 2  # did not wait for the timer
    assert [acked for _, _, acked in seen.batches] == [False, False]
    assert all(e.message.acked for e in seen.events)  # acked once the body had run

"""Where code that acknowledges a produce waits until the record is durable.

On Apache Kafka a broker's ack is the durability promise, so there is nothing to wait for. The
embedded broker keeps its log in memory and a journal makes it durable afterwards
(streams/embedded/ack_gate.py); the process that owns it installs a waiter here, and the
worker's `POST /events` calls :func:`wait_durable` before it answers 202. This module sits
below both so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Waiter = Callable[[str, int, int], Awaitable[None]]
"""(topic, partition, end offset) -> returns once the records before ``end`` are durable."""

_waiter: Waiter | None = None


def set_waiter(waiter: Waiter | None) -> None:
    """Install (or with None remove) the process's waiter."""
    global _waiter
    _waiter = waiter


async def wait_durable(topic: str, partition: int, offset: int) -> None:
    """Return once the record at ``offset`` is durable: at once without an embedded broker in
    this process (a configured Kafka, or an embedded broker whose proxy does the waiting)."""
    waiter = _waiter
    if waiter is not None:
        await waiter(topic, partition, offset + 1)

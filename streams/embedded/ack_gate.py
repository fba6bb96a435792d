"""Hold a producer's acknowledgement until the journal has its records on disk.

Tansu keeps its log in memory only (docs/broker.md, deviation 4), so a produce it has
acknowledged is lost by a `kill -9` of the embedded process unless the journal already holds it.
The journal mirror (streams/embedded/journal.py) copies the broker's log to disk behind the
producers; this gate is where the two meet:

* the mirror calls :meth:`AckGate.advance` after every fsync with the number of records of each
  partition that are now on stable storage;
* whoever acknowledges a produce to a client (the proxy in front of the broker,
  streams/embedded/compat_proxy.py, or the worker's ``POST /events``) first awaits
  :meth:`AckGate.wait` for the end offset of the records it is about to acknowledge.

So an acknowledgement always means "journaled and fsynced", at the price of one mirror round
trip and one fsync per group of concurrent produces (group commit). The mirror and the proxy run
on different event loops (the worker's, and the proxy's thread), so the gate is thread-safe and
wakes a waiter on its own loop.

One gate per embedded broker, registered for the process with :func:`install` so that code that
acknowledges in-process (the worker's HTTP ingest) finds it through
`streams.kafka_io.durability.wait_durable`; with a configured Kafka there is no gate and that
returns at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from vendorwatch.streams.kafka_io import durability

TopicKey = tuple[str, int]


class GateClosedError(RuntimeError):
    """The journal stopped (shutdown or a disk error): what waits will never be journaled here."""


class AckGate:
    """Durable end offset of each journaled partition, and the acknowledgements waiting on it."""

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = frozenset(topics)
        """Topics whose acknowledgements wait for the journal; others pass at once."""
        self._lock = threading.Lock()
        self._durable: dict[TopicKey, int] = {}
        self._waiters: dict[TopicKey, list[tuple[int, asyncio.AbstractEventLoop, Any]]] = {}
        self._closed: BaseException | None = None

    def durable(self, topic: str, partition: int) -> int:
        """Records of the partition known to be journaled and fsynced."""
        with self._lock:
            return self._durable.get((topic, partition), 0)

    def advance(self, positions: Mapping[Any, int]) -> None:
        """Record that each TopicPartition-like key holds this many durable records, and release
        the waiters that were waiting for no more than that."""
        ready: list[tuple[asyncio.AbstractEventLoop, Any]] = []
        with self._lock:
            for tp, count in positions.items():
                key = (tp.topic, tp.partition)
                if count <= self._durable.get(key, 0):
                    continue
                self._durable[key] = count
                waiting = self._waiters.get(key)
                if not waiting:
                    continue
                keep = []
                for end, loop, future in waiting:
                    if end <= count:
                        ready.append((loop, future))
                    else:
                        keep.append((end, loop, future))
                self._waiters[key] = keep
        for loop, future in ready:
            _settle(loop, future, None)

    def close(self, reason: BaseException) -> None:
        """Fail every present and future waiter: the journal will not advance any more."""
        with self._lock:
            self._closed = reason
            waiting = [w for ws in self._waiters.values() for w in ws]
            self._waiters.clear()
        for _end, loop, future in waiting:
            _settle(loop, future, reason)

    def reopen(self) -> None:
        """Accept waiters again (a mirror restarted on the same broker)."""
        with self._lock:
            self._closed = None

    async def wait(self, topic: str, partition: int, end: int) -> None:
        """Return once the partition's first ``end`` records are durable; raises
        GateClosedError if the journal stops first. Topics not journaled return at once."""
        if topic not in self.topics:
            return
        key = (topic, partition)
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._durable.get(key, 0) >= end:
                return
            if self._closed is not None:
                raise GateClosedError(str(self._closed)) from self._closed
            future = loop.create_future()
            self._waiters.setdefault(key, []).append((end, loop, future))
        await future

    def pending(self) -> int:
        """Acknowledgements waiting (for tests and diagnostics)."""
        with self._lock:
            return sum(len(ws) for ws in self._waiters.values())


def _settle(loop: asyncio.AbstractEventLoop, future: Any, error: BaseException | None) -> None:
    def settle() -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(GateClosedError(str(error) or type(error).__name__))

    if loop.is_closed():
        return
    with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
        loop.call_soon_threadsafe(settle)


_installed: AckGate | None = None


def install(gate: AckGate | None) -> None:
    """Make ``gate`` the process's gate (None removes it): code in lower layers that
    acknowledges produces reaches it through `streams.kafka_io.durability`."""
    global _installed
    _installed = gate
    durability.set_waiter(None if gate is None else gate.wait)


def installed() -> AckGate | None:
    """The gate of the embedded broker this process owns, if any."""
    return _installed

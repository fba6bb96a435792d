"""The delivery ledger: which notifications already reached which sink.

Kafka redelivers after a worker restart or rebalance, and the alert agent may publish the same
notification twice; the ledger turns that at-least-once stream into at-most-once per receiver.
A key is recorded only after the receiver accepted it, so the one remaining window for a
duplicate is a crash between the receiver's 2xx and the ledger write (the webhook's
Idempotency-Key header lets receivers close that window too).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import orjson
import structlog

log = structlog.get_logger(__name__)


class DeliveryLedger(Protocol):
    """Remembers (idempotency key, sink name) pairs that were delivered."""

    async def seen(self, key: str, sink: str) -> bool:
        """True if this key was already delivered to this sink."""
        ...

    async def record(self, key: str, sink: str) -> None:
        """Remember that this key reached this sink (durably, for persistent ledgers)."""
        ...


class InMemoryDeliveryLedger:
    """A ledger for tests and single-shot tools; forgets everything on exit."""

    def __init__(self) -> None:
        self._done: set[tuple[str, str]] = set()

    async def seen(self, key: str, sink: str) -> bool:
        return (key, sink) in self._done

    async def record(self, key: str, sink: str) -> None:
        self._done.add((key, sink))

    def __len__(self) -> int:
        return len(self._done)


class FileDeliveryLedger:
    """An append-only JSONL ledger under a data directory, loaded into memory at start.

    Each record is one line `{"k": key, "s": sink, "t": unix_seconds}`, written with O_APPEND
    and fsync'd before `record` returns. At start, entries older than `retention_s` are dropped
    (the file is rewritten atomically) and a torn last line from a crash is ignored. Give each
    worker process its own data directory: the file is not shared between processes.
    """

    FILENAME = "delivery-ledger.jsonl"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        retention_s: float = 30 * 24 * 3600,
        wall_clock: Callable[[], float] = time.time,
        fsync: bool = True,
    ) -> None:
        self.path = Path(data_dir) / self.FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wall_clock = wall_clock
        self._fsync = fsync
        self._write_lock = threading.Lock()
        self._done: dict[tuple[str, str], float] = {}
        self._load(retention_s)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _load(self, retention_s: float) -> None:
        if not self.path.exists():
            return
        cutoff = self._wall_clock() - retention_s
        kept = dropped = bad = 0
        with self.path.open("rb") as fh:
            for line in fh:
                try:
                    entry = orjson.loads(line)
                    key, sink, at = str(entry["k"]), str(entry["s"]), float(entry["t"])
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    bad += 1
                    continue
                if at < cutoff:
                    dropped += 1
                    continue
                self._done[(key, sink)] = at
                kept += 1
        if dropped or bad:
            self._rewrite()
        log.info("ledger.loaded", entries=kept, expired=dropped, unreadable=bad)

    def _rewrite(self) -> None:
        """Replace the file with the live entries (crash-safe: write, fsync, rename)."""
        tmp = self.path.with_suffix(".jsonl.tmp")
        with tmp.open("wb") as fh:
            for (key, sink), at in self._done.items():
                fh.write(orjson.dumps({"k": key, "s": sink, "t": at}) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _append(self, line: bytes) -> None:
        with self._write_lock:
            os.write(self._fd, line)
            if self._fsync:
                os.fsync(self._fd)

    async def seen(self, key: str, sink: str) -> bool:
        return (key, sink) in self._done

    async def record(self, key: str, sink: str) -> None:
        if (key, sink) in self._done:
            return
        at = self._wall_clock()
        line = orjson.dumps({"k": key, "s": sink, "t": at}) + b"\n"
        await asyncio.to_thread(self._append, line)
        self._done[(key, sink)] = at

    def close(self) -> None:
        """Close the file (records already written are durable)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __len__(self) -> int:
        return len(self._done)

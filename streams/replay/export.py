"""`vendorwatch export`: the history as JSON Lines, in offset order, for audit or a new cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import structlog
from aiokafka import ConsumerRecord

from vendorwatch.schemas.codec import InvalidEvent, encode_event, parse_event
from vendorwatch.schemas.events import unix_seconds
from vendorwatch.streams.replay.reader import EVENTS_TOPIC, Window, log_end_offsets, read_log

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class ExportStats:
    """What `export` wrote and what it could not."""

    written: int = 0
    duplicates: int = 0
    outside: int = 0
    invalid: int = 0
    reencoded: int = 0
    invalid_examples: list[str] = field(default_factory=list)


class ExportSink:
    """Collects (event time, id, log position, canonical bytes, vendor) of the events inside a
    window; pure.

    The first record of an id (in partition, offset order) wins, as in the fold: a redelivered
    event was applied once, so it is exported once. Stored bytes are written as they are when
    they are the canonical encoding (they always are for events the pipeline wrote); anything
    else is re-encoded canonically, so `export | ingest | export` is byte-identical.
    """

    def __init__(self, window: Window) -> None:
        self.window = window
        self.stats = ExportStats()
        self._rows: dict[tuple[str, str], tuple[float, str, int, int, bytes, str]] = {}

    def feed(self, partition: int, records: Iterable[ConsumerRecord]) -> None:
        rows = self._rows
        stats = self.stats
        for record in records:
            value = record.value
            if value is None:
                continue
            try:
                event = parse_event(value)
            except InvalidEvent as exc:
                stats.invalid += 1
                if len(stats.invalid_examples) < 5:
                    stats.invalid_examples.append(f"[{partition}]@{record.offset}: {exc}")
                continue
            t = unix_seconds(event.time)
            if not self.window.contains(t):
                stats.outside += 1
                continue
            key = (event.source, event.id)  # CloudEvents identity
            known = rows.get(key)
            if known is not None and (known[2], known[3]) < (partition, record.offset):
                stats.duplicates += 1
                continue
            if known is not None:
                stats.duplicates += 1
            canonical = encode_event(event)
            if canonical != value:
                stats.reencoded += 1
            rows[key] = (t, event.id, partition, record.offset, canonical, event.subject)

    def lines(self) -> Iterator[bytes]:
        """The events ordered by (event time, vendor, place in the log), one canonical JSON
        document each: a vendor's events of one instant keep their arrival order, which decides
        between them when the file is folded again (`score --events`, ingest); the vendor, not
        the partition, orders different vendors, so another partitioning exports the same."""
        rows = sorted(self._rows.values(), key=lambda r: (r[0], r[5], r[2], r[3]))
        for _, _, _, _, value, _ in rows:
            yield value

    @property
    def count(self) -> int:
        return len(self._rows)


async def export_async(
    bootstrap_servers: str,
    window: Window,
    ends: Mapping[int, int] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    topic: str = EVENTS_TOPIC,
) -> tuple[ExportSink, dict[int, int]]:
    """Read the whole topic (to `ends` or its end now) into an ExportSink."""
    if ends is None:
        ends = await log_end_offsets(bootstrap_servers, topic)
    if on_start is not None:
        on_start(sum(ends.values()))
    sink = ExportSink(window)
    await read_log(bootstrap_servers, ends, sink.feed, topic=topic, on_progress=on_progress)
    return sink, dict(ends)


# --- rebuild -----------------------------------------------------------------------------------

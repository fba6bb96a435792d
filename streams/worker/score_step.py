"""The score agent's per-batch work, without Faust: reroute, dead-letter, history, fold, publish.

Why a step apart from the agent: everything the score agent decides (which partition owns a
vendor, what goes to the DLQ, whether an event is already in the history, what a rebuild must
publish again, which records go out and in which order) is plain code over plain messages. Here
it runs in a test with a list for a sink and a list for a history, in milliseconds; the Faust
agent in `streams.worker.app` only turns its events into `RawMessage`s and hands over an
`Outbox`. The fold itself is `streams.core.processor`, shared with replay and the offline scorer.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog

from vendorwatch.schemas.binary import binary_headers, is_binary, parse_message
from vendorwatch.schemas.codec import InvalidEvent, check_event_time, encode_event
from vendorwatch.schemas.events import Event
from vendorwatch.streams import logs
from vendorwatch.streams.core.processor import Outcome, Processor
from vendorwatch.streams.core.records import score_record
from vendorwatch.streams.core.scoring import name_misses
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.deadletter import claimed_ids, dead_letter
from vendorwatch.streams.kafka_io.history import SOURCE_OFFSET_HEADER
from vendorwatch.streams.kafka_io.partitioning import vendor_partition
from vendorwatch.streams.settings import DEFAULT_MAX_FUTURE_SKEW
from vendorwatch.streams.worker import metrics

# The logger keeps the name it had when this code lived in the agent's module: log queries and
# dashboards select the worker's lines by it.
log = structlog.get_logger("vendorwatch.streams.worker.app")

PRODUCED_AT_HEADER = "vw-produced-ms"
"""Carries when the original message was produced, for the end-to-end latency metric."""
CLOCK_HEADER = "vw-clock-ms"
"""Marks a clock record on the raw topic: in scenario mode it brings its partition's stream
time to this instant (unix ms), like a tick; it is not an event and is never in the history."""

WRITTEN_TOPICS = (topics.RAW, topics.EVENTS, topics.SCORES, topics.ALERTS, topics.EVENTS_DLQ)
"""Every topic the score step writes: its layout must name the partition count of each."""

Headers = Sequence[tuple[str, bytes]]
HistoryLoader = Callable[[int], Awaitable[Iterable[tuple[Event, int | None]]]]
"""A history partition's events in offset order, each with the raw offset it was scored from
(the live one is `kafka_io.history.read_history` on `vendorwatch.events`)."""


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One consumed raw-topic message, as much of it as the step reads.

    `timestamp` is in seconds (Faust's `Message.timestamp`); `headers` are (name, value) pairs.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float | None = None
    headers: Headers = ()

    @classmethod
    def of(cls, message: Any) -> RawMessage:
        """From anything shaped like a Faust `Message` (duck-typed, so no Faust import here).
        Faust hands headers over as a list of pairs or as a dict, depending on the driver."""
        headers = message.headers or ()
        if isinstance(headers, Mapping):
            headers = tuple(headers.items())
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            timestamp=message.timestamp,
            headers=tuple(headers),
        )


class RecordSink(Protocol):
    """Where the step's records go: `kafka_io.outbox.Outbox` in the worker, a list in tests.

    Records of one topic partition must keep the order they were added in; nothing orders
    records across topics."""

    async def add(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        *,
        partition: int | None = None,
        headers: Headers = (),
        timestamp_ms: int | None = None,
    ) -> None: ...


def produced_ms(message: RawMessage) -> int | None:
    """When the event was first produced (ms): the header a reroute carries, else the message's
    own timestamp. It survives the reroute, so the latency metric spans both hops."""
    for name, value in message.headers:
        if name == PRODUCED_AT_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return message.timestamp and int(message.timestamp * 1000)  # type: ignore[return-value]


def clock_ms(message: RawMessage) -> int | None:
    """The instant a clock record carries (unix ms), or None for any other message."""
    for name, value in message.headers:
        if name == CLOCK_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def check_layout(layout: Mapping[str, int]) -> None:
    """Refuse a layout where the raw topic has fewer partitions than the history: a vendor's
    events are scored on the raw partition of the number of its history partition."""
    raw, history = layout[topics.RAW], layout[topics.EVENTS]
    if raw < history:
        raise RuntimeError(
            f"{topics.RAW} has {raw} partitions and {topics.EVENTS} {history}: the raw "
            "topic needs at least as many (a vendor's events are scored on the raw "
            "partition of the same number); add partitions to the raw topic"
        )


class ScoreStep:
    """raw -> validate -> the vendor's history + fold -> scores and alerts, one batch at a time.

    A raw message on partition p whose vendor's partition is p is written to the history
    (`vendorwatch.events`, partition p) and scored here, in that order; one whose vendor lives
    elsewhere is re-sent to the raw topic keyed by its vendor, so the owner of that partition
    scores it. So the worker that owns raw partition p is the only writer of history partition
    p, and the history is in the order the events were scored: replay meets them in the same
    order (docs/architecture.md). Invalid input goes to the DLQ with the reason; nothing here
    raises on bad input. That includes an event dated more than `max_future_skew` seconds past
    `clock()` (`time_in_future`): judged here, once, so the history holds only accepted events
    and replay never re-judges them. `clock` is the wall clock (injected, so tests fix it).

    Stream time: each event is scored at its partition's stream time, the wall clock in
    milliseconds (or, with `scenario`, the latest clock record or event time of the partition),
    and its history record carries that instant as its timestamp, so a rebuild or a replay
    applies it at the same instant. `tick` is the clock between events: it evaluates the
    deadlines that fell due (`Processor.advance`). The caller must not run `handle` and `tick`
    at the same time (the worker holds one lock over each with its flush).
    """

    def __init__(
        self,
        processor: Processor,
        layout: Mapping[str, int],
        load_history: HistoryLoader,
        worker_name: str,
        *,
        clock: Callable[[], float] = time.time,
        max_future_skew: float = DEFAULT_MAX_FUTURE_SKEW,
        scenario: bool = False,
    ) -> None:
        check_layout(layout)
        self.processor = processor
        self.layout = dict(layout)
        """Partitions of each written topic (`WRITTEN_TOPICS`)."""
        self.load_history = load_history
        self.worker_name = worker_name
        """Named in every DLQ record as the worker that rejected it."""
        self.clock = clock
        self.max_future_skew = max_future_skew
        """Seconds past `clock()` an event's time may be; later ones go to the DLQ."""
        self.scenario = scenario
        """Stream time follows the scenario (clock records and event times) instead of
        `clock()`: the demo and tests play a timeline faster than the wall clock."""
        self._partitions = self.layout[topics.EVENTS]
        self._raw_consumed = metrics.EVENTS_CONSUMED.labels(topic=topics.RAW)
        self._accepted_by_type: dict[str, Any] = {}  # labelled counters, looked up once

    async def handle(self, batch: Sequence[RawMessage], sink: RecordSink) -> None:
        """Process one agent batch into `sink`, in order. Does not flush: the caller waits for
        delivery before it lets the batch's offsets be committed (at-least-once)."""
        self._raw_consumed.inc(len(batch))
        for message in batch:
            await self.handle_one(message, sink)
        # the input's freshness: "no events for N minutes" is about these partitions
        self._mark_processed(batch)

    def now(self) -> float:
        """The wall clock in whole milliseconds: the stream time of a wall-clock worker, kept to
        the precision of a record timestamp so that a rebuild applies events at the same
        instant, float for float."""
        return round(self.clock() * 1000) / 1000

    async def tick(self, sink: RecordSink) -> int:
        """A wall-clock tick: bring every partition loaded here to now and publish what the
        deadlines that fell due changed. Returns how many vendors' outcomes were published.
        A scenario worker ignores it (its clock records are its ticks)."""
        if self.scenario:
            return 0
        now = self.now()
        published = 0
        for partition in sorted(self.processor.states):
            for outcome in self.processor.advance(partition, now):
                await self.publish(outcome, sink, None)
                published += 1
        return published

    async def on_clock(self, message: RawMessage, ms: int, sink: RecordSink) -> None:
        """A clock record: in scenario mode, a tick of its partition to its instant."""
        if not self.scenario:
            log.debug("clock_record_ignored", partition=message.partition, offset=message.offset)
            return
        for outcome in self.processor.advance(message.partition, ms / 1000):
            await self.publish(outcome, sink, None)

    async def handle_one(self, message: RawMessage, sink: RecordSink) -> None:
        """One raw message: rebuild its partition if new here, then reject, reroute or score."""
        partition = message.partition
        processor = self.processor
        if not processor.loaded(partition):
            await self.rebuild(partition, message.offset, sink)
        ms = clock_ms(message)
        if ms is not None:
            await self.on_clock(message, ms, sink)
            return
        try:
            # structured JSON, or CloudEvents binary mode (`ce_*` headers + JSON data)
            parsed = parse_message(message.value, message.headers)
            check_event_time(parsed, self.clock(), self.max_future_skew)
        except InvalidEvent as exc:
            await self.reject(message, exc, sink)
            return
        key = parsed.subject.encode()
        produced = produced_ms(message)
        produced_header = str(produced or int(self.clock() * 1000)).encode()
        home = vendor_partition(key, self._partitions)
        if home != partition:
            metrics.EVENTS_REROUTED.inc()
            # a binary-mode event travels on in structured form: the reroute keeps no ce_ headers
            binary = bool(message.headers) and is_binary(message.headers)
            await sink.add(
                topics.RAW,
                encode_event(parsed) if binary else message.value,  # type: ignore[arg-type]
                key,
                partition=home,
                headers=((PRODUCED_AT_HEADER, produced_header),),
            )
            return
        counter = self._accepted_by_type.get(parsed.type)
        if counter is None:
            counter = self._accepted_by_type[parsed.type] = metrics.EVENTS_ACCEPTED.labels(
                type=parsed.type
            )
        counter.inc()
        known = processor.in_history(partition, parsed)
        # whole milliseconds, as the history record's timestamp keeps it (see `now`)
        now = math.floor(parsed.time.timestamp() * 1000) / 1000 if self.scenario else self.now()
        outcome = processor.process(partition, parsed, now)
        if not known:
            self.count_unresolved(parsed, outcome)
            # stamped with the stream time it was scored at: a rebuild or replay applies it then
            await sink.add(
                topics.EVENTS,
                encode_event(parsed),
                key,
                partition=partition,
                headers=(
                    (PRODUCED_AT_HEADER, produced_header),
                    (SOURCE_OFFSET_HEADER, str(message.offset).encode()),
                ),
                timestamp_ms=round(processor.stream_time[partition] * 1000),
            )
        if outcome.changed or outcome.transitions or outcome.earlier:
            await self.publish(outcome, sink, produced)

    def count_unresolved(self, event: Event, outcome: Outcome) -> None:
        """Count the near-miss names of a newly accepted event (`scoring.name_misses`), once per
        event: the score's notes say which, `vendorwatch names` lists them all."""
        state = outcome.state
        vendor = state.names(state.last_t)
        for miss in name_misses(event.type, event.data, self.processor.policy, vendor):
            metrics.UNRESOLVED_NAMES.labels(kind=miss.kind).inc()

    async def rebuild(self, partition: int, offset: int, sink: RecordSink) -> None:
        """Fold a partition's history before its first message here, and publish again what a
        crashed predecessor may not have (`Processor.ensure_loaded` says which)."""
        started = time.monotonic()
        count, again = await self.processor.ensure_loaded(partition, offset, self.load_history)
        metrics.RECOVERY_DURATION.set(time.monotonic() - started)
        log.info(
            "partition_rebuilt",
            partition=partition,
            events=count,
            republished=len(again),
            seconds=round(time.monotonic() - started, 3),
        )
        for outcome in again:
            await self.publish(outcome, sink, None)

    async def publish(self, outcome: Outcome, sink: RecordSink, produced: int | None) -> None:
        """Queue an outcome's score change and alert transitions (in that order), after those
        of the deadlines that fell due before it (`Outcome.earlier`)."""
        for earlier in outcome.earlier:
            await self.publish(earlier, sink, None)
        event_id = outcome.caused_by
        if outcome.changed:
            current = outcome.current
            record = score_record(current, outcome.previous, event_id, published_at=self.clock())
            await sink.add(topics.SCORES, orjson.dumps(record), current.vendor_id.encode())
            metrics.SCORES_PUBLISHED.inc()
            metrics.set_vendor_score(
                current.vendor_id, current.score, current.severity, current.data_at_stake
            )
            if produced:
                latency = max(0.0, self.clock() - produced / 1000)
                metrics.SCORE_PUBLISH_LATENCY.observe(latency)
            if logs.enabled(logging.DEBUG):
                log.debug(
                    "score_changed",
                    vendor_id=current.vendor_id,
                    event_id=event_id,
                    score=current.score,
                    severity=current.severity,
                )
        for transition in outcome.transitions:
            # Published after the score, before the ack: at-least-once, and the transition id
            # lets the notifier drop a redelivered duplicate.
            await sink.add(
                topics.ALERTS, orjson.dumps(transition.to_record()), transition.vendor_id.encode()
            )
            log.info(
                "alert_transition",
                vendor_id=transition.vendor_id,
                event_id=event_id,
                fingerprint=transition.fingerprint,
                rule=transition.rule,
                status=transition.status,
                severity=transition.severity,
            )

    async def reject(self, message: RawMessage, exc: InvalidEvent, sink: RecordSink) -> None:
        """Dead-letter an invalid message with the reason and its original bytes."""
        metrics.EVENTS_REJECTED.labels(reason=exc.reason).inc()
        metrics.DLQ_MESSAGES.labels(topic=topics.EVENTS_DLQ).inc()
        # one line per rejected message: the ids it claims (none for garbage) and where it
        # came from, which is also where the DLQ record points
        log.warning(
            "event_rejected",
            reason=exc.reason,
            error=str(exc),
            origin="kafka",
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            **claimed_ids(message.value, message.key),
        )
        record = dead_letter(
            message.value,
            exc,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
            key=message.key,
            rejected_by=self.worker_name,
            headers=binary_headers(message.headers),
        )
        await sink.add(topics.EVENTS_DLQ, record, message.key)

    def _mark_processed(self, batch: Sequence[RawMessage]) -> None:
        """Set the freshness gauge of every partition in the batch (once per batch)."""
        now = self.clock()
        for partition in {message.partition for message in batch}:
            metrics.LAST_EVENT_TIMESTAMP.labels(topic=topics.RAW, partition=str(partition)).set(now)

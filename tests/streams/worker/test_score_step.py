"""The score agent's step without a broker or Faust: reroute, DLQ, history dedupe, crash
re-publish and the order of what it writes.

The step gets plain `RawMessage`s, writes into a list and reads a partition's history from a
dict, so every test runs in milliseconds; the live path (Faust, the outbox, Tansu) is covered by
tests/integration/test_pipeline_api.py and test_pipeline_recovery.py. Events come from the real
codec and the demo scenario, and the expected records from a separate `Processor`.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from tests.streams.core.rules_helpers import (
    T0,
    days,
    default_policy,
    demo_events,
    event,
    heartbeat,
    registered,
    restricted_data,
)
from vendorwatch.schemas.codec import encode_event
from vendorwatch.schemas.events import Event, iso
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.core.records import score_record
from vendorwatch.streams.core.state import event_key
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.history import SOURCE_OFFSET_HEADER
from vendorwatch.streams.kafka_io.partitioning import vendor_partition
from vendorwatch.streams.worker import metrics
from vendorwatch.streams.worker.score_step import (
    CLOCK_HEADER,
    PRODUCED_AT_HEADER,
    RawMessage,
    ScoreStep,
)

T = TypeVar("T")
PARTITIONS = 4
LAYOUT = {
    topics.RAW: PARTITIONS,
    topics.EVENTS: PARTITIONS,
    topics.SCORES: PARTITIONS,
    topics.ALERTS: PARTITIONS,
    topics.EVENTS_DLQ: 1,
}
NOW = 1_760_000_000.0
"""The step's clock in these tests (2025-10-09): `published_at`, the produced-at fallback and
the instant future-dated events are judged by (after the demo scenario's last event)."""
WORKER = "test-worker:1"


@dataclass(frozen=True)
class Record:
    topic: str
    value: bytes
    key: bytes | None
    partition: int | None
    headers: tuple[tuple[str, bytes], ...]


@dataclass
class ListSink:
    """The `RecordSink` of the tests: records in the order they were added."""

    records: list[Record] = field(default_factory=list)
    timestamps: list[int | None] = field(default_factory=list)
    """Each record's timestamp (ms; None: the producer's now), beside `records`."""

    async def add(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        *,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
        timestamp_ms: int | None = None,
    ) -> None:
        self.records.append(Record(topic, value, key, partition, tuple(headers)))
        self.timestamps.append(timestamp_ms)

    def on(self, topic: str) -> list[Record]:
        return [r for r in self.records if r.topic == topic]


@dataclass
class History:
    """An in-memory `vendorwatch.events`: per partition, (event, source raw offset) in order."""

    partitions: dict[int, list[tuple[Event, int | None]]] = field(default_factory=dict)
    reads: list[int] = field(default_factory=list)

    async def load(self, partition: int) -> list[tuple[Event, int | None, float | None]]:
        """As `read_history` gives it: each event with its source offset and stream time (none
        recorded here: the events are replayed in event time)."""
        self.reads.append(partition)
        return [(event, source, None) for event, source in self.partitions.get(partition, [])]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def home(vendor: str) -> int:
    return vendor_partition(vendor.encode(), PARTITIONS)


def step(
    history: History | None = None, *, clock: Callable[[], float] = lambda: NOW
) -> tuple[ScoreStep, Processor]:
    processor = Processor(default_policy())
    loader = (history or History()).load
    return ScoreStep(processor, LAYOUT, loader, WORKER, clock=clock), processor


def message(
    value: bytes,
    *,
    partition: int,
    offset: int,
    key: bytes | None = None,
    timestamp: float | None = 1_700_000_000.0,
    headers: Sequence[tuple[str, bytes]] = (),
) -> RawMessage:
    return RawMessage(topics.RAW, partition, offset, key, value, timestamp, tuple(headers))


def messages(events: Iterable[Event]) -> list[RawMessage]:
    """Each event on its vendor's raw partition, offsets counting per partition."""
    next_offset: dict[int, int] = {}
    out = []
    for e in events:
        p = home(e.subject)
        offset = next_offset.get(p, 0)
        next_offset[p] = offset + 1
        out.append(message(encode_event(e), partition=p, offset=offset, key=e.subject.encode()))
    return out


def counter(metric: Any) -> float:
    return float(metric._value.get())


def test_a_message_on_another_vendors_partition_is_rerouted_not_scored() -> None:
    score_step, processor = step()
    e = registered("acme")
    wrong = (home("acme") + 1) % PARTITIONS
    before = counter(metrics.EVENTS_REROUTED)
    sink = ListSink()
    run(score_step.handle([message(encode_event(e), partition=wrong, offset=7)], sink))
    assert sink.records == [
        Record(
            topics.RAW,
            encode_event(e),
            b"acme",
            home("acme"),
            ((PRODUCED_AT_HEADER, b"1700000000000"),),
        )
    ]
    assert counter(metrics.EVENTS_REROUTED) == before + 1
    assert "acme" not in processor.states[wrong]
    assert processor.published == {}


def test_a_rerouted_message_keeps_its_first_produced_at() -> None:
    """A second hop carries the original time, so the latency metric spans both hops."""
    score_step, _ = step()
    wrong = (home("acme") + 1) % PARTITIONS
    original = ((PRODUCED_AT_HEADER, b"1234"),)
    raw = message(encode_event(registered("acme")), partition=wrong, offset=0, headers=original)
    sink = ListSink()
    run(score_step.handle([raw], sink))
    assert sink.records[0].headers == original
    # and without a header or a timestamp, the step's clock stands in
    untimed = message(encode_event(registered("acme")), partition=wrong, offset=1, timestamp=None)
    run(score_step.handle([untimed], sink))
    assert sink.records[1].headers == ((PRODUCED_AT_HEADER, str(int(NOW * 1000)).encode()),)


def test_invalid_input_goes_to_the_dlq_with_its_reason_and_bytes_between_scored_events() -> None:
    score_step, processor = step()
    first, last = registered("acme"), restricted_data("acme")
    p = home("acme")
    garbage = b"\xff\xfe not json"
    invalid = orjson.dumps({"specversion": "1.0", "id": "x-1", "type": "vendor.registered"})
    batch = [
        message(encode_event(first), partition=p, offset=0, key=b"acme"),
        message(garbage, partition=p, offset=1, key=b"acme", timestamp=1.5),
        message(invalid, partition=p, offset=2, key=None),
        message(encode_event(last), partition=p, offset=3, key=b"acme"),
    ]
    sink = ListSink()
    run(score_step.handle(batch, sink))

    dlq = sink.on(topics.EVENTS_DLQ)
    assert [r.key for r in dlq] == [b"acme", None]
    bad, wrong = (orjson.loads(r.value) for r in dlq)
    assert bad["reason"] == "invalid_json"
    assert bad["original"] == {
        "encoding": "base64",
        "value": base64.b64encode(garbage).decode("ascii"),
    }
    assert bad["origin"] == {
        "topic": topics.RAW,
        "partition": p,
        "offset": 1,
        "timestamp_ms": 1500,
        "key": {"encoding": "utf-8", "value": "acme"},
    }
    assert bad["rejected_by"] == WORKER
    assert wrong["reason"] == "schema"
    assert wrong["errors"]
    assert wrong["original"] == {"encoding": "utf-8", "value": invalid.decode()}
    # the valid events on either side were written to the history and scored, in order
    assert [r.value for r in sink.on(topics.EVENTS)] == [encode_event(first), encode_event(last)]
    assert [orjson.loads(r.value)["caused_by"] for r in sink.on(topics.SCORES)] == [
        first.id,
        last.id,
    ]
    assert processor.states[p]["acme"].seen >= {event_key(first), event_key(last)}


def test_an_event_already_in_the_history_is_not_written_again_and_scores_once() -> None:
    first, second = registered("acme"), restricted_data("acme", at=T0)
    p = home("acme")
    history = History({p: [(first, 0)]})
    score_step, processor = step(history)
    sink = ListSink()
    # `first` redelivered (its offset was not committed), `second` new, then `second` again
    batch = [
        message(encode_event(first), partition=p, offset=0, key=b"acme"),
        message(encode_event(second), partition=p, offset=1, key=b"acme"),
        message(encode_event(second), partition=p, offset=2, key=b"acme"),
    ]
    run(score_step.handle(batch, sink))
    assert history.reads == [p]
    assert [r.value for r in sink.on(topics.EVENTS)] == [encode_event(second)]
    # `first`'s score goes out again from the rebuild (offset 0 was not committed), not from
    # the redelivered message; `second` is scored once
    caused_by = [orjson.loads(r.value)["caused_by"] for r in sink.on(topics.SCORES)]
    assert caused_by == [first.id, second.id]

    once = Processor(default_policy())
    once.process(p, first)  # from a history record that carries no stream time: event time
    once.process(p, second, NOW)  # scored live, at stream time
    assert processor.published == once.published


def test_a_rebuild_republishes_what_a_crashed_worker_may_not_have_published() -> None:
    """The history holds events scored from raw offsets 0-2, but the committed position is 1:
    the outcomes of offsets 1 and 2 are published again, in history order, before the
    redelivered message is handled (and it is then a known id: nothing more is written)."""
    first, second = registered("acme"), restricted_data("acme")
    third = restricted_data("acme", at=T0.replace(year=2025), records=5_000_000)
    p = home("acme")
    history = History({p: [(first, 0), (second, 1), (third, 2)]})
    score_step, _ = step(history)

    expected = Processor(default_policy())
    outcomes = [expected.process(p, e) for e in (first, second, third)]
    again = [o for o in outcomes[1:] if o.changed or o.transitions]
    assert again, "the scenario must change something after the committed position"

    sink = ListSink()
    redelivered = message(encode_event(second), partition=p, offset=1, key=b"acme")
    run(score_step.handle([redelivered], sink))
    assert sink.on(topics.EVENTS) == []
    published = [orjson.loads(r.value)["caused_by"] for r in sink.on(topics.SCORES)]
    assert published == [o.event.id for o in again if o.changed]
    assert [orjson.loads(r.value) for r in sink.on(topics.ALERTS)] == [
        t.to_record() for o in again for t in o.transitions
    ]


def test_nothing_is_republished_when_the_history_ends_before_the_committed_position() -> None:
    first = registered("acme")
    p = home("acme")
    score_step, _ = step(History({p: [(first, 0), (restricted_data("acme"), None)]}))
    sink = ListSink()
    run(score_step.handle([message(encode_event(first), partition=p, offset=5)], sink))
    assert sink.records == []


def test_the_demo_writes_history_then_score_then_alerts_per_event_byte_for_byte() -> None:
    """Every record of the demo scenario, in order, as an independent fold says it should be:
    the history record with its headers, the score record when the score changed, then the
    alert transitions."""
    events = demo_events()
    batch = messages(events)
    score_step, _ = step()
    sink = ListSink()
    run(score_step.handle(batch, sink))

    fold = Processor(default_policy())
    expected: list[Record] = []
    for raw, e in zip(batch, events, strict=True):
        key = e.subject.encode()
        headers = (
            (PRODUCED_AT_HEADER, b"1700000000000"),
            (SOURCE_OFFSET_HEADER, str(raw.offset).encode()),
        )
        expected.append(Record(topics.EVENTS, encode_event(e), key, raw.partition, headers))
        outcome = fold.process(raw.partition, e, NOW)  # a wall-clock worker: stream time NOW
        for o in (*outcome.earlier, outcome):
            if o.changed:
                record = score_record(o.current, o.previous, o.caused_by, published_at=NOW)
                expected.append(Record(topics.SCORES, orjson.dumps(record), key, None, ()))
            for t in o.transitions:
                expected.append(Record(topics.ALERTS, orjson.dumps(t.to_record()), key, None, ()))
    assert sink.records == expected
    # each history record carries the stream time it was scored at, for a rebuild or a replay
    stamps = {
        s for r, s in zip(sink.records, sink.timestamps, strict=True) if r.topic == topics.EVENTS
    }
    assert stamps == {round(NOW * 1000)}
    assert sink.on(topics.ALERTS), "the demo raises alerts"
    last = orjson.loads(sink.on(topics.SCORES)[-1].value)
    assert last["published_at"] == NOW
    assert last["updated_at"] == last["as_of"]


def test_a_batch_sets_the_freshness_of_its_partitions() -> None:
    score_step, _ = step()
    batch = messages([registered("acme")])
    p = batch[0].partition
    run(score_step.handle(batch, ListSink()))
    gauge = metrics.LAST_EVENT_TIMESTAMP.labels(topic=topics.RAW, partition=str(p))
    assert gauge._value.get() == NOW


def test_raw_message_of_reads_a_faust_message_with_dict_headers() -> None:
    @dataclass
    class FaustLike:
        topic: str = topics.RAW
        partition: int = 2
        offset: int = 9
        key: bytes | None = b"k"
        value: bytes | None = b"v"
        timestamp: float | None = 1.0
        headers: Any = None

    assert RawMessage.of(FaustLike(headers={"a": b"1"})).headers == (("a", b"1"),)
    assert RawMessage.of(FaustLike(headers=[("a", b"1")])).headers == (("a", b"1"),)
    assert RawMessage.of(FaustLike()) == RawMessage(topics.RAW, 2, 9, b"k", b"v", 1.0, ())


def test_a_producer_duplicate_already_in_the_history_writes_nothing() -> None:
    """The same event at raw offsets 0 and 1, offset 0 committed: the rebuild finds it, so the
    copy at offset 1 is neither written nor published again."""
    first = registered("acme")
    p = home("acme")
    score_step, processor = step(History({p: [(first, 0)]}))
    sink = ListSink()
    run(score_step.handle([message(encode_event(first), partition=p, offset=1)], sink))
    assert sink.records == []
    assert processor.states[p]["acme"].seen == {event_key(first)}


def test_the_steps_import_no_faust() -> None:
    """The steps run where Faust is absent (tests, tools): checked in a fresh interpreter."""
    code = (
        "import sys\n"
        "import vendorwatch.streams.worker.score_step, vendorwatch.streams.worker.notify_step\n"
        "assert not {'faust', 'mode'} & set(sys.modules), sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- events from the future ------------------------------------------------------------------


def cto_to_competitor(vendor: str, *, at: datetime) -> Event:
    """An executive joins a competitor: fires `key_person_to_competitor` under the default
    policy."""
    return event(
        "person.moved",
        {
            "person": "Pat Doe",
            "role": "CTO",
            "from_org": vendor.title(),
            "to_org": "OpenAI",
            "seniority": "executive",
        },
        at=at,
        vendor=vendor,
    )


def test_an_event_dated_2052_goes_to_the_dlq_and_the_vendors_other_events_still_score() -> None:
    """One harmless typo in the year must not leave the vendor scored "as of 2052" for good:
    it is dead-lettered as `time_in_future` with its bytes, and what comes after still scores
    and pages."""
    score_step, processor = step()
    p = home("acme")
    before = [registered("acme"), restricted_data("acme", at=T0 + days(1))]
    typo = heartbeat("acme", at=datetime(2052, 1, 7, 9, 0, tzinfo=UTC))
    # a day before now: a move older than active_days would (rightly) not page at stream time
    after = [cto_to_competitor("acme", at=datetime.fromtimestamp(NOW - 86400, UTC))]
    batch = messages([*before, typo, *after])
    rejected = metrics.EVENTS_REJECTED.labels(reason="time_in_future")
    counted = counter(rejected)
    sink = ListSink()
    run(score_step.handle(batch, sink))

    (dead,) = sink.on(topics.EVENTS_DLQ)
    assert dead.key == b"acme"
    record = orjson.loads(dead.value)
    assert record["reason"] == "time_in_future"
    assert record["original"] == {"encoding": "utf-8", "value": encode_event(typo).decode()}
    assert record["origin"]["offset"] == 2
    (error,) = record["errors"]
    assert error["field"] == "time"
    assert "2052-01-07T09:00:00Z" in error["message"]
    assert "86400 s" in error["message"]
    assert counter(rejected) == counted + 1
    # everything else for the vendor went to the history and was scored, in order
    kept = [*before, *after]
    assert [r.value for r in sink.on(topics.EVENTS)] == [encode_event(e) for e in kept]
    assert processor.states[p]["acme"].seen == {event_key(e) for e in kept}
    scores = [orjson.loads(r.value) for r in sink.on(topics.SCORES)]
    assert [s["caused_by"] for s in scores][-1] == after[-1].id
    assert scores[-1]["as_of"] == iso(NOW)  # scored at stream time, not "as of 2052"
    # and the move to a competitor after the typo still pages
    transitions = [orjson.loads(r.value) for r in sink.on(topics.ALERTS)]
    assert ("key_person_to_competitor", "firing") in {(t["rule"], t["status"]) for t in transitions}


def test_an_event_within_the_skew_is_accepted() -> None:
    score_step, _ = step()
    soon = registered("acme", at=datetime.fromtimestamp(NOW + 3600, UTC))
    sink = ListSink()
    run(score_step.handle(messages([soon]), sink))
    assert sink.on(topics.EVENTS_DLQ) == []
    assert [r.value for r in sink.on(topics.EVENTS)] == [encode_event(soon)]


def test_the_verdict_follows_the_injected_clock_and_the_steps_skew() -> None:
    """The step reads its clock for every message (a simulated stream clock moves it), never
    the wall clock, and honours the configured skew."""
    now = [NOW]
    score_step, _ = step(clock=lambda: now[0])
    score_step.max_future_skew = 60.0
    ahead = registered("acme", at=datetime.fromtimestamp(NOW + 120, UTC))
    sink = ListSink()
    run(score_step.handle(messages([ahead]), sink))
    assert [orjson.loads(r.value)["reason"] for r in sink.on(topics.EVENTS_DLQ)] == [
        "time_in_future"
    ]
    now[0] = NOW + 60  # the clock moved on: the same event is now within the skew
    sink = ListSink()
    run(score_step.handle(messages([ahead]), sink))
    assert sink.on(topics.EVENTS_DLQ) == []
    assert [r.value for r in sink.on(topics.EVENTS)] == [encode_event(ahead)]


# --- stream time -------------------------------------------------------------------------------


def clock_message(at: float, *, partition: int, offset: int) -> RawMessage:
    """A clock record of a scenario: no value, the instant in its header."""
    return RawMessage(
        topics.RAW,
        partition,
        offset,
        None,
        b"",
        None,
        ((CLOCK_HEADER, str(round(at * 1000)).encode()),),
    )


def test_a_scenario_clock_record_ends_a_key_person_alert_with_no_new_event() -> None:
    """LabelCo: restricted data, then its CTO joins a competitor, then nothing. The scenario's
    clock moves on and the alert resolves at exactly active_days after the move."""
    processor = Processor(default_policy())
    loader = History().load
    score_step = ScoreStep(processor, LAYOUT, loader, WORKER, clock=lambda: NOW, scenario=True)
    moved = datetime(2024, 2, 1, tzinfo=UTC)
    events = [
        registered("labelco", at=datetime(2024, 1, 1, tzinfo=UTC)),
        restricted_data("labelco", at=datetime(2024, 1, 2, tzinfo=UTC)),
        cto_to_competitor("labelco", at=moved),
    ]
    batch = messages(events)
    p = home("labelco")
    sink = ListSink()
    run(score_step.handle(batch, sink))
    fired = [orjson.loads(r.value) for r in sink.on(topics.ALERTS)]
    assert ("key_person_to_competitor", "firing") in {(t["rule"], t["status"]) for t in fired}
    # history records carry the scenario's stream time: each event's own time here
    pairs = zip(sink.records, sink.timestamps, strict=True)
    stamps = [stamp for record, stamp in pairs if record.topic == topics.EVENTS]
    assert stamps == [round(e.time.timestamp() * 1000) for e in events]

    later = ListSink()
    june = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
    run(score_step.handle([clock_message(june, partition=p, offset=len(batch))], later))
    alerts = [orjson.loads(r.value) for r in later.on(topics.ALERTS)]
    ended = [a for a in alerts if a["rule"] == "key_person_to_competitor"]
    assert [(a["status"], a["ends_at"]) for a in ended] == [("resolved", "2024-05-01T00:00:00Z")]
    assert ended[0]["caused_by"] == "time:2024-05-01T00:00:00Z"
    assert not later.on(topics.EVENTS), "a clock record is never history"
    assert not later.on(topics.EVENTS_DLQ), "nor invalid input"
    # the score decayed on the way (a key-person move halves every 180 days)
    scores = [orjson.loads(r.value) for r in later.on(topics.SCORES)]
    assert scores
    assert scores[-1]["score"] < orjson.loads(sink.on(topics.SCORES)[-1].value)["score"]
    assert processor.stream_time[p] == june


def test_a_wall_clock_tick_publishes_only_what_fell_due() -> None:
    now = {"t": NOW}
    score_step, _ = step(clock=lambda: now["t"])
    moved = datetime.fromtimestamp(NOW - 86400, UTC)
    run(
        score_step.handle(
            messages(
                [registered("acme"), restricted_data("acme"), cto_to_competitor("acme", at=moved)]
            ),
            ListSink(),
        )
    )
    quiet = ListSink()
    now["t"] = NOW + 60
    assert run(score_step.tick(quiet)) == 0
    assert quiet.records == []
    due = ListSink()
    now["t"] = NOW + 100 * 86400  # past active_days
    assert run(score_step.tick(due)) >= 1
    ended = [orjson.loads(r.value) for r in due.on(topics.ALERTS)]
    assert ("key_person_to_competitor", "resolved") in {(a["rule"], a["status"]) for a in ended}


def test_a_wall_clock_worker_ignores_clock_records() -> None:
    score_step, processor = step()
    run(score_step.handle(messages([registered("acme")]), ListSink()))
    p = home("acme")
    sink = ListSink()
    run(score_step.handle([clock_message(NOW + 10**8, partition=p, offset=1)], sink))
    assert sink.records == []
    assert processor.stream_time[p] == NOW


def test_a_near_miss_name_is_counted_once_per_event_by_what_it_is_close_to() -> None:
    """A 30% stake by "Microsoft Research" (not in the policy) counts nothing, but the worker
    counts the near miss of a competitor; the same event redelivered is not counted again."""
    score_step, _ = step()
    stake = event(
        "ownership.stake_acquired",
        {"investor": "Microsoft Research", "stake_pct": 30},
        at=T0,
        vendor="acme",
    )
    client = event("client.paused", {"client": "Googl"}, at=T0, vendor="acme")
    competitor = metrics.UNRESOLVED_NAMES.labels(kind="competitor")
    organisation = metrics.UNRESOLVED_NAMES.labels(kind="organisation")
    before = counter(competitor), counter(organisation)
    batch = messages([registered("acme"), stake, stake, client])
    run(score_step.handle(batch, ListSink()))
    assert (counter(competitor), counter(organisation)) == (before[0] + 1, before[1] + 1)


def binary_form(event: Event) -> tuple[list[tuple[str, bytes]], bytes]:
    """A binary-mode Kafka message of `event`: attributes as `ce_*` headers, data as the value."""
    structured = orjson.loads(encode_event(event))
    data = orjson.dumps(structured.pop("data"))
    headers = [(f"ce_{name}", str(value).encode()) for name, value in structured.items()]
    return [*headers, ("content-type", b"application/json")], data


def test_a_binary_mode_event_is_scored_and_kept_in_structured_form() -> None:
    score_step, processor = step()
    e = registered("acme")
    headers, data = binary_form(e)
    p = home("acme")
    sink = ListSink()
    run(
        score_step.handle(
            [message(data, partition=p, offset=0, key=b"acme", headers=headers)], sink
        )
    )
    (history,) = sink.on(topics.EVENTS)
    canonical = orjson.loads(history.value)
    assert canonical["id"] == e.id
    assert canonical["data"] == orjson.loads(data)
    assert canonical["datacontenttype"] == "application/json"
    assert [orjson.loads(r.value)["caused_by"] for r in sink.on(topics.SCORES)] == [e.id]
    assert "acme" in processor.states[p]


def test_a_binary_mode_event_on_another_partition_is_rerouted_in_structured_form() -> None:
    score_step, _ = step()
    headers, data = binary_form(registered("acme"))
    wrong = (home("acme") + 1) % PARTITIONS
    sink = ListSink()
    run(score_step.handle([message(data, partition=wrong, offset=0, headers=headers)], sink))
    (rerouted,) = sink.records
    assert rerouted.partition == home("acme")
    assert orjson.loads(rerouted.value)["subject"] == "acme"
    assert [name for name, _ in rerouted.headers] == [PRODUCED_AT_HEADER]


def test_a_bad_binary_mode_event_is_dead_lettered_with_its_headers() -> None:
    score_step, _ = step()
    headers, _ = binary_form(registered("acme"))
    headers = [(n, b"vendor.exploded" if n == "ce_type" else v) for n, v in headers]
    sink = ListSink()
    run(
        score_step.handle(
            [message(b'{"name": "Acme"}', partition=0, offset=0, headers=headers)], sink
        )
    )
    (dead,) = sink.on(topics.EVENTS_DLQ)
    record = orjson.loads(dead.value)
    assert record["reason"] == "unknown_type"
    assert record["original"] == {"encoding": "utf-8", "value": '{"name": "Acme"}'}
    assert {"name": "ce_type", "encoding": "utf-8", "value": "vendor.exploded"} in record["headers"]

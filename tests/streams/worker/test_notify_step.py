"""The notify agent's step without a broker or Faust: one notification per vendor, silences,
repeats, the alerts DLQ when a sink fails, a new partition's history and forgetting on revoke.

Transition records are the ones the demo scenario makes the real `Processor` publish; sinks are
in-process fakes behind the real `Deliverer` (retries, ledger, DLQ record), so these tests see
what the live agent decides. The HTTP sinks themselves are covered by tests/alerts/sinks and
tests/integration/test_alerts_e2e.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson

from tests.streams.core.rules_helpers import default_policy, demo_events, run_events
from vendorwatch.alerts.delivery import Deliverer, RetryPolicy
from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.notifier import Notifier
from vendorwatch.alerts.silences import SilenceBook, new_silence
from vendorwatch.alerts.sink import AttemptOutcome, DeliveryResult
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.worker.notify_step import Alerting, NotifyStep
from vendorwatch.streams.worker.score_step import RawMessage

T = TypeVar("T")
NOW = datetime(2025, 6, 20, 10, 0, tzinfo=UTC)
HOUR = 3600.0
HOUR_TD = timedelta(hours=1)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def demo_records() -> list[dict[str, Any]]:
    """The transition records the demo scenario publishes (all scale-ai), in order."""
    result = run_events(demo_events(), default_policy())
    return [t.to_record() for _, t in result.transitions]


def as_vendor(records: Iterable[dict[str, Any]], vendor: str) -> list[dict[str, Any]]:
    """The same transitions for another vendor (own ids and fingerprints)."""
    return [
        {
            **r,
            "vendor_id": vendor,
            "vendor_name": vendor.title(),
            "id": f"{r['id']}-{vendor}",
            "fingerprint": f"{r['fingerprint']}-{vendor}",
        }
        for r in records
    ]


@dataclass
class FakeSink:
    """An in-process `alerts.sink.Sink`: records what it was sent, answers `outcome`."""

    name: str
    outcome: AttemptOutcome = AttemptOutcome.DELIVERED
    rate_limit_key: str | None = None
    min_interval_s: float = 0.0
    sent: list[Notification] = field(default_factory=list)

    async def send(self, n: Notification) -> DeliveryResult:
        self.sent.append(n)
        return DeliveryResult(self.outcome, f"{self.name} {self.outcome.value}", 200)


@dataclass
class ListSink:
    """The DLQ `RecordSink`: (topic, value, key) in order."""

    records: list[tuple[str, bytes, bytes | None]] = field(default_factory=list)

    async def add(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        *,
        partition: int | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        self.records.append((topic, value, key))


@dataclass
class AlertsTopic:
    """An in-memory `vendorwatch.alerts`: values per partition; loads are recorded."""

    partitions: dict[int, list[bytes]] = field(default_factory=dict)
    loads: list[tuple[int, int]] = field(default_factory=list)

    async def load(self, partition: int, stop: int) -> list[bytes | None]:
        self.loads.append((partition, stop))
        return list(self.partitions.get(partition, [])[:stop])


@dataclass
class Clock:
    now: float = NOW.timestamp()

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    step: NotifyStep
    alerting: Alerting
    sinks: list[FakeSink]
    dlq: ListSink
    history: AlertsTopic
    clock: Clock
    seen: list[Notification]


async def no_sleep(_: float) -> None:
    return None


def harness(
    *sinks: FakeSink, silences: SilenceBook | None = None, history: AlertsTopic | None = None
) -> Harness:
    sinks = sinks or (FakeSink("fake"),)
    deliverers = [
        Deliverer(s, policy=RetryPolicy(max_attempts=1), sleep=no_sleep, clock=lambda: 0.0)
        for s in sinks
    ]
    notifier = Notifier(default_policy(), silences or SilenceBook())
    alerting = Alerting(notifier=notifier, deliverers=deliverers)
    seen: list[Notification] = []
    alerting.on_notification = seen.append
    history = history or AlertsTopic()
    clock = Clock()
    dlq = ListSink()
    step = NotifyStep(alerting, history.load, dlq, clock=clock)
    return Harness(step, alerting, list(sinks), dlq, history, clock, seen)


def messages(records: Iterable[dict[str, Any]], partition: int, start: int = 0) -> list[RawMessage]:
    return [
        RawMessage(topics.ALERTS, partition, start + i, r["vendor_id"].encode(), orjson.dumps(r))
        for i, r in enumerate(records)
    ]


def interleave(*parts: list[RawMessage]) -> list[RawMessage]:
    out: list[RawMessage] = []
    for i in range(max(len(p) for p in parts)):
        out.extend(p[i] for p in parts if i < len(p))
    return out


def test_one_notification_per_vendor_for_an_interleaved_batch() -> None:
    h = harness()
    scale = demo_records()
    other = as_vendor(scale[:2], "acme")
    run(h.step.handle(interleave(messages(scale, 0), messages(other, 1))))
    sent = h.sinks[0].sent
    assert sorted(n.vendor_id for n in sent) == ["acme", "scale-ai"]
    by_vendor = {n.vendor_id: n for n in sent}
    assert len(by_vendor["scale-ai"].alerts) == len(scale)
    assert len(by_vendor["acme"].alerts) == 2
    assert list(h.alerting.recent) == list(reversed(h.seen))  # newest first, hook saw each
    assert h.dlq.records == []
    assert h.alerting.partition_of == {"scale-ai": 0, "acme": 1}


def test_a_silenced_vendor_gets_no_notification_and_the_others_do() -> None:
    silences = SilenceBook()
    silences.apply(new_silence("scale-ai", NOW + timedelta(hours=2), "known", now=NOW - HOUR_TD))
    h = harness(silences=silences)
    scale = demo_records()
    run(h.step.handle(interleave(messages(scale, 0), messages(as_vendor(scale, "acme"), 1))))
    assert [n.vendor_id for n in h.sinks[0].sent] == ["acme"]
    # the silenced alerts still count as firing
    assert sum(h.alerting.notifier.active_counts().values()) == 2 * len(scale)


def test_what_stays_firing_is_repeated_once_per_repeat_interval() -> None:
    h = harness()
    run(h.step.handle(messages(demo_records(), 0)))
    assert len(h.sinks[0].sent) == 1
    run(h.step.repeat())  # too early
    assert len(h.sinks[0].sent) == 1
    h.clock.now += default_policy().alerts.repeat_interval_hours * HOUR
    run(h.step.repeat())
    run(h.step.repeat())  # once per interval
    sent = h.sinks[0].sent
    assert len(sent) == 2
    assert sent[1].idempotency_key.startswith("r-")
    assert sent[1].status == "firing"


def test_a_failed_delivery_goes_to_the_alerts_dlq_and_the_other_sink_still_delivers() -> None:
    broken, working = FakeSink("broken", AttemptOutcome.PERMANENT), FakeSink("working")
    h = harness(broken, working)
    run(h.step.handle(messages(demo_records(), 0)))
    assert len(working.sent) == 1
    assert len(broken.sent) == 1
    [(topic, value, key)] = h.dlq.records
    assert (topic, key) == (topics.ALERTS_DLQ, b"scale-ai")
    record = orjson.loads(value)
    assert record["sink"] == "broken"
    assert record["idempotency_key"] == working.sent[0].idempotency_key
    assert record["notification"]["vendor_id"] == "scale-ai"


def test_a_new_partition_absorbs_its_history_first_and_only_once() -> None:
    """What fired before this worker got the partition is known (and not sent again); the
    batch's notification lists it with the new transition."""
    scale = demo_records()
    earlier, later = scale[:-1], scale[-1:]
    history = AlertsTopic({0: [orjson.dumps(r) for r in earlier]})
    h = harness(history=history)
    batch = messages(later, 0, start=len(earlier))
    run(h.step.handle(batch))
    assert history.loads == [(0, len(earlier))]
    [n] = h.sinks[0].sent
    assert len(n.alerts) == len(scale)
    run(h.step.handle(messages(later, 0, start=len(scale))))
    assert history.loads == [(0, len(earlier))]


def test_forgetting_a_revoked_partition_drops_its_vendors_only() -> None:
    h = harness()
    scale = demo_records()
    run(h.step.handle(interleave(messages(scale, 0), messages(as_vendor(scale, "acme"), 1))))
    h.step.forget(0)
    assert set(h.alerting.notifier.vendors) == {"acme"}
    assert h.alerting.partition_of == {"acme": 1}
    assert h.alerting.loaded_partitions == {1}
    # the partition coming back is loaded from its history again
    run(h.step.handle(messages(scale[:1], 0, start=len(scale))))
    assert h.history.loads[-1] == (0, len(scale))

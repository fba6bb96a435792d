"""A replicated read model: every worker follows all of `vendorwatch.scores` and
`vendorwatch.events`, so any worker answers for any vendor without routing.

Why a replicated view rather than routing to the owner: `GET /vendors` needs every vendor
anyway, scores are small (one record per change), and a worker stays able to answer while the
group rebalances. The view is caught up once it has read every partition to the high watermark
seen in a fetch response (not ListOffsets: docs/broker.md, deviation 1); `/readyz` waits for that.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from vendorwatch.alerts.silences import SilenceBook
from vendorwatch.streams.kafka_io import topics

log = structlog.get_logger(__name__)

RECENT_EVENTS = 20
FETCH_MAX_RECORDS = 5000
CAUGHT_UP_PAUSE_S = 0.05
"""Once caught up, the view reads at most every 50 ms: each read then takes what arrived in the
meantime in one fetch, instead of one small fetch per record the worker's agents write (the
view follows topics this worker produces). The read API lags the topics by up to that much."""
FOLLOWED = (topics.SCORES, topics.EVENTS, topics.ALERTS, topics.SILENCES)


@dataclass(slots=True)
class VendorView:
    """What the read API knows of one vendor.

    Scores and events are kept as the bytes read and decoded when the API asks: the view reads
    back a score record and an event for almost every event the worker scores, and most are
    replaced before anyone looks (decoding them all was ~3% of a busy worker's CPU).
    """

    score_json: bytes | None = None
    recent_json: deque[bytes] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS))
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Firing alerts by fingerprint (the latest transition record of each)."""
    _score: dict[str, Any] | None = None

    @property
    def score(self) -> dict[str, Any] | None:
        """The latest score record (None before the first, or if it is not a JSON object)."""
        if self._score is None and self.score_json is not None:
            self._score = _decoded(self.score_json)
        return self._score

    def set_score(self, value: bytes) -> None:
        self.score_json, self._score = value, None

    @property
    def recent(self) -> list[dict[str, Any]]:
        """The latest events, newest first (records that are not JSON objects left out)."""
        return [e for e in map(_decoded, self.recent_json) if e is not None]


def _decoded(value: bytes) -> dict[str, Any] | None:
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


class ScoreView:
    """Follows the scores and events topics from the beginning into an in-memory view."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.vendors: dict[str, VendorView] = {}
        self.silences = SilenceBook()
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.changed = asyncio.Event()
        self._handlers = {
            topics.SCORES: self.apply_score,
            topics.EVENTS: self.apply_event,
            topics.ALERTS: self.apply_alert,
            topics.SILENCES: self.apply_silence,
        }

    def sorted_scores(self) -> list[dict[str, Any]]:
        """Latest score of every vendor, highest first."""
        scores = [v.score for v in self.vendors.values() if v.score is not None]
        scores.sort(key=lambda s: (-s["score"], s["vendor_id"]))
        return scores

    def vendor(self, vendor_id: str) -> VendorView | None:
        return self.vendors.get(vendor_id)

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="score-view")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        tps: list[TopicPartition] = []
        for topic in FOLLOWED:
            partitions: set[int] | None = None
            for _ in range(100):
                partitions = consumer.partitions_for_topic(topic)
                if partitions:
                    break
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
            if not partitions:
                raise RuntimeError(f"topic {topic} does not exist")
            tps.extend(TopicPartition(topic, p) for p in sorted(partitions))
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        return tps

    async def _is_caught_up(self, consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> bool:
        for tp in tps:
            highwater = consumer.highwater(tp)
            if highwater is None or await consumer.position(tp) < highwater:
                return False
        return True

    def _of(self, key: bytes | None, value: bytes, field: str) -> VendorView:
        """The view of the vendor a record is about: its key (every writer keys by vendor id),
        or the record's own `field` for an unkeyed one."""
        return self._vendor(key.decode() if key else orjson.loads(value)[field])

    def _vendor(self, vendor_id: str) -> VendorView:
        found = self.vendors.get(vendor_id)
        if found is None:
            found = self.vendors[vendor_id] = VendorView()
        return found

    def apply_score(self, key: bytes | None, value: bytes) -> None:
        self._of(key, value, "vendor_id").set_score(value)

    def apply_event(self, key: bytes | None, value: bytes) -> None:
        self._of(key, value, "subject").recent_json.appendleft(value)

    def apply_alert(self, _: bytes | None, value: bytes) -> None:
        record = orjson.loads(value)
        alerts = self._vendor(record["vendor_id"]).alerts
        if record["status"] == "firing":
            alerts[record["fingerprint"]] = record
        else:
            alerts.pop(record["fingerprint"], None)

    def apply_silence(self, _: bytes | None, value: bytes) -> None:
        self.silences.apply_bytes(value)

    async def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        tps = await self._assign(consumer)
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=FETCH_MAX_RECORDS)
            taken = 0
            for tp, records in batches.items():
                apply = self._handlers[tp.topic]
                taken += len(records)
                for record in records:
                    try:
                        apply(record.key, record.value)
                    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                        log.warning(
                            "view_skipped_record",
                            topic=tp.topic,
                            partition=tp.partition,
                            offset=record.offset,
                        )
            if batches:
                self.changed.set()
            if not self.caught_up.is_set():
                if await self._is_caught_up(consumer, tps):
                    self.caught_up.set()
                    log.info("view_caught_up", vendors=len(self.vendors))
            elif taken < FETCH_MAX_RECORDS:
                await asyncio.sleep(CAUGHT_UP_PAUSE_S)

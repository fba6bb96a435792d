"""Where vendorwatch works around the ways Tansu differs from Apache Kafka — in one place.

Tansu (the embedded broker, docs/broker.md) speaks the Kafka protocol but differs from Kafka in a
few ways this project meets. Each deviation has a conformance test in
``tests/integration/test_broker_conformance.py`` that asserts the *deviant* behaviour, so we
notice when Tansu fixes it, and a test that the workaround here gives Kafka's answer. Every
workaround is also correct on Apache Kafka, so code that uses them needs no "which broker?"
branch.

Deviations and their workaround:

1. ListOffsets(latest) reports the last batch's base offset + 1, not the log end, after
   multi-record batches -> never use ``end_offsets()`` to "read to the end"; use
   :func:`end_offsets_via_fetch` / :func:`fetch_end_offsets` (the fetch high watermark is right).
2. No transactions; and aiokafka's idempotent producer fails too (InitProducerId v0 ->
   UnknownError, while kafka-python's newer request version works) -> at-least-once delivery
   with idempotent processing (dedupe on event id): :data:`PROCESSING_GUARANTEE`,
   :data:`AIOKAFKA_PRODUCER_SETTINGS`.
3. ``offsets_for_times`` ignores the timestamp (answers offset 0) -> find time ranges from the
   event time in the payload (:data:`OFFSETS_FOR_TIMES_RELIABLE` is False).
4. Memory-only storage -> ``vendorwatch.streams.embedded.journal`` keeps the history on disk.
5. JoinGroup completes only after ``session_timeout / 2`` whatever the rebalance timeout (Faust's
   60 s default session timeout means a 30 s first join) -> :data:`FAUST_BROKER_SETTINGS`.
6. The first group generation is 0 (Kafka starts at 1). aiokafka only sends LeaveGroup when
   ``generation > 0``, so a member of the first generation that closes cleanly stays in the
   group until its session expires, and the next member to join waits about two session
   timeouts -> :func:`apply_aiokafka_workarounds`.
7. DescribeGroups fills ``authorized_operations`` although the client did not ask for it, and
   kafka-python 3.0's ``KafkaAdminClient.describe_groups`` dies parsing it (ValueError: 15 is not
   a valid ACLOperation) -> describe groups with aiokafka's ``AIOKafkaAdminClient``.
8. A fetch long poll is not completed when records arrive: Tansu answers after a fraction of
   ``fetch_max_wait_ms`` however early they came (measured: median ~0.25x, worst ~0.5x the
   wait). Faust hard-codes 1500 ms for its worker consumer, so each hop of the pipeline (raw ->
   validate, events -> score, alerts -> notify) added ~0.4 s median, ~0.7 s worst, and a
   single alert took ~2.4 s to reach its webhook on an idle worker -> the worker consumer waits
   ``FAUST_FETCH_MAX_WAIT_MS`` (``streams.worker.faust_compat``: the patch touches Faust, so
   it lives with the worker).

Two more quirks live next to their code: on SIGTERM Tansu waits ~5 s for in-flight long polls,
so ``EmbeddedBroker`` SIGKILLs after 1 s (``streams/embedded/broker.py``); and aiokafka's own
``consumer.stop()`` can raise CancelledError after the broker went away (:func:`stop_consumer`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError

log = structlog.get_logger(__name__)

# --- group membership timing (deviation 5) --------------------------------------------------

BROKER_REBALANCE_TIMEOUT_S: Final[float] = 3.0
"""Faust ``broker_rebalance_timeout``; Tansu ignores it for the join delay, Kafka uses it."""
BROKER_SESSION_TIMEOUT_S: Final[float] = 6.0
"""Faust ``broker_session_timeout``; Tansu completes a join after half of it (3 s here)."""
BROKER_HEARTBEAT_INTERVAL_S: Final[float] = 1.0
"""Faust ``broker_heartbeat_interval``; must stay well below the session timeout."""

FAUST_BROKER_SETTINGS: Final[Mapping[str, Any]] = MappingProxyType(
    {
        "broker_rebalance_timeout": BROKER_REBALANCE_TIMEOUT_S,
        "broker_session_timeout": BROKER_SESSION_TIMEOUT_S,
        "broker_heartbeat_interval": BROKER_HEARTBEAT_INTERVAL_S,
        "processing_guarantee": "at_least_once",
    }
)
"""Keyword arguments for ``faust.App(...)``: a worker joins in ~3 s on Tansu instead of ~30 s."""

# --- delivery guarantees (deviation 2) -------------------------------------------------------

TRANSACTIONS_SUPPORTED: Final[bool] = False
"""Tansu fails InitProducerId, so ``exactly_once`` and transactional producers cannot work."""
PROCESSING_GUARANTEE: Final[str] = "at_least_once"
"""The only Faust processing guarantee that works on Tansu; consumers dedupe on event id."""
AIOKAFKA_PRODUCER_SETTINGS: Final[Mapping[str, Any]] = MappingProxyType(
    {"enable_idempotence": False, "acks": "all"}
)
"""aiokafka producer options for durable history: idempotence off (needs InitProducerId v0)."""

# --- time index (deviation 3) ----------------------------------------------------------------

OFFSETS_FOR_TIMES_RELIABLE: Final[bool] = False
"""Tansu answers ``offsets_for_times`` with offset 0 whatever the timestamp."""

# --- end offsets (deviation 1) ---------------------------------------------------------------

LIST_OFFSETS_LATEST_RELIABLE: Final[bool] = False
"""Tansu's ListOffsets(latest) is the last batch's base offset + 1; see end_offsets_via_fetch."""


async def end_offsets_via_fetch(
    consumer: AIOKafkaConsumer,
    partitions: Iterable[TopicPartition],
    *,
    max_wait_s: float = 10.0,
    restore_positions: bool = True,
) -> dict[TopicPartition, int]:
    """Return each partition's log end offset as of this call, from a fetch's high watermark.

    Why: on Tansu ``consumer.end_offsets()`` (ListOffsets latest) answers the last batch's base
    offset + 1, so a reader that stops there misses the rest of the last batch (Faust table
    recovery lost updates this way). A fetch response's high watermark is right on both brokers.

    How: ListOffsets still gives a lower bound L that is exact on Kafka and, on Tansu, points
    into the last batch. Any high watermark >= L was taken after that batch landed, so it is the
    end as of the call (or later). If the consumer already knows one, no fetch is needed;
    otherwise the partition is seeked to L - 1 so the next fetch returns the last batch and a
    fresh high watermark. Positions are put back afterwards (``restore_positions``).

    The partitions must be assigned to ``consumer`` and not paused. Do not call this while
    another task reads from the same consumer: it consumes (and then rewinds) those partitions.
    """
    tps = list(dict.fromkeys(partitions))
    if not tps:
        return {}
    assigned = consumer.assignment()
    missing = [tp for tp in tps if tp not in assigned]
    if missing:
        raise ValueError(f"partitions not assigned to this consumer: {missing}")

    saved = {tp: await consumer.position(tp) for tp in tps} if restore_positions else {}
    listed: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    result: dict[TopicPartition, int] = {}
    pending: dict[TopicPartition, int] = {}
    for tp in tps:
        lower = listed[tp]
        known = consumer.highwater(tp)
        if lower == 0:
            result[tp] = 0  # no batch at all: exact on both brokers
        elif known is not None and known >= lower:
            result[tp] = known
        else:
            pending[tp] = lower
            consumer.seek(tp, lower - 1)
    try:
        await _await_highwaters(consumer, pending, result, max_wait_s)
    finally:
        for tp, position in saved.items():
            consumer.seek(tp, position)
    return result


async def _await_highwaters(
    consumer: AIOKafkaConsumer,
    pending: dict[TopicPartition, int],
    result: dict[TopicPartition, int],
    max_wait_s: float,
) -> None:
    """Fetch the pending partitions until each high watermark reaches its lower bound."""
    deadline = time.monotonic() + max_wait_s
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KafkaTimeoutError(
                f"no fetch high watermark within {max_wait_s}s for {sorted(pending)}"
            )
        await consumer.getmany(*pending, timeout_ms=int(min(remaining, 0.5) * 1000))
        for tp, lower in list(pending.items()):
            highwater = consumer.highwater(tp)
            if highwater is not None and highwater >= lower:
                result[tp] = highwater
                del pending[tp]


async def fetch_end_offsets(
    bootstrap_servers: str,
    partitions: Iterable[TopicPartition],
    *,
    max_wait_s: float = 10.0,
) -> dict[TopicPartition, int]:
    """:func:`end_offsets_via_fetch` with a throwaway consumer, for callers that have none free.

    Use it from code whose own consumer is busy in another task (the journal mirror does).
    """
    tps = list(dict.fromkeys(partitions))
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="vendorwatch-end-offsets",
    )
    try:
        await consumer.start()
        consumer.assign(tps)
        return await end_offsets_via_fetch(
            consumer, tps, max_wait_s=max_wait_s, restore_positions=False
        )
    finally:
        await stop_consumer(consumer)


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """``consumer.stop()`` that does not leak a CancelledError of its own making.

    Why: aiokafka's fetcher cancels its in-flight fetch task on close and awaits it unguarded,
    so when a fetch was backing off (the broker went away first) ``stop()`` raises
    CancelledError although nobody cancelled the caller (aio-libs/aiokafka#647). Not a Tansu
    deviation, but it bites whoever stops a consumer after the embedded broker.
    """
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # a real cancellation of the caller
        log.debug("kafka_compat.consumer_stop_cancelled_error_suppressed")


# --- LeaveGroup for generation 0 (deviation 6) ----------------------------------------------

_STOCK_MAYBE_LEAVE_GROUP: Callable[[Any], Awaitable[None]] | None = None


def apply_aiokafka_workarounds() -> None:
    """Make aiokafka leave a consumer group cleanly when the generation is 0. Idempotent.

    Why: Tansu numbers the first generation 0 while aiokafka sends LeaveGroup only for
    ``generation > 0``. A Faust worker stopped cleanly in the first generation then stays in
    the group until its session expires and a restarted worker waits ~2 session timeouts
    (11 s with FAUST_BROKER_SETTINGS) instead of ~3 s. The patch sends the LeaveGroup that
    aiokafka skipped; Kafka never hands out generation 0 to a member, so there it changes nothing.
    Call it once before starting Faust apps or aiokafka consumers with a ``group_id``.
    """
    global _STOCK_MAYBE_LEAVE_GROUP
    from aiokafka.consumer.group_coordinator import GroupCoordinator
    from aiokafka.protocol.group import LeaveGroupRequest

    if _STOCK_MAYBE_LEAVE_GROUP is not None:
        return
    stock = GroupCoordinator._maybe_leave_group

    async def _maybe_leave_group(self: GroupCoordinator) -> None:
        if self.generation == 0 and self._group_instance_id is None and self.member_id:
            try:
                await self._send_req(LeaveGroupRequest(self.group_id, self.member_id))
            except KafkaError as err:
                log.warning("kafka_compat.leave_group_failed", group=self.group_id, error=str(err))
        await stock(self)  # resets the generation (and leaves when generation > 0)

    _STOCK_MAYBE_LEAVE_GROUP = stock
    GroupCoordinator._maybe_leave_group = _maybe_leave_group  # type: ignore[method-assign]


def stock_aiokafka_maybe_leave_group() -> Callable[[Any], Awaitable[None]]:
    """aiokafka's own ``GroupCoordinator._maybe_leave_group``, patched or not (for tests)."""
    from aiokafka.consumer.group_coordinator import GroupCoordinator

    return _STOCK_MAYBE_LEAVE_GROUP or GroupCoordinator._maybe_leave_group


__all__ = [
    "AIOKAFKA_PRODUCER_SETTINGS",
    "BROKER_HEARTBEAT_INTERVAL_S",
    "BROKER_REBALANCE_TIMEOUT_S",
    "BROKER_SESSION_TIMEOUT_S",
    "FAUST_BROKER_SETTINGS",
    "LIST_OFFSETS_LATEST_RELIABLE",
    "OFFSETS_FOR_TIMES_RELIABLE",
    "PROCESSING_GUARANTEE",
    "TRANSACTIONS_SUPPORTED",
    "apply_aiokafka_workarounds",
    "end_offsets_via_fetch",
    "fetch_end_offsets",
    "stock_aiokafka_maybe_leave_group",
    "stop_consumer",
]

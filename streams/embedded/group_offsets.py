"""Consumer-group offsets across restarts of the embedded broker.

Tansu forgets everything when it stops, group offsets included, so without this a restarted
`vendorwatch demo` would re-run the whole history through the agents: harmless for scores (the
fold is idempotent) but it would republish every alert transition. The worker that owns the
embedded broker writes the group's committed offsets to `DATA_DIR/journal/group-offsets.json`
every few seconds and at exit; the next start commits them back before any worker joins. After a
kill -9 the file may be a few seconds old: those messages are processed again (at-least-once),
and the fold, the transition ids and the delivery ledger make that harmless.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from vendorwatch.streams.kafka_io.compat import stop_consumer

FILENAME = "group-offsets.json"


def save(path: Path, group: str, offsets: dict[Any, int | None]) -> None:
    """Atomically write `offsets` (TopicPartition-like -> next offset to read)."""
    rows = [
        {"topic": tp.topic, "partition": tp.partition, "offset": offset}
        for tp, offset in sorted(offsets.items(), key=lambda i: (i[0].topic, i[0].partition))
        if offset is not None
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"group": group, "offsets": rows}))
    os.replace(tmp, path)


def load(path: Path) -> tuple[str, dict[TopicPartition, int]] | None:
    """The saved group and offsets, or None when there is no (readable) file."""
    try:
        raw = orjson.loads(path.read_bytes())
        offsets = {
            TopicPartition(r["topic"], int(r["partition"])): int(r["offset"])
            for r in raw["offsets"]
        }
        return str(raw["group"]), offsets
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


async def commit(bootstrap_servers: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit offsets for a group that has no members yet (before the workers start)."""
    if not offsets:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await stop_consumer(consumer)

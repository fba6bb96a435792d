"""The journal keeps the embedded broker's history across restarts; the broker never outlives us."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.embedded.journal import (
    Journal,
    JournalCorruptError,
    JournalError,
    JournalMirror,
    JournalRecord,
    encode_record,
    restore,
)
from vendorwatch.streams.kafka_io.compat import fetch_end_offsets

pytestmark = pytest.mark.integration

PARTITIONS = 3
Row = tuple[int, bytes | None, bytes | None, int, tuple[tuple[str, bytes | None], ...]]


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


async def produce(bootstrap: str, topics: list[str], n: int, start: int = 0) -> None:
    """Keyed records in multi-record batches, with odd payloads mixed in."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for i in range(start, start + n):
            key = None if i % 17 == 0 else b"vendor-%d" % (i % 11)
            value = None if i % 23 == 0 else (b"\xff\xfe%d" % i if i % 5 == 0 else b'{"n":%d}' % i)
            headers = [("id", b"%d" % i), ("empty", None)] if i % 3 == 0 else []
            await producer.send(
                topics[i % len(topics)],
                key=key,
                value=value if (key or value) else b"",
                timestamp_ms=1_700_000_000_000 + i * 1000,
                headers=headers,
                partition=None if key else i % PARTITIONS,
            )
        await producer.flush()
    finally:
        await producer.stop()


async def read_everything(bootstrap: str, topics: list[str]) -> dict[TopicPartition, list[Row]]:
    """Every record of every partition, read up to the fetch high watermark."""
    tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
    ends = await fetch_end_offsets(bootstrap, tps)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        rows: dict[TopicPartition, list[Row]] = {tp: [] for tp in tps}
        deadline = time.monotonic() + 20
        while any(len(rows[tp]) < ends[tp] for tp in tps) and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                rows[tp] += [
                    (r.offset, r.key, r.value, r.timestamp, tuple(r.headers)) for r in records
                ]
        return rows
    finally:
        await consumer.stop()


def names(unique_topic: Callable[[str], str]) -> list[str]:
    return [unique_topic("events"), unique_topic("alerts")]


# --- restore after a restart -------------------------------------------------------------------


def test_history_survives_a_broker_restart(
    tmp_path: Path, unique_topic: Callable[[str], str]
) -> None:
    topics = names(unique_topic)
    journal_dir = tmp_path / "journal"

    async def first_life(bootstrap: str) -> dict[TopicPartition, list[Row]]:
        await produce(bootstrap, topics, 150)  # before the mirror starts
        mirror = JournalMirror(journal_dir, bootstrap, topics, fsync_interval_s=0.05)
        await mirror.start()
        await produce(bootstrap, topics, 150, start=150)  # while it runs
        await mirror.stop(drain=True)
        assert sum(mirror.positions.values()) == 300
        return await read_everything(bootstrap, topics)

    async def second_life(bootstrap: str) -> tuple[Any, dict[TopicPartition, list[Row]], Any]:
        report = await restore(journal_dir, bootstrap)
        rows = await read_everything(bootstrap, topics)
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            listed = await consumer.end_offsets(list(rows))  # ListOffsets(latest)
        finally:
            await consumer.stop()
        return report, rows, listed

    with EmbeddedBroker(handle_sigterm=False) as first:
        first.create_topics(topics, partitions=PARTITIONS)
        before = run(first_life(first.bootstrap_servers))
    with EmbeddedBroker(handle_sigterm=False) as second:
        second.create_topics(topics, partitions=PARTITIONS)
        report, after, listed = run(second_life(second.bootstrap_servers))

    assert sum(len(rows) for rows in before.values()) == 300
    assert after == before  # partitions, order, offsets, keys, values, timestamps, headers
    assert report.records == 300
    journal = Journal(journal_dir)
    assert {tp: journal.count(*tp) for tp in before} == {tp: len(r) for tp, r in before.items()}
    # the last record of each partition went alone, so even Tansu's ListOffsets is right
    assert listed == {tp: len(rows) for tp, rows in after.items()}


def test_mirror_resumes_after_restore_and_restore_is_idempotent(
    tmp_path: Path, tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topics = names(unique_topic)
    journal_dir = tmp_path / "journal"

    async def body() -> tuple[Any, Any, dict[TopicPartition, list[Row]]]:
        with EmbeddedBroker(handle_sigterm=False) as first:
            first.create_topics(topics, partitions=PARTITIONS)
            async with JournalMirror(journal_dir, first.bootstrap_servers, topics):
                await produce(first.bootstrap_servers, topics, 40)
        tansu.create_topics(topics, partitions=PARTITIONS)
        await restore(journal_dir, tansu.bootstrap_servers)
        async with JournalMirror(journal_dir, tansu.bootstrap_servers, topics) as mirror:
            assert sum(mirror.positions.values()) == 40  # starts at the journal's end
            await produce(tansu.bootstrap_servers, topics, 25, start=40)
        again = await restore(journal_dir, tansu.bootstrap_servers)
        return mirror, again, await read_everything(tansu.bootstrap_servers, topics)

    mirror, again, rows = run(body())
    assert sum(mirror.positions.values()) == 65
    assert again.records == 0  # everything already there
    assert len(again.skipped) == 2 * PARTITIONS
    journal = Journal(journal_dir)
    for tp, broker_rows in rows.items():
        journaled = list(journal.read(*tp))
        assert [(r.key, r.value, r.timestamp_ms, r.headers) for r in journaled] == [
            (k, v, ts, h) for _, k, v, ts, h in broker_rows
        ]


def test_mirror_refuses_a_broker_that_was_not_restored(
    tmp_path: Path, tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("events")
    journal = Journal(tmp_path / "journal")
    writer = journal.open_writer(topic, 0)
    writer.write_lines([encode_record(JournalRecord(b"k", b"v", 1))] * 3)
    writer.close()

    async def start() -> None:
        mirror = JournalMirror(journal, tansu.bootstrap_servers, [topic])
        await mirror.start()
        await mirror.stop()

    with pytest.raises(JournalError, match="no such partition"):
        run(start())
    tansu.create_topics([topic], partitions=1)
    with pytest.raises(JournalError, match="run restore"):
        run(start())


def test_mirror_picks_up_a_topic_created_after_it_started(
    tmp_path: Path, tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    early, late = unique_topic("early"), unique_topic("late")
    tansu.create_topics([early], partitions=1)

    async def body() -> dict[TopicPartition, int]:
        mirror = JournalMirror(
            tmp_path / "journal", tansu.bootstrap_servers, [early, late], discover_interval_s=0.1
        )
        await mirror.start()
        await asyncio.to_thread(tansu.create_topics, [late], 2)
        # wait for a discovery round to take the new topic in (a fixed sleep was flaky under load)
        deadline = time.monotonic() + 15
        while not any(tp.topic == late for tp in mirror.positions):
            assert time.monotonic() < deadline, "the mirror never discovered the new topic"
            await asyncio.sleep(0.1)
        await produce(tansu.bootstrap_servers, [early, late], 10)
        await mirror.stop()
        return mirror.positions

    positions = run(body())
    assert positions[TopicPartition(early, 0)] == 5
    assert sum(n for tp, n in positions.items() if tp.topic == late) == 5


def test_mirror_stop_after_the_broker_is_gone_does_not_raise(
    tmp_path: Path, unique_topic: Callable[[str], str]
) -> None:
    """Shutdown in the wrong order loses the drain, not the journal written so far."""
    topic = unique_topic("gone")

    async def body() -> dict[TopicPartition, int]:
        broker = EmbeddedBroker(handle_sigterm=False)
        await broker.astart()
        try:
            await broker.acreate_topics([topic], partitions=1)
            mirror = JournalMirror(tmp_path / "journal", broker.bootstrap_servers, [topic])
            await mirror.start()
            await produce(broker.bootstrap_servers, [topic], 7)
            await mirror.wait_caught_up()
        finally:
            await broker.astop()
        await mirror.stop(max_wait_s=2)
        return mirror.positions

    assert run(body()) == {TopicPartition(topic, 0): 7}
    assert Journal(tmp_path / "journal").count(topic, 0) == 7


def test_restore_needs_the_partitions(
    tmp_path: Path, tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("events")
    tansu.create_topics([topic], partitions=1)
    journal = Journal(tmp_path / "journal")
    writer = journal.open_writer(topic, 2)
    writer.write_lines([encode_record(JournalRecord(b"k", b"v", 1))])
    writer.close()
    with pytest.raises(JournalError, match=r"lacks partitions .*\[2\]"):
        run(restore(journal, tansu.bootstrap_servers))


# --- torn writes -------------------------------------------------------------------------------


def records(n: int) -> list[JournalRecord]:
    return [JournalRecord(b"k%d" % i, b"v%d" % i, 1000 + i, (("h", b"%d" % i),)) for i in range(n)]


@pytest.mark.parametrize(
    "tail",
    [b'{"ts":1005,"k":"k5","v":"v', b"\x00\x00\x00\x00", b'{"ts":1005,"k":"k5"\x00\n'],
    ids=["no-newline", "zeros", "bad-line-with-newline"],
)
def test_a_torn_last_line_is_skipped_then_cut_off(tmp_path: Path, tail: bytes) -> None:
    journal = Journal(tmp_path / "journal")
    writer = journal.open_writer("t", 0)
    writer.write_lines([encode_record(r) for r in records(5)])
    writer.close()
    with journal.path("t", 0).open("ab") as fh:  # what kill -9 in mid-write leaves
        fh.write(tail)

    assert journal.count("t", 0) == 5
    assert list(journal.read("t", 0)) == records(5)

    writer = journal.open_writer("t", 0)  # the writer cuts the torn bytes off
    assert writer.count == 5
    writer.write_lines([encode_record(r) for r in records(7)[5:]])
    writer.close()
    assert list(journal.read("t", 0)) == records(7)
    assert list(journal.read("t", 0, start=4)) == records(7)[4:]


def test_damage_before_the_last_line_is_an_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    writer = journal.open_writer("t", 0)
    lines = [encode_record(r) for r in records(3)]
    writer.write_lines([lines[0], b"garbage\n", lines[2]])
    writer.close()
    with pytest.raises(JournalCorruptError, match=r"0\.log:2"):
        list(journal.read("t", 0))


def test_restore_of_a_torn_journal_restores_the_complete_records(
    tmp_path: Path, tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("torn")
    tansu.create_topics([topic], partitions=1)
    journal = Journal(tmp_path / "journal")
    writer = journal.open_writer(topic, 0)
    writer.write_lines([encode_record(r) for r in records(4)])
    writer.close()
    with journal.path(topic, 0).open("ab") as fh:
        fh.write(b'{"ts":9,"k":"half')
    report = run(restore(journal, tansu.bootstrap_servers))
    assert report.records == 4
    ends = run(fetch_end_offsets(tansu.bootstrap_servers, [TopicPartition(topic, 0)]))
    assert ends == {TopicPartition(topic, 0): 4}


def test_bytes_that_are_not_utf8_round_trip(tmp_path: Path) -> None:
    odd = JournalRecord(b"\xff", b"\x00\x80\xfe", 0, (("h", b"\xc3\x28"), ("n", None), ("e", b"")))
    tomb = JournalRecord(b"vendor", None, 1)
    journal = Journal(tmp_path / "journal")
    writer = journal.open_writer("t", 0)
    writer.write_lines([encode_record(odd), encode_record(tomb)])
    writer.close()
    assert list(journal.read("t", 0)) == [odd, tomb]


# --- no orphan broker --------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    from vendorwatch.streams.embedded.broker import EmbeddedBroker
    with EmbeddedBroker() as broker:
        print("READY", broker.pid, broker.port, flush=True)
        time.sleep(60)
    """
)


def pid_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name
)
def test_the_broker_does_not_outlive_its_parent(sig: signal.Signals) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        while line and not line.startswith("READY"):  # skip the child's log lines
            line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "child printed nothing"
        tansu_pid = int(line.split()[1])
        assert not pid_gone(tansu_pid)
        os.kill(child.pid, sig)
        child.wait(timeout=10)
        deadline = time.monotonic() + 5
        while not pid_gone(tansu_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid_gone(tansu_pid), f"Tansu (pid {tansu_pid}) outlived its parent after {sig.name}"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

"""An append-only on-disk journal that lets the memory-only embedded broker keep its history.

Tansu stores nothing on disk (docs/broker.md, deviation 4), yet an embedded worker must come
back after a restart, or a kill -9, with everything it had: the raw input it acknowledged, the
history, the DLQs, scores, alerts and silences (``topics.PERSISTED_IN_EMBEDDED_MODE``).

* :class:`JournalMirror` consumes those topics from the broker with its own group-less consumer
  and appends every record to ``<journal>/<topic>/<partition>.log``. Its position is the number
  of records in each file, so it needs no committed offsets (which Tansu would forget anyway).
* :func:`restore` re-produces every file into a fresh broker, same partition, same order, same
  keys, values, timestamps and headers, before any worker starts. Offsets after a restore equal
  the journal's line numbers, so the mirror resumes exactly where the files end.

File format (``FORMAT`` holds :data:`JOURNAL_FORMAT`): one JSON object per line, newline
terminated, ``{"ts": <ms>, "k": <bytes>, "v": <bytes>, "h": [[name, <bytes>], ...]}`` where a
``<bytes>`` is ``null``, a string (the bytes were UTF-8) or ``{"b64": "..."}``. Lines keep the
journal greppable (`jq` answers "what did we know, when") and make a write torn by kill -9 easy
to spot: a last line without its newline, or one that does not parse, is dropped by readers and
cut off by the next writer. A bad line anywhere else is corruption and raises.

Durability: lines are written (to the page cache) after every fetch. With an ack gate
(streams/embedded/ack_gate.py) they are fsynced after every fetch that brought records, and the
gate learns the new durable positions, so the producers' acks waiting on it are released: one
fsync covers every record of the fetch (group commit). Without a gate they are fsynced at most
every ``fsync_interval_s``: a kill -9 loses nothing written, a power cut can lose that interval.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, Self

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from vendorwatch.streams.embedded.ack_gate import AckGate, GateClosedError
from vendorwatch.streams.kafka_io.compat import (
    AIOKAFKA_PRODUCER_SETTINGS,
    end_offsets_via_fetch,
    fetch_end_offsets,
    stop_consumer,
)
from vendorwatch.streams.kafka_io.topics import PERSISTED_IN_EMBEDDED_MODE

log = structlog.get_logger(__name__)

JOURNAL_FORMAT = "vendorwatch-journal 1"
"""First line of ``<journal>/FORMAT``; bump when the line format changes."""

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_READ_CHUNK = 1 << 20

Header = tuple[str, bytes | None]


class JournalError(RuntimeError):
    """The journal and the broker disagree, or the journal cannot be used."""


class JournalCorruptError(JournalError):
    """A line other than the last one does not parse: not a torn write, real damage."""


class JournalRecord(NamedTuple):
    """One Kafka record as journaled: everything a re-produce needs, nothing broker-assigned.

    A NamedTuple rather than a frozen dataclass: restore builds one per record and tuples are
    several times cheaper to construct.
    """

    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[Header, ...] = ()


# --- line codec ------------------------------------------------------------------------------


def _enc(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def _dec(field: Any) -> bytes | None:
    if type(field) is str:  # the common case first: restore decodes three of these per record
        return field.encode("utf-8")
    if field is None:
        return None
    return base64.b64decode(field["b64"], validate=True)


def encode_record(record: JournalRecord) -> bytes:
    """One journal line, newline included."""
    obj: dict[str, Any] = {
        "ts": record.timestamp_ms,
        "k": _enc(record.key),
        "v": _enc(record.value),
    }
    if record.headers:
        obj["h"] = [[name, _enc(value)] for name, value in record.headers]
    return orjson.dumps(obj) + b"\n"


def decode_record(line: bytes) -> JournalRecord:
    """Parse one line (with or without its newline); raises ValueError on anything malformed."""
    try:
        obj = orjson.loads(line)
        timestamp = obj["ts"]
        if type(timestamp) is not int:
            raise TypeError("ts is not an integer")
        raw_headers = obj.get("h")
        headers = tuple((str(n), _dec(v)) for n, v in raw_headers) if raw_headers else ()
        return JournalRecord(_dec(obj["k"]), _dec(obj["v"]), timestamp, headers)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"bad journal line: {exc}") from exc


# --- files -----------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    """Make a newly created directory entry durable (a file fsync alone does not)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _line_start(fh: IO[bytes], end: int) -> int:
    """Offset where the line that ends at byte ``end`` (exclusive, newline included) starts."""
    pos = end - 1  # the newline itself
    while pos > 0:
        start = max(pos - _READ_CHUNK, 0)
        fh.seek(start)
        idx = fh.read(pos - start).rfind(b"\n")
        if idx >= 0:
            return start + idx + 1
        pos = start
    return 0


def _scan(path: Path) -> tuple[int, int]:
    """Return (complete good lines, byte length they cover); a torn or bad last line is excluded.

    The last complete line is parsed too: a write torn across pages can leave a bad line that
    still ends in a newline.
    """
    count = 0
    good = 0
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            count += chunk.count(b"\n")
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                good = offset + idx + 1
            offset += len(chunk)
        if count == 0:
            return 0, 0
        start = _line_start(fh, good)
        fh.seek(start)
        try:
            decode_record(fh.read(good - start))
        except ValueError:
            return count - 1, start
    return count, good


class PartitionWriter:
    """Appends lines to one partition's file; created through :meth:`Journal.open_writer`."""

    def __init__(self, path: Path, count: int) -> None:
        self.path = path
        self.count = count
        """Records in the file, i.e. the broker offset of the next record to append."""
        self.synced_count = count
        """Records known to be on stable storage (fsynced)."""
        self._fh: IO[bytes] = path.open("ab")

    def write_lines(self, lines: Sequence[bytes]) -> None:
        """Append complete lines and hand them to the OS (survives kill -9, not a power cut)."""
        if not lines:
            return
        self._fh.write(b"".join(lines))
        self._fh.flush()
        self.count += len(lines)

    def sync(self) -> None:
        """fsync what was written so far."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.synced_count = self.count

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()


class Journal:
    """The journal directory: ``FORMAT`` plus ``<topic>/<partition>.log`` files."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def ensure(self) -> None:
        """Create the directory and its FORMAT marker, or check the marker of an existing one."""
        marker = self.root / "FORMAT"
        if marker.exists():
            found = marker.read_text(encoding="utf-8").strip()
            if found != JOURNAL_FORMAT:
                raise JournalError(
                    f"{marker}: format {found!r}, this code reads {JOURNAL_FORMAT!r}"
                )
            return
        self.root.mkdir(parents=True, exist_ok=True)
        marker.write_text(JOURNAL_FORMAT + "\n", encoding="utf-8")
        _fsync_dir(self.root)

    def path(self, topic: str, partition: int) -> Path:
        if not _TOPIC_NAME.match(topic) or topic in {".", ".."}:
            raise JournalError(f"not a Kafka topic name: {topic!r}")
        return self.root / topic / f"{int(partition)}.log"

    def partitions(self) -> list[TopicPartition]:
        """Every partition that has a file, sorted."""
        found: list[TopicPartition] = []
        if not self.root.is_dir():
            return found
        for topic_dir in self.root.iterdir():
            if not topic_dir.is_dir() or not _TOPIC_NAME.match(topic_dir.name):
                continue
            for log_file in topic_dir.glob("*.log"):
                if log_file.stem.isdigit():
                    found.append(TopicPartition(topic_dir.name, int(log_file.stem)))
        return sorted(found)

    def count(self, topic: str, partition: int) -> int:
        """Records a reader would return (a torn last line does not count)."""
        path = self.path(topic, partition)
        return _scan(path)[0] if path.exists() else 0

    def read(self, topic: str, partition: int, start: int = 0) -> Iterator[JournalRecord]:
        """Yield the records from index ``start`` on; a torn last line is skipped with a warning."""
        path = self.path(topic, partition)
        if not path.exists():
            return
        with path.open("rb") as fh:
            index = 0
            pending: bytes | None = None  # previous line: only the last line may be bad
            for raw in fh:
                if pending is not None:
                    if index >= start:
                        yield self._decode_strict(path, index, pending)
                    index += 1
                pending = raw
            if pending is None:
                return
            if not pending.endswith(b"\n"):
                log.warning("journal.torn_line_skipped", path=str(path), line=index + 1)
                return
            try:
                record = decode_record(pending)
            except ValueError:
                log.warning("journal.bad_last_line_skipped", path=str(path), line=index + 1)
                return
            if index >= start:
                yield record

    @staticmethod
    def _decode_strict(path: Path, index: int, line: bytes) -> JournalRecord:
        try:
            return decode_record(line)
        except ValueError as exc:
            raise JournalCorruptError(f"{path}:{index + 1}: {exc}") from exc

    def open_writer(self, topic: str, partition: int) -> PartitionWriter:
        """Open a partition file for appending, first cutting off a torn last line."""
        self.ensure()
        path = self.path(topic, partition)
        if not path.parent.exists():
            path.parent.mkdir(parents=True)
            _fsync_dir(self.root)
        if not path.exists():
            path.touch()
            _fsync_dir(path.parent)
            return PartitionWriter(path, 0)
        count, good = _scan(path)
        size = path.stat().st_size
        if good < size:
            log.warning("journal.torn_tail_truncated", path=str(path), dropped_bytes=size - good)
            with path.open("r+b") as fh:
                fh.truncate(good)
                fh.flush()
                os.fsync(fh.fileno())
        return PartitionWriter(path, count)


def _as_journal(journal: Journal | Path | str) -> Journal:
    return journal if isinstance(journal, Journal) else Journal(journal)


# --- mirror: broker -> journal ---------------------------------------------------------------


class JournalMirror:
    """Copies the persisted topics from the broker into the journal, as they are written.

    Start it after :func:`restore` and before the workers; stop it (``drain=True``) after the
    workers and before the broker, so the last records reach the disk. It refuses to start when
    the broker holds fewer records than the journal (someone forgot to restore), since appending
    then would interleave two histories.
    """

    def __init__(
        self,
        journal: Journal | Path | str,
        bootstrap_servers: str,
        topics: Sequence[str] = PERSISTED_IN_EMBEDDED_MODE,
        *,
        fsync_interval_s: float = 0.2,
        max_records: int = 10_000,
        discover_interval_s: float = 5.0,
        gate: AckGate | None = None,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        self.journal = _as_journal(journal)
        self.bootstrap_servers = bootstrap_servers
        self.topics = tuple(topics)
        self._fsync_interval_s = fsync_interval_s
        self._max_records = max_records
        self._discover_interval_s = discover_interval_s
        self._gate = gate
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._consumer: AIOKafkaConsumer | None = None
        self._writers: dict[TopicPartition, PartitionWriter] = {}
        self._next: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self.error: BaseException | None = None
        """Why the mirror stopped on its own, if it did."""

    # -- public

    @property
    def positions(self) -> dict[TopicPartition, int]:
        """Records per partition that are journaled and fsynced."""
        return {tp: w.synced_count for tp, w in self._writers.items()}

    async def start(self) -> None:
        """Check the journal against the broker, seek to the journal's ends, start copying."""
        if self._task is not None:
            raise JournalError("mirror already started")
        self.journal.ensure()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="vendorwatch-journal-mirror",
            # a gated producer waits for this mirror's next fetch; Tansu answers a parked
            # fetch only after a share of this wait, however early records arrive (deviation 8)
            fetch_max_wait_ms=self._fetch_max_wait_ms,
        )
        await self._consumer.start()
        try:
            await self._discover(check=True)
        except BaseException:
            await self._close()
            raise
        if self._gate is not None:
            self._gate.reopen()
        self._task = asyncio.create_task(self._run(), name="journal-mirror")
        log.info("journal.mirror_started", root=str(self.journal.root), positions=self._summary())

    async def wait_caught_up(self, max_wait_s: float = 10.0) -> dict[TopicPartition, int]:
        """Wait until everything the broker held when called is journaled and fsynced."""
        deadline = time.monotonic() + max_wait_s
        targets = await asyncio.wait_for(
            fetch_end_offsets(self.bootstrap_servers, list(self._writers), max_wait_s=max_wait_s),
            max_wait_s,
        )
        while True:
            if self.error is not None:
                raise JournalError("journal mirror failed") from self.error
            if self._task is None or self._task.done():
                raise JournalError("journal mirror is not running")
            behind = {tp: t for tp, t in targets.items() if self._writers[tp].synced_count < t}
            if not behind:
                return targets
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"journal mirror still behind after {max_wait_s}s: {behind}")
            self._synced.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._synced.wait(), min(remaining, 0.5))

    async def stop(self, *, drain: bool = True, max_wait_s: float = 10.0) -> None:
        """Stop copying; with ``drain`` first wait until the journal has all the broker has.

        A drain that cannot finish (broker gone, too slow) is logged, not raised: this runs on
        shutdown paths. A mirror that had failed earlier raises JournalError here.
        """
        try:
            if drain and self._task is not None and not self._task.done():
                try:
                    await self.wait_caught_up(max_wait_s)
                except (KafkaError, TimeoutError, OSError) as exc:
                    log.warning("journal.drain_incomplete", error=str(exc) or type(exc).__name__)
        finally:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            await self._close()
            if self._gate is not None:
                self._gate.close(GateClosedError("the journal mirror stopped"))
        log.info("journal.mirror_stopped", positions=self._summary())
        if self.error is not None:
            raise JournalError("journal mirror failed") from self.error

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop(drain=exc_type is None)

    # -- internals

    async def _discover(self, *, check: bool = False) -> None:
        """Assign every partition of our topics; new ones start at their journal length."""
        consumer = self._consumer
        assert consumer is not None
        # consumer.topics() fetches every topic's metadata but keeps only its result; the
        # consumer's own cache only follows assigned topics, so read the fresh result directly.
        cluster = await consumer._client.fetch_all_metadata()
        found: set[TopicPartition] = set()
        for topic in self.topics:
            for partition in cluster.partitions_for_topic(topic) or ():
                found.add(TopicPartition(topic, partition))
        if check:
            self._check_journal_matches(found)
        if found <= set(self._writers):
            return
        for tp in sorted(found - set(self._writers)):
            writer = self.journal.open_writer(tp.topic, tp.partition)
            self._writers[tp] = writer
            self._next[tp] = writer.count
            if self._gate is not None:
                self._gate.advance({tp: writer.synced_count})
        tps = sorted(self._writers)
        consumer.assign(tps)
        if check:
            ends = await end_offsets_via_fetch(consumer, tps, restore_positions=False)
            behind = {tp: (self._next[tp], ends[tp]) for tp in tps if ends[tp] < self._next[tp]}
            if behind:
                detail = ", ".join(
                    f"{tp.topic}[{tp.partition}] {j}>{b}" for tp, (j, b) in behind.items()
                )
                raise JournalError(
                    f"journal holds more records than the broker ({detail}: journal>broker); "
                    "run restore() into this broker first"
                )
        for tp in tps:
            consumer.seek(tp, self._next[tp])

    def _check_journal_matches(self, found: set[TopicPartition]) -> None:
        for tp in self.journal.partitions():
            if tp.topic in self.topics and tp not in found and self.journal.count(*tp) > 0:
                raise JournalError(
                    f"journal has records for {tp.topic}[{tp.partition}] but the broker has no "
                    "such partition; create the topics and restore() first"
                )

    async def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        dirty: set[TopicPartition] = set()
        last_sync = last_discover = time.monotonic()
        try:
            while True:
                batch = await consumer.getmany(
                    timeout_ms=50 if dirty else 500, max_records=self._max_records
                )
                for tp, records in batch.items():
                    if self._append(tp, records):
                        dirty.add(tp)
                now = time.monotonic()
                due = not batch or now - last_sync >= self._fsync_interval_s
                if dirty and (due or self._gate is not None):
                    writers = [self._writers[tp] for tp in dirty]
                    if self._gate is not None and len(writers) > 1:
                        # acks wait on this: fsync the files at once, so the file system can
                        # commit them together instead of one journal commit after another
                        await asyncio.gather(*(asyncio.to_thread(w.sync) for w in writers))
                    else:
                        await asyncio.to_thread(_sync_all, writers)
                    if self._gate is not None:
                        self._gate.advance({tp: self._writers[tp].synced_count for tp in dirty})
                    dirty.clear()
                    last_sync = now
                    self._synced.set()
                if now - last_discover >= self._discover_interval_s:
                    last_discover = now
                    try:
                        await self._discover()
                    except KafkaError as exc:  # try again next round; copying goes on
                        log.warning("journal.discover_failed", error=str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. disk full: recorded, raised by stop()/wait_caught_up()
            self.error = exc
            self._synced.set()
            if self._gate is not None:  # the acks waiting will not come: fail them now
                self._gate.close(exc)
            log.exception("journal.mirror_failed")

    def _append(self, tp: TopicPartition, records: Sequence[Any]) -> bool:
        expected = self._next[tp]
        lines: list[bytes] = []
        for rec in records:
            if rec.offset < expected:
                continue
            if rec.offset > expected:  # cannot happen on Tansu; on Kafka: compaction/txn markers
                log.error(
                    "journal.offset_gap",
                    topic=tp.topic,
                    partition=tp.partition,
                    expected=expected,
                    got=rec.offset,
                )
            headers = tuple((name, value) for name, value in (rec.headers or ()))
            lines.append(encode_record(JournalRecord(rec.key, rec.value, rec.timestamp, headers)))
            expected = rec.offset + 1
        self._writers[tp].write_lines(lines)
        self._next[tp] = expected
        return bool(lines)

    async def _close(self) -> None:
        writers = list(self._writers.values())
        await asyncio.to_thread(_close_all, writers)
        self._synced.set()
        if self._consumer is not None:
            await stop_consumer(self._consumer)
            self._consumer = None

    def _summary(self) -> dict[str, int]:
        return {f"{tp.topic}[{tp.partition}]": w.synced_count for tp, w in self._writers.items()}


def _sync_all(writers: Iterable[PartitionWriter]) -> None:
    for writer in writers:
        writer.sync()


def _close_all(writers: Iterable[PartitionWriter]) -> None:
    for writer in writers:
        writer.close()


# --- restore: journal -> broker --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What :func:`restore` did, for the logs and the benchmarks."""

    records: int
    partitions: int
    seconds: float
    skipped: tuple[TopicPartition, ...] = ()

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


async def restore(
    journal: Journal | Path | str,
    bootstrap_servers: str,
    *,
    topics: Iterable[str] | None = None,
    max_batch_bytes: int = 512 * 1024,
) -> RestoreReport:
    """Re-produce the journal into a fresh broker: same partition, order, keys, timestamps, headers.

    Run it after creating the topics and before any worker or the mirror starts. Afterwards each
    partition's end offset equals its journal's record count (checked; JournalError if not).
    Idempotent: a partition that already holds the journal's records is skipped, one that holds
    a prefix (a restore cut short) gets the rest. Batches are large for speed, but each
    partition's last record goes alone so that Tansu's ListOffsets(latest) — base offset of the
    last batch + 1 (kafka_compat deviation 1) — is right for clients that still use it.
    """
    started = time.monotonic()
    jrnl = _as_journal(journal)
    wanted = set(topics) if topics is not None else None
    tps = [tp for tp in jrnl.partitions() if wanted is None or tp.topic in wanted]
    counts = {tp: jrnl.count(*tp) for tp in tps}
    tps = [tp for tp in tps if counts[tp] > 0]
    if not tps:
        return RestoreReport(0, 0, time.monotonic() - started)

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id="vendorwatch-journal-restore",
        linger_ms=0,
        max_batch_size=max_batch_bytes,
        max_request_size=max(2 * max_batch_bytes, 1024 * 1024),
        **AIOKAFKA_PRODUCER_SETTINGS,
    )
    await producer.start()
    try:
        await _check_partitions_exist(producer, tps)
        ends = await fetch_end_offsets(bootstrap_servers, tps)
        plan: dict[TopicPartition, int] = {}
        skipped: list[TopicPartition] = []
        for tp in tps:
            if ends[tp] >= counts[tp]:
                if ends[tp] > counts[tp]:
                    log.warning(
                        "journal.restore_broker_ahead",
                        topic=tp.topic,
                        partition=tp.partition,
                        broker=ends[tp],
                        journal=counts[tp],
                    )
                skipped.append(tp)
            else:
                if ends[tp] > 0:
                    log.warning(
                        "journal.restore_resuming",
                        topic=tp.topic,
                        partition=tp.partition,
                        broker=ends[tp],
                        journal=counts[tp],
                    )
                plan[tp] = ends[tp]
        sent = await asyncio.gather(
            *(_produce_partition(producer, jrnl, tp, start) for tp, start in plan.items())
        )
        await producer.flush()
    finally:
        await producer.stop()

    after = await fetch_end_offsets(bootstrap_servers, list(plan))
    wrong = {tp: (after[tp], counts[tp]) for tp in plan if after[tp] != counts[tp]}
    if wrong:
        raise JournalError(f"after restore, broker end offsets != journal counts: {wrong}")
    report = RestoreReport(sum(sent), len(plan), time.monotonic() - started, tuple(skipped))
    log.info(
        "journal.restored",
        records=report.records,
        partitions=report.partitions,
        seconds=round(report.seconds, 3),
        skipped=len(skipped),
        records_per_second=round(report.records_per_second),
    )
    return report


async def _check_partitions_exist(
    producer: AIOKafkaProducer, tps: Sequence[TopicPartition]
) -> None:
    """Fail clearly instead of letting a produce wait on a partition that does not exist."""
    cluster = await producer.client.fetch_all_metadata()
    missing: list[str] = []
    for tp in tps:
        partitions = cluster.partitions_for_topic(tp.topic)
        if not partitions or tp.partition not in partitions:
            missing.append(f"{tp.topic}[{tp.partition}]")
    if missing:
        raise JournalError(
            f"broker lacks partitions the journal has: {', '.join(missing)}; create the topics "
            "with at least as many partitions first"
        )


async def _produce_partition(
    producer: AIOKafkaProducer, journal: Journal, tp: TopicPartition, start: int
) -> int:
    """Send one partition's records from ``start`` in order; the last record in its own batch."""
    pending: list[asyncio.Future[Any]] = []
    batch = producer.create_batch()
    sent = 0
    previous: JournalRecord | None = None

    async def submit() -> None:
        nonlocal batch
        if batch.record_count():
            pending.append(await producer.send_batch(batch, tp.topic, partition=tp.partition))
            batch = producer.create_batch()
        if len(pending) >= 8:  # bound memory; the producer keeps one batch in flight anyway
            await pending.pop(0)

    for record in journal.read(tp.topic, tp.partition, start):
        if previous is not None:
            while _append(batch, previous) is None:
                if not batch.record_count():
                    raise JournalError(f"record larger than max_batch_bytes in {tp}")
                await submit()
            sent += 1
        previous = record
    if previous is not None:
        await submit()
        if _append(batch, previous) is None:
            raise JournalError(f"record larger than max_batch_bytes in {tp}")
        sent += 1
        await submit()
    for fut in pending:
        await fut
    return sent


def _append(batch: Any, record: JournalRecord) -> Any:
    return batch.append(
        key=record.key,
        value=record.value,
        timestamp=record.timestamp_ms,
        headers=list(record.headers),
    )


__all__ = [
    "JOURNAL_FORMAT",
    "Journal",
    "JournalCorruptError",
    "JournalError",
    "JournalMirror",
    "JournalRecord",
    "PartitionWriter",
    "RestoreReport",
    "decode_record",
    "encode_record",
    "restore",
]

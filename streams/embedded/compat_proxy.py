"""The loopback Kafka-protocol proxy in front of the embedded broker: durable acks, and kcat.

Every client outside the process that owns the embedded broker (`vendorwatch ingest`, `silence`,
`replay`, kcat, other workers of `vendorwatch broker`) connects here: it is the address in
`DATA_DIR/embedded.json`. It has two jobs.

Durable acknowledgements. Tansu acknowledges a produce once the records are in its memory, which
a `kill -9` loses. With an :class:`~vendorwatch.streams.embedded.ack_gate.AckGate`, the proxy
holds each Produce response to a journaled topic until the journal mirror has fsynced the
records it acknowledges (their base offset from the response plus their count from the
request), so a client that got its ack has its records on disk. Later responses on the same
connection wait behind it, which keeps Kafka's in-order responses. A Produce version this proxy
cannot read (older than v3: no client that speaks record batches sends one) is forwarded
unheld, with a warning.

kcat. Tansu 0.6 writes every tagged field of an ApiVersions v3 response, defaults
included (SupportedFeatures=[], FinalizedFeaturesEpoch=-1, FinalizedFeatures=[],
ZkMigrationReady=false), where Apache Kafka omits tagged fields that hold their default.
librdkafka 2.0.2 (the one Debian bookworm ships with kcat 1.7.1) skips a tagged field as
``taglen - 1`` bytes instead of ``taglen`` — an off-by-one fixed in later releases that never
shows against Kafka, because Kafka sends no tags there. Against Tansu the off-by-one makes
librdkafka read a length out of the -1 epoch, fail with "Read underflow" and drop the
connection: kcat cannot produce a single message. No client setting avoids it (librdkafka 2.0
sends ApiVersions v3 even with ``api.version.request=false``).

For kcat it forwards every request unchanged and rewrites two kinds of response —
* ApiVersions v3+: the trailing tagged fields are dropped (the same answer Kafka gives);
* Metadata and FindCoordinator: the upstream broker's port is replaced by the proxy's, so the
  client keeps talking through the proxy after it learns the cluster layout.
Frames are parsed only as far as needed; anything unexpected is forwarded untouched.

The worker that owns the broker talks to Tansu directly (a proxy thread in its own process
would compete with it for the GIL); its `POST /events` waits on the same gate instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from types import TracebackType
from typing import Self

import structlog

from vendorwatch.streams.embedded import produce_frames
from vendorwatch.streams.embedded.ack_gate import AckGate

log = structlog.get_logger(__name__)

API_VERSIONS = 18
METADATA = 3
FIND_COORDINATOR = 10

# First flexible (KIP-482) version of each response we parse.
_FLEXIBLE_FROM = {METADATA: 9, FIND_COORDINATOR: 3, API_VERSIONS: 3}
_MAX_FRAME = 100 * 1024 * 1024

_Pending = tuple[int, int, dict[tuple[str, int], int] | None]
"""What a response answers: api key, version and, for a held Produce, records per partition."""


class _Reader:
    """Cursor over a response body for the few Kafka primitive types we need."""

    def __init__(self, data: bytes | bytearray, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def int16(self) -> int:
        (value,) = struct.unpack_from(">h", self.data, self.pos)
        self.pos += 2
        return int(value)

    def int32(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return int(value)

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("truncated frame")
        self.pos += n

    def string(self, flexible: bool) -> None:
        """Skip a (nullable) STRING or COMPACT_STRING."""
        length = self.uvarint() - 1 if flexible else self.int16()
        if length > 0:
            self.skip(length)

    def array_len(self, flexible: bool) -> int:
        return self.uvarint() - 1 if flexible else self.int32()

    def tags(self, flexible: bool) -> None:
        if not flexible:
            return
        for _ in range(self.uvarint()):
            self.uvarint()  # tag id
            self.skip(self.uvarint())


def strip_api_versions_tags(body: bytes) -> bytes:
    """ApiVersions v3+ response body (after the correlation id) without its trailing tags."""
    reader = _Reader(body)
    reader.int16()  # error code
    for _ in range(max(reader.array_len(flexible=True), 0)):
        reader.skip(6)  # api key, min version, max version
        reader.tags(flexible=True)
    reader.int32()  # throttle time
    if reader.pos >= len(body) or body[reader.pos :] == b"\x00":
        return body
    return body[: reader.pos] + b"\x00"


def _patch_port(body: bytearray, reader: _Reader, old: int, new: int) -> None:
    port_at = reader.pos
    if reader.int32() == old:
        struct.pack_into(">i", body, port_at, new)


def patch_metadata_ports(body: bytearray, version: int, old: int, new: int) -> None:
    """Replace broker port ``old`` by ``new`` in a Metadata response body, in place."""
    flexible = version >= _FLEXIBLE_FROM[METADATA]
    reader = _Reader(body)
    reader.tags(flexible)  # response header v1
    if version >= 3:
        reader.int32()  # throttle time
    for _ in range(max(reader.array_len(flexible), 0)):
        reader.int32()  # node id
        reader.string(flexible)  # host
        _patch_port(body, reader, old, new)
        if version >= 1:
            reader.string(flexible)  # rack
        reader.tags(flexible)


def patch_find_coordinator_ports(body: bytearray, version: int, old: int, new: int) -> None:
    """Replace coordinator port ``old`` by ``new`` in a FindCoordinator response body."""
    flexible = version >= _FLEXIBLE_FROM[FIND_COORDINATOR]
    reader = _Reader(body)
    reader.tags(flexible)
    if version >= 1:
        reader.int32()  # throttle time
    if version >= 4:
        for _ in range(max(reader.array_len(flexible), 0)):
            reader.string(flexible)  # key
            reader.int32()  # node id
            reader.string(flexible)  # host
            _patch_port(body, reader, old, new)
            reader.int16()  # error code
            reader.string(flexible)  # error message
            reader.tags(flexible)
        return
    reader.int16()  # error code
    if version >= 1:
        reader.string(flexible)  # error message
    reader.int32()  # node id
    reader.string(flexible)  # host
    _patch_port(body, reader, old, new)


class CompatProxy:
    """The proxy on ``host:port`` (0: a free port) in front of ``upstream_host:upstream_port``.

    Runs its own event loop in a daemon thread, so sync code (the CLI, tests) and async code
    alike can start it; ``with CompatProxy(...) as proxy: proxy.bootstrap_servers``.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        gate: AckGate | None = None,
    ) -> None:
        self.gate = gate
        """Produce responses to its topics wait until the journal has their records."""
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = host
        self._requested_port = port
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> Self:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._serve, self.host, self._requested_port)
                )
                self.port = int(self._server.sockets[0].getsockname()[1])
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="kafka-compat-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        log.info(
            "compat_proxy.started",
            listen=self.bootstrap_servers,
            upstream=f"{self.upstream_host}:{self.upstream_port}",
        )
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- per connection

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream_w: asyncio.StreamWriter | None = None
        pumps: list[asyncio.Task[None]] = []
        try:
            upstream_r, upstream_w = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
            pending: dict[int, _Pending] = {}
            pumps = [
                asyncio.create_task(self._requests(client_r, upstream_w, pending)),
                asyncio.create_task(self._responses(upstream_r, client_w, pending)),
            ]
            # either side closing (or sending garbage) ends the connection
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass  # upstream unreachable, or the proxy is stopping
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._connections.discard(task)
            for writer in (client_w, upstream_w):
                if writer is not None:
                    writer.close()

    @staticmethod
    async def _frame(reader: asyncio.StreamReader) -> bytes:
        size = struct.unpack(">i", await reader.readexactly(4))[0]
        if not 0 <= size <= _MAX_FRAME:
            raise ValueError(f"bad frame size {size}")
        return await reader.readexactly(size)

    async def _requests(
        self,
        client: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        pending: dict[int, _Pending],
    ) -> None:
        while True:
            frame = await self._frame(client)
            if len(frame) >= 8:
                api_key, version, correlation = struct.unpack_from(">hhi", frame)
                counts = None
                if api_key == produce_frames.PRODUCE and self.gate is not None:
                    request = self._produce_request(frame, version)
                    if request is not None:
                        if request.acks == 0:  # no response will come: nothing to hold
                            upstream.write(struct.pack(">i", len(frame)) + frame)
                            await upstream.drain()
                            continue
                        counts = request.counts
                pending[correlation] = (api_key, version, counts)
            upstream.write(struct.pack(">i", len(frame)) + frame)
            await upstream.drain()

    async def _responses(
        self,
        upstream: asyncio.StreamReader,
        client: asyncio.StreamWriter,
        pending: dict[int, _Pending],
    ) -> None:
        while True:
            frame = await self._frame(upstream)
            if len(frame) >= 4:
                (correlation,) = struct.unpack_from(">i", frame)
                request = pending.pop(correlation, None)
                if request is not None:
                    api_key, version, counts = request
                    if counts:
                        await self._hold_until_journaled(frame[4:], version, counts)
                    frame = self._rewrite(frame, api_key, version)
            client.write(struct.pack(">i", len(frame)) + frame)
            await client.drain()

    @staticmethod
    def _produce_request(frame: bytes, version: int) -> produce_frames.ProduceRequest | None:
        try:
            return produce_frames.parse_request(frame)
        except (produce_frames.FrameError, struct.error, UnicodeError) as exc:
            log.warning("compat_proxy.produce_not_held", version=version, error=str(exc))
            return None

    async def _hold_until_journaled(
        self, body: bytes, version: int, counts: dict[tuple[str, int], int]
    ) -> None:
        """Wait until the journal covers every record this Produce response acknowledges.
        A GateClosedError (the journal stopped) ends the connection without the ack."""
        gate = self.gate
        assert gate is not None
        try:
            acks = produce_frames.parse_response(body, version)
        except (produce_frames.FrameError, struct.error) as exc:
            log.warning("compat_proxy.produce_not_held", version=version, error=str(exc))
            return
        for ack in acks:
            count = counts.get((ack.topic, ack.partition), 0)
            if ack.error_code == 0 and count > 0:
                await gate.wait(ack.topic, ack.partition, ack.base_offset + count)

    def _rewrite(self, frame: bytes, api_key: int, version: int) -> bytes:
        header, body = frame[:4], frame[4:]
        try:
            if api_key == API_VERSIONS and version >= _FLEXIBLE_FROM[API_VERSIONS]:
                return header + strip_api_versions_tags(body)
            if api_key == METADATA:
                patched = bytearray(body)
                patch_metadata_ports(patched, version, self.upstream_port, self.port)
                return header + bytes(patched)
            if api_key == FIND_COORDINATOR:
                patched = bytearray(body)
                patch_find_coordinator_ports(patched, version, self.upstream_port, self.port)
                return header + bytes(patched)
        except (ValueError, IndexError, struct.error) as exc:
            log.warning("compat_proxy.unparsed_response", api_key=api_key, error=str(exc))
        return frame

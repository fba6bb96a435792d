"""Slack delivery against a real local HTTP server that behaves like an incoming webhook.

The server is an aiohttp app on 127.0.0.1 running in its own thread and event loop (so it is a
separate peer, as Slack would be), scriptable per request: 200 "ok", 429 with Retry-After, runs
of 500s, `invalid_payload`, slow answers, and an outage in which nothing listens on the port.

The long outage runs on a `FastClock`: the Deliverer's injected clock and sleep (and the
receiver's timestamps) on a clock ten times faster than the real one, so a 60 s outage takes 6 s
while the retries, the rate limit and the real HTTP traffic interleave as they would in real time.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
import structlog
from aiohttp import web
from prometheus_client import REGISTRY, generate_latest

from vendorwatch.alerts.delivery import Deliverer, DeliveryReport, RetryPolicy
from vendorwatch.alerts.ledger import FileDeliveryLedger, InMemoryDeliveryLedger
from vendorwatch.alerts.notification import AlertItem, ContributionView, Notification
from vendorwatch.alerts.sinks.slack import SlackSink, render_blocks

pytestmark = pytest.mark.integration

T = TypeVar("T")
TOKEN = "xoxTestHookToken8c1d2e3f4a5b"
HOOK_PATH = f"/services/T0VENDORW/B0ALERTS/{TOKEN}"
FAST = RetryPolicy(base_delay_s=0.05, max_delay_s=0.2, max_attempts=8, max_elapsed_s=20)


class FastClock:
    """Monotonic time running ``speed`` times faster than the real clock, with its ``sleep``.

    It is the real clock sped up, not a simulated one: concurrent sleepers wake in the order
    they would in real time, and real I/O (a refused connection, an HTTP round trip) takes its
    real time, which this clock reads ``speed`` times longer, so timing bounds only get harder.
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin = time.monotonic()

    def __call__(self) -> float:
        return (time.monotonic() - self._origin) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.speed)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    at: float  # FakeSlack.clock() (time.monotonic() unless a test sets it) when the server got it
    payload: dict[str, Any]
    status: int  # what the server answered


class FakeSlack:
    """A Slack incoming webhook on a free loopback port, scriptable and able to go down."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        self.port = 0
        self.clock: Callable[[], float] = time.monotonic
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def delivered(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.status == 200]

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=15)

    async def _handle(self, request: web.Request) -> web.Response:
        payload = orjson.loads(await request.read())
        with self._lock:
            reply = self.replies.popleft() if self.replies else Reply()
            self.received.append(Received(self.clock(), payload, reply.status))
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        return web.Response(status=reply.status, text=reply.body, headers=reply.headers)

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_post(HOOK_PATH, self._handle)
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.port = runner.addresses[0][1]
        self._runner = runner

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()  # stops listening and drops keep-alive connections
            self._runner = None

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def outage(self) -> None:
        """Stop listening: connections to the port are refused until `recover`."""
        self._call(self._close())

    def recover(self) -> None:
        self._call(self._listen())

    def stop(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    server = FakeSlack()
    server.start()
    yield server
    server.stop()


def notification(key: str, vendor: str = "Scale AI") -> Notification:
    t0 = datetime(2025, 6, 12, 9, 0, tzinfo=UTC)
    vendor_id = "vendor-" + vendor.lower().replace(" ", "-")
    return Notification(
        idempotency_key=key,
        group_key=vendor_id,
        vendor_id=vendor_id,
        vendor_name=vendor,
        status="firing",
        severity="critical",
        alerts=(
            AlertItem(
                fingerprint=hashlib.sha256(f"{vendor_id}|competitor_stake".encode()).hexdigest(),
                rule="competitor_stake",
                severity="critical",
                status="firing",
                summary=f"Meta took a 49% stake in {vendor} ($14.3B).",
                starts_at=t0,
                ends_at=None,
                event_ids=("evt-2025-06-12-meta-stake",),
            ),
        ),
        score=72.4,
        previous_score=31.4,
        score_severity="critical",
        previous_score_severity="high",
        contributions=(
            ContributionView(
                signal="competitor_ownership",
                points=38.0,
                event_ids=("evt-2025-06-12-meta-stake",),
                detail="Meta holds 49%",
            ),
        ),
        policy_version="policy-3f9c2a1e",
        as_of=t0,
    )


def deliver_all(
    url: str,
    notifications: list[Notification],
    *,
    policy: RetryPolicy = FAST,
    min_interval_s: float = 1.0,
    ledger: Any = None,
    timeout_s: float = 2.0,
    clock: FastClock | None = None,
) -> list[DeliveryReport]:
    """Deliver concurrently through one SlackSink/Deliverer with a real client, in real time or
    on ``clock`` (the Deliverer's backoff, rate limit and elapsed time)."""
    timing: dict[str, Any] = {} if clock is None else {"clock": clock, "sleep": clock.sleep}

    async def scenario() -> list[DeliveryReport]:
        async with httpx.AsyncClient() as client:
            sink = SlackSink(url, client, timeout_s=timeout_s, min_interval_s=min_interval_s)
            deliverer = Deliverer(
                sink,
                ledger=ledger if ledger is not None else InMemoryDeliveryLedger(),
                policy=policy,
                **timing,
            )
            return list(await asyncio.gather(*(deliverer.deliver(n) for n in notifications)))

    return asyncio.run(scenario())


def test_delivers_the_rendered_block_kit_payload(slack: FakeSlack) -> None:
    n = notification("ntf-ok")
    (report,) = deliver_all(slack.url, [n])
    assert report.outcome == "delivered"
    assert report.attempts == 1
    (got,) = slack.received
    assert got.payload == orjson.loads(orjson.dumps(render_blocks(n)))


def test_429_waits_at_least_retry_after(slack: FakeSlack) -> None:
    slack.script(Reply(429, "rate_limited", {"Retry-After": "1"}))
    # the per-webhook limiter is off here, so only Retry-After can explain the gap
    (report,) = deliver_all(slack.url, [notification("ntf-429")], min_interval_s=0)
    assert report.outcome == "delivered"
    assert report.attempts == 2
    first, second = slack.received
    assert first.status == 429
    assert second.at - first.at >= 1.0


def test_a_run_of_500s_is_retried_until_delivered(slack: FakeSlack) -> None:
    slack.script(*[Reply(500, "internal_error")] * 3)
    (report,) = deliver_all(slack.url, [notification("ntf-500")], min_interval_s=0)
    assert report.outcome == "delivered"
    assert report.attempts == 4
    assert [r.status for r in slack.received] == [500, 500, 500, 200]


def test_invalid_payload_is_permanent_and_goes_to_the_dlq(slack: FakeSlack) -> None:
    slack.script(Reply(400, "invalid_payload"))
    n = notification("ntf-bad")
    (report,) = deliver_all(slack.url, [n])
    assert report.outcome == "failed"
    assert report.attempts == 1
    assert len(slack.received) == 1
    assert report.dlq is not None
    record = orjson.loads(report.dlq)
    assert record["reason"] == "slack HTTP 400: invalid_payload"
    assert record["sink"] == "slack"
    assert record["attempts"] == 1
    assert Notification.model_validate(record["notification"]) == n
    assert TOKEN not in report.dlq.decode()
    assert str(slack.port) not in report.dlq.decode()


def test_two_messages_to_one_webhook_are_a_second_apart(slack: FakeSlack) -> None:
    reports = deliver_all(slack.url, [notification("ntf-a", "Scale AI"), notification("ntf-b")])
    assert [r.outcome for r in reports] == ["delivered", "delivered"]
    first, second = slack.received
    assert second.at - first.at >= 1.0


def test_the_same_key_reaches_slack_once_even_across_a_restart(
    slack: FakeSlack, tmp_path: Path
) -> None:
    n = notification("ntf-once")
    ledger = FileDeliveryLedger(tmp_path)
    assert [r.outcome for r in deliver_all(slack.url, [n, n], ledger=ledger)] == [
        "delivered",
        "duplicate",
    ]
    assert deliver_all(slack.url, [n], ledger=ledger)[0].outcome == "duplicate"
    ledger.close()
    restarted = FileDeliveryLedger(tmp_path)  # a new worker process reading the same data dir
    assert deliver_all(slack.url, [n], ledger=restarted)[0].outcome == "duplicate"
    assert len(slack.received) == 1


def test_secrets_stay_out_of_logs_errors_and_metrics(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs every request URL at INFO
    tight = RetryPolicy(base_delay_s=0.01, max_delay_s=0.02, max_attempts=2, max_elapsed_s=5)
    failures = {
        "invalid_payload": [Reply(400, "invalid_payload")],
        "HTTP 500": [Reply(500, "internal_error")] * 2,
        "timeout": [Reply(200, "ok", delay_s=0.6)] * 2,  # slower than the client's timeout
        "connection error": None,  # nothing listening
    }
    reports: list[DeliveryReport] = []
    with structlog.testing.capture_logs() as events:
        for i, (expected, replies) in enumerate(failures.items()):
            if replies is None:
                slack.outage()
            else:
                slack.script(*replies)
            (report,) = deliver_all(
                slack.url,
                [notification(f"ntf-s{i}")],
                policy=tight,
                timeout_s=0.3,
                min_interval_s=0,  # the rate limit is not what this test is about
            )
            assert report.outcome == "failed"
            assert expected in report.reason
            reports.append(report)
        slack.recover()

    assert any(e["event"] == "delivery.retry" for e in events)
    assert any(e["event"] == "delivery.failed" for e in events)
    reasons = " ".join(r.reason for r in reports)
    exposed = [
        caplog.text,
        repr(events),
        reasons,
        *(r.dlq.decode() for r in reports if r.dlq),
        repr(reports),
        generate_latest(REGISTRY).decode(),
    ]
    assert any("HTTP Request: POST" in t for t in exposed)  # httpx did log, scrubbed
    for text in exposed:
        assert TOKEN not in text
        assert HOOK_PATH not in text


@pytest.mark.timeout(60)
def test_a_sixty_second_outage_delivers_everything_once_afterwards(slack: FakeSlack) -> None:
    """Nothing listens for 60 s (on a clock 10x faster than real time): each of five
    notifications keeps retrying through it, then all are delivered exactly once, a second
    apart, soon after the receiver is back."""
    clock = FastClock(speed=10)
    slack.clock = clock
    vendors = ["Scale AI", "Handshake", "Appen", "Prolific", "Turing"]
    notifications = [notification(f"ntf-outage-{i}", v) for i, v in enumerate(vendors)]
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0, max_attempts=200, max_elapsed_s=150)
    slack.outage()
    started = clock()
    recovered_at: list[float] = []

    def end_outage() -> None:
        recovered_at.append(clock())
        slack.recover()

    timer = threading.Timer(60.0 / clock.speed, end_outage)
    timer.start()
    try:
        reports = deliver_all(slack.url, notifications, policy=policy, clock=clock)
    finally:
        timer.cancel()
    finished = clock()

    assert recovered_at, "the outage never ended"
    assert recovered_at[0] - started >= 60.0
    assert [r.outcome for r in reports] == ["delivered"] * len(vendors)
    assert all(r.attempts > 5 for r in reports)  # each kept retrying through the outage
    got = slack.received
    assert sorted(r.payload["blocks"][0]["text"]["text"].split(" · ")[1] for r in got) == sorted(
        vendors
    )  # exactly once each
    assert all(r.status == 200 and r.at >= recovered_at[0] for r in got)
    assert all(b.at - a.at >= 1.0 for a, b in itertools.pairwise(got))
    assert finished - started < 75, f"took {finished - started:.1f} s"

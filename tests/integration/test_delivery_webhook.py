"""Signed webhook delivery to real receivers: one verifies with the `standardwebhooks` library
(Standard Webhooks headers), one with the deprecated `verify_signature`."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

from vendorwatch.alerts.delivery import Deliverer, DeliveryReport, RetryPolicy
from vendorwatch.alerts.notification import AlertItem, Notification
from vendorwatch.alerts.sinks.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_ID_HEADER,
    SignatureError,
    WebhookSink,
    sign,
    standard_secret,
    verify_signature,
)

pytestmark = pytest.mark.integration

T = TypeVar("T")
SECRET = "whsec-integration-5e2b7c1d9a"


@dataclass(frozen=True)
class Seen:
    accepted: bool
    detail: str
    body: bytes
    headers: dict[str, str]


class Receiver:
    """A webhook receiver as the README tells users to write one: verify, then parse."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.seen: list[Seen] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/vendorwatch"

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            verify_signature(
                self.secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                raw,
                now=time.time(),
            )
        except SignatureError as exc:
            self.seen.append(Seen(False, str(exc), raw, dict(request.headers)))
            return web.Response(status=401, text=str(exc))
        Notification.from_json_bytes(raw)  # only parsed once genuine
        self.seen.append(Seen(True, "", raw, dict(request.headers)))
        return web.Response(status=204)

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/vendorwatch", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=15)

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def stop(self) -> None:
        if self._runner is not None:
            self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


class StandardReceiver(Receiver):
    """A receiver written from the Standard Webhooks documentation: the library verifies the
    raw body and headers, and `webhook-id` deduplicates."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self.ids: set[str] = set()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            Webhook(standard_secret(self.secret)).verify(raw, dict(request.headers))
        except WebhookVerificationError as exc:
            self.seen.append(Seen(False, str(exc), raw, dict(request.headers)))
            return web.Response(status=401, text=str(exc))
        msg_id = request.headers[WEBHOOK_ID_HEADER]
        duplicate = msg_id in self.ids
        self.ids.add(msg_id)
        self.seen.append(Seen(True, "duplicate" if duplicate else "", raw, dict(request.headers)))
        return web.Response(status=204)


@pytest.fixture
def standard_receiver() -> Iterator[StandardReceiver]:
    r = StandardReceiver(SECRET)
    r.start()
    yield r
    r.stop()


def test_a_standard_webhooks_receiver_verifies_the_delivery(
    standard_receiver: StandardReceiver,
) -> None:
    n = notification("ntf-std-1")
    report = deliver(standard_receiver.url, SECRET, n)
    assert report.outcome == "delivered"
    (seen,) = standard_receiver.seen
    assert seen.accepted, seen.detail
    assert seen.headers[WEBHOOK_ID_HEADER] == "ntf-std-1"
    assert Notification.from_json_bytes(seen.body) == n


def test_a_standard_webhooks_receiver_refuses_another_secret(
    standard_receiver: StandardReceiver,
) -> None:
    report = deliver(standard_receiver.url, "not-the-shared-secret", notification("ntf-std-2"))
    assert report.outcome == "failed"
    assert report.attempts == 1
    assert standard_receiver.seen[0].detail == "No matching signature found"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SECRET)
    r.start()
    yield r
    r.stop()


def notification(key: str) -> Notification:
    t0 = datetime(2025, 6, 16, 10, 30, tzinfo=UTC)
    return Notification(
        idempotency_key=key,
        group_key="vendor-scale-ai",
        vendor_id="vendor-scale-ai",
        vendor_name="Scale AI",
        status="firing",
        severity="high",
        alerts=(
            AlertItem(
                fingerprint=hashlib.sha256(b"vendor-scale-ai|peer_pauses").hexdigest(),
                rule="peer_pauses",
                severity="high",
                status="firing",
                summary="3 peer clients paused Scale AI within 4 days: Google, OpenAI, xAI.",
                starts_at=t0,
                ends_at=None,
                event_ids=("evt-2025-06-16-xai-pauses-scale",),
            ),
        ),
        score=78.6,
        previous_score=64.6,
        score_severity="critical",
        previous_score_severity="high",
        contributions=(),
        policy_version="policy-3f9c2a1e",
        as_of=t0,
    )


def deliver(url: str, secret: str, n: Notification, **sink_kwargs: Any) -> DeliveryReport:
    async def scenario() -> DeliveryReport:
        async with httpx.AsyncClient() as client:
            sink = WebhookSink(url, secret, client, **sink_kwargs)
            policy = RetryPolicy(base_delay_s=0.05, max_delay_s=0.1, max_attempts=3)
            return await Deliverer(sink, policy=policy).deliver(n)

    return asyncio.run(scenario())


def test_receiver_accepts_a_signed_notification(receiver: Receiver) -> None:
    n = notification("ntf-hook-1")
    report = deliver(receiver.url, SECRET, n)
    assert report.outcome == "delivered"
    (seen,) = receiver.seen
    assert seen.accepted
    assert Notification.from_json_bytes(seen.body) == n
    assert seen.headers[IDEMPOTENCY_HEADER] == "ntf-hook-1"
    assert seen.headers["Content-Type"] == "application/json"
    assert abs(int(seen.headers[TIMESTAMP_HEADER]) - time.time()) < 5


def test_wrong_secret_is_rejected_and_that_is_permanent(receiver: Receiver) -> None:
    report = deliver(receiver.url, "not-the-shared-secret", notification("ntf-hook-2"))
    assert report.outcome == "failed"
    assert report.attempts == 1  # 401 cannot get better by retrying
    assert "HTTP 401" in report.reason
    assert report.dlq is not None
    assert b"not-the-shared-secret" not in report.dlq
    assert receiver.seen[0].detail.startswith("signature mismatch")


def test_stale_timestamp_is_rejected(receiver: Receiver) -> None:
    # a sender whose clock is 10 minutes behind looks exactly like a replayed request
    report = deliver(
        receiver.url, SECRET, notification("ntf-hook-3"), wall_clock=lambda: time.time() - 600
    )
    assert report.outcome == "failed"
    assert "old, tolerance is 300 s" in receiver.seen[0].detail


def test_tampered_body_is_rejected(receiver: Receiver) -> None:
    body = notification("ntf-hook-4").to_json_bytes()
    ts = int(time.time())
    headers = {
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(SECRET, ts, body),
        "Content-Type": "application/json",
    }
    tampered = body.replace(b'"score":78.6', b'"score":7.86')
    assert tampered != body
    response = httpx.post(receiver.url, content=tampered, headers=headers)
    assert response.status_code == 401
    assert "signature mismatch" in response.text
    replay = httpx.post(receiver.url, content=body, headers=headers)  # the genuine one is fine
    assert replay.status_code == 204

"""The worker's HTTP API on Faust's web server: read scores, accept events, health, metrics.

Its contract is `openapi.py` (served at `GET /openapi.json`): a view added or changed here is
described there, and the schemathesis test holds the two together.

POST /events requires `Authorization: Bearer <VENDORWATCH_INGEST_TOKEN>` (compared in constant
time); without a configured token the endpoint refuses everything, so a worker is never an open
relay into the event history by accident.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import orjson
import structlog
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vendorwatch.schemas.codec import (
    InvalidEvent,
    check_event_time,
    encode_event,
    validate_event,
)
from vendorwatch.streams.kafka_io.deadletter import claimed_in
from vendorwatch.streams.kafka_io.durability import wait_durable
from vendorwatch.streams.version import package_version
from vendorwatch.streams.worker.openapi import MAX_EVENTS_PER_REQUEST, openapi_document
from vendorwatch.streams.worker.pipeline import Pipeline

log = structlog.get_logger(__name__)


def _refusal(request: Request, token: str | None) -> str | None:
    """Why the request may not post events (None: it may). The reason is logged, never the
    credential the client presented: a near miss of the real token is a secret too."""
    if not token:
        return "ingest_disabled"
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return "no_bearer_token"
    try:
        presented = given.strip().encode()
    except UnicodeEncodeError:  # bytes that are no text (aiohttp keeps them as surrogates)
        return "wrong_token"
    if not hmac.compare_digest(presented, token.encode()):
        return "wrong_token"
    return None


def register_views(pipeline: Pipeline) -> None:
    """Attach the API's views to the pipeline's Faust app."""
    app = pipeline.app
    view = pipeline.view
    settings = pipeline.settings
    token = settings.ingest_token.get_secret_value() if settings.ingest_token else None
    document = openapi_document(package_version())

    @app.page("/openapi.json")
    class OpenAPI(View):  # type: ignore[misc]
        async def get(self, request: Request) -> Response:
            return self.json(document)

    @app.page("/vendors")
    class Vendors(View):  # type: ignore[misc]
        async def get(self, request: Request) -> Response:
            items = [
                {
                    "vendor_id": s["vendor_id"],
                    "name": s["name"],
                    "score": s["score"],
                    "severity": s["severity"],
                    "policy_version": s["policy_version"],
                    "updated_at": s["updated_at"],
                }
                for s in view.sorted_scores()
            ]
            return self.json(items)

    @app.page("/vendors/{vendor_id}")
    class VendorDetail(View):  # type: ignore[misc]
        async def get(self, request: Request, vendor_id: str) -> Response:
            found = view.vendor(vendor_id)
            if found is None or found.score is None:
                return self.error(404, f"unknown vendor {vendor_id!r}")
            return self.json(
                {
                    **found.score,
                    "alerts": sorted(found.alerts.values(), key=lambda a: a["starts_at"]),
                    "recent_events": list(found.recent),
                }
            )

    @app.page("/events")
    class Events(View):  # type: ignore[misc]
        async def post(self, request: Request) -> Response:
            refused = _refusal(request, token)
            if refused is not None:
                log.warning("ingest_unauthorized", reason=refused, peer=request.remote)
                return self.json(
                    {"error": "missing or wrong bearer token"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="vendorwatch"'},
                )
            length = request.content_length
            too_large = f"body larger than {settings.max_request_bytes} bytes"
            if length is not None and length > settings.max_request_bytes:
                log.warning("ingest_refused", reason="too_large", bytes=length)
                return self.error(413, too_large)
            try:
                body = await request.read()
            except Exception:  # aiohttp raises HTTPRequestEntityTooLarge past client_max_size
                log.warning("ingest_refused", reason="too_large", bytes=length)
                return self.error(413, too_large)
            try:
                payload: Any = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                # the body was meant as events but names none: one rejection, like the raw topic
                log.warning("event_rejected", reason="invalid_json", error=str(exc), origin="http")
                return self.error(400, f"invalid JSON: {exc}")
            items = payload if isinstance(payload, list) else [payload]
            if not items or len(items) > MAX_EVENTS_PER_REQUEST:
                log.warning("ingest_refused", reason="batch_size", count=len(items))
                return self.error(400, f"send 1 to {MAX_EVENTS_PER_REQUEST} events per request")
            events, errors = [], []
            # one instant for the whole request, from the clock the score step judges by
            now = pipeline.clock()
            for index, item in enumerate(items):
                try:
                    valid = validate_event(item)
                    check_event_time(valid, now, settings.max_future_skew)
                    events.append(valid)
                except InvalidEvent as exc:
                    errors.append({"index": index, "reason": exc.reason, "error": str(exc)})
                    log.warning(
                        "event_rejected",
                        reason=exc.reason,
                        error=str(exc),
                        origin="http",
                        index=index,
                        **claimed_in(item),
                    )
            if errors:
                return self.json(
                    {"error": "invalid events; none accepted", "errors": errors}, status=400
                )
            sent = [
                # into the raw topic keyed by vendor, like any producer: the worker that owns
                # the vendor's partition writes the history and scores it (streams/worker/app.py)
                await pipeline.raw_topic.send(key=event.subject.encode(), value=encode_event(event))
                for event in events
            ]
            for delivery in sent:  # 202 only for what the broker holds, durably (journaled)
                meta = await delivery
                await wait_durable(meta.topic, meta.partition, meta.offset)
            return self.json({"accepted": [e.id for e in events]}, status=202)

    @app.page("/healthz")
    class Health(View):  # type: ignore[misc]
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok", "version": package_version()})

    @app.page("/readyz")
    class Ready(View):  # type: ignore[misc]
        async def get(self, request: Request) -> Response:
            if view.caught_up.is_set():
                return self.json({"status": "ready", "vendors": len(view.vendors)})
            return self.json({"status": "recovering"}, status=503)

    @app.page("/metrics")
    class Metrics(View):  # type: ignore[misc]
        async def get(self, request: Request) -> Response:
            # Rendering costs ~15 µs per series (three per vendor): 10,000 vendors would hold
            # the event loop, and every agent on it, for ~0.5 s per scrape. In a thread the
            # loop keeps running between the interpreter's switch intervals; prometheus_client
            # copies each metric's children under its lock, so concurrent updates are safe.
            body = await asyncio.to_thread(generate_latest)
            return self.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

"""Bad input at volume: 10,000 generated bad messages interleaved with 1,000 valid events into the
raw topic of a real worker, then the same again through `POST /events`.

What must hold: the worker never crashes (same process, healthy, no traceback in its log); every
bad raw message is in the DLQ exactly once, at its own offset, with the reason the decoder gives
and its original bytes (and binary-mode headers); every bad request gets a documented 4xx with
that reason; every valid event is in the history exactly once and the scores equal the offline
fold of the valid events. The figures printed at the end are the README's.
"""

from __future__ import annotations

import base64
import random
import time
from collections import Counter
from typing import Any

import httpx
import orjson
from kafka import KafkaProducer

from vendorwatch.schemas.codec import InvalidEvent, check_event_time, validate_event
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.settings import DEFAULT_MAX_FUTURE_SKEW
from vendorwatch.streams.worker.openapi import MAX_EVENTS_PER_REQUEST

from .conftest import WorkerFactory
from .fuzz_inputs import Generator, Message
from .workers import INGEST_TOKEN, read_topic, scenario_fold, score_differences, wait_until

BAD = 10_000
VALID = 1_000
SEED = 20_251_203
MAX_REQUEST_BYTES = 1024 * 1024  # the worker's default `max_request_bytes`
AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}


def interleave(rng: random.Random, bad: list[Message], valid: list[Message]) -> list[Message]:
    """Both lists merged at random positions, each keeping its own order (a vendor's valid events
    stay in event-time order, as the offline fold applies them)."""
    slots = [True] * len(bad) + [False] * len(valid)
    rng.shuffle(slots)
    bad_it, valid_it = iter(bad), iter(valid)
    return [next(bad_it) if is_bad else next(valid_it) for is_bad in slots]


def send_all(bootstrap: str, messages: list[Message]) -> list[tuple[int, int]]:
    """Produce every message with kafka-python; (partition, offset) of each, in order."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
    )
    try:
        futures = [
            producer.send(topics.RAW, key=m.key, value=m.value, headers=m.headers) for m in messages
        ]
        producer.flush(timeout=60)
        return [(md.partition, md.offset) for md in (f.get(timeout=30) for f in futures)]
    finally:
        producer.close(timeout=10)


def decoded(payload: dict[str, str]) -> bytes | None:
    if payload["encoding"] == "none":
        return None
    if payload["encoding"] == "base64":
        return base64.b64decode(payload["value"])
    return payload["value"].encode()


def http_expectation(body: bytes) -> tuple[int, str | None]:
    """What `POST /events` must answer for a body: status and the first item's reason."""
    if len(body) > MAX_REQUEST_BYTES:
        return 413, None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 400, "invalid_json"
    items = payload if isinstance(payload, list) else [payload]
    if not items or len(items) > MAX_EVENTS_PER_REQUEST:
        return 400, "batch_size"
    for item in items:
        try:
            check_event_time(validate_event(item), time.time(), DEFAULT_MAX_FUTURE_SKEW)
        except InvalidEvent as exc:
            return 400, str(exc.reason)
    return 202, None


def test_ten_thousand_bad_messages_crash_nothing_and_lose_no_valid_event(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    worker = worker_factory(bootstrap)
    worker.wait_ready()
    pid = worker.pid
    rng = random.Random(SEED)
    generator = Generator(SEED)

    # --- the raw topic ----------------------------------------------------------------------
    bad = [generator.bad() for _ in range(BAD)]
    valid = [generator.valid() for _ in range(VALID)]
    messages = interleave(rng, bad, valid)
    started = time.monotonic()
    positions = send_all(bootstrap, messages)
    dead = read_topic(bootstrap, topics.EVENTS_DLQ, at_least=BAD, timeout=120)
    history = read_topic(bootstrap, topics.EVENTS, at_least=VALID, timeout=60)
    raw_seconds = time.monotonic() - started

    expected = {pos: m for pos, m in zip(positions, messages, strict=True) if m.reason}
    assert len(dead) == BAD, f"{len(dead)} DLQ records for {BAD} bad messages"
    problems = []
    for record in dead:
        entry = orjson.loads(record.value)
        origin = entry["origin"]
        message = expected.pop((origin["partition"], origin["offset"]), None)
        if message is None:
            problems.append(f"DLQ record for no bad message: {origin}")
            continue
        if entry["reason"] != message.reason:
            problems.append(f"{message.kind}: reason {entry['reason']}, want {message.reason}")
        if decoded(entry["original"]) != message.value:
            problems.append(f"{message.kind}: original bytes differ at {origin}")
        if message.headers:
            kept = [(h["name"], decoded(h)) for h in entry.get("headers", [])]
            if kept != message.headers:
                problems.append(f"{message.kind}: headers differ at {origin}")
    assert not expected, f"{len(expected)} bad messages missing from the DLQ"
    assert not problems, "\n".join(problems[:20])
    history_ids = [orjson.loads(r.value)["id"] for r in history]
    assert sorted(history_ids) == sorted(m.event_id for m in valid)

    # --- POST /events -----------------------------------------------------------------------
    http_bad = [generator.bad() for _ in range(BAD - 10)]
    http_bodies = [m.value or b"" for m in http_bad] + [b"[" + b" " * MAX_REQUEST_BYTES + b"]"] * 10
    http_valid = [generator.valid() for _ in range(VALID)]
    requests = interleave(
        rng,
        [Message(b, [], None, "bad", "http") for b in http_bodies],
        http_valid,
    )
    statuses: Counter[int] = Counter()
    mismatches = []
    started = time.monotonic()
    with httpx.Client(base_url=worker.base_url, headers=AUTH, timeout=30) as client:
        for request in requests:
            body = request.value or b""
            want_status, want_reason = (
                (202, None) if request.reason is None else http_expectation(body)
            )
            response = client.post(
                "/events", content=body, headers={"Content-Type": "application/json"}
            )
            statuses[response.status_code] += 1
            answer: dict[str, Any] = response.json()
            if response.status_code != want_status:
                mismatches.append(f"{response.status_code} for want {want_status}: {answer}")
            elif want_status == 400 and want_reason == "invalid_json":
                if not answer["error"].startswith("invalid JSON"):
                    mismatches.append(f"invalid JSON answered {answer}")
            elif (
                want_status == 400
                and want_reason != "batch_size"
                and answer.get("errors", [{}])[0].get("reason") != want_reason
            ):
                mismatches.append(f"want {want_reason}, answered {answer}")
    http_seconds = time.monotonic() - started
    assert not [s for s in statuses if s >= 500], statuses
    assert not mismatches, "\n".join(mismatches[:20])
    assert statuses[202] == VALID

    everything = [*valid, *http_valid]
    wait_until(
        lambda: (
            len(read_topic(bootstrap, topics.EVENTS, at_least=2 * VALID, timeout=60)) >= 2 * VALID
        ),
        "every valid event in the history",
        timeout=90,
    )
    history_ids = [
        orjson.loads(r.value)["id"]
        for r in read_topic(bootstrap, topics.EVENTS, at_least=2 * VALID)
    ]
    assert sorted(history_ids) == sorted(m.event_id for m in everything)

    # --- the scores are the offline fold of the valid events --------------------------------
    published = scenario_fold([m.value for m in everything if m.value]).published
    offline = {vendor: score.to_dict() for vendor, score in published.items()}

    def live() -> dict[str, dict[str, Any]]:
        return {v: worker.get_json(f"/vendors/{v}") for v in offline}

    wait_until(
        lambda: not score_differences(offline, live()),
        "the live scores to equal the offline fold",
        timeout=60,
        describe=lambda: "\n".join(score_differences(offline, live())[:10]),
    )

    # --- nothing crashed ----------------------------------------------------------------------
    assert worker.alive()
    assert worker.pid == pid
    assert worker.get_json("/healthz")["status"] == "ok"
    log = worker.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    print(
        f"\nfuzz: raw topic: {BAD} bad + {VALID} valid in {raw_seconds:.1f} s "
        f"({(BAD + VALID) / raw_seconds:.0f} msg/s); reasons "
        f"{dict(Counter(m.reason for m in bad))}; "
        f"POST /events: {len(requests)} requests in {http_seconds:.1f} s "
        f"({len(requests) / http_seconds:.0f} req/s); statuses {dict(statuses)}"
    )

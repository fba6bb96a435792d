"""The worker's HTTP API against a real worker process on a real broker, ingest and read:
POST /events accepts, rejects and authenticates as README.md and docs/operations.md say, and
what it accepts really flows through the pipeline into GET /vendors/{id}.

One worker serves the whole module (starting one costs ~5 s); each test writes to vendor ids of
its own (prefix ``api-``) so the tests do not see each other's events. The demo scenario is loaded
so the read endpoints have real, explained scores to show.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.version import package_version

from .workers import (
    INGEST_TOKEN,
    WorkerProcess,
    demo_lines,
    event_line,
    offline_scores,
    produce,
    score_differences,
    wait_until,
)

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}
LIST_FIELDS = {"vendor_id", "name", "score", "severity", "policy_version", "updated_at"}


def event(event_id: str, subject: str, **data: Any) -> dict[str, Any]:
    """A valid `data.shared` event as a dict (the body of POST /events)."""
    payload = {"dataset": "ds-1", "classification": "restricted", "records": 10_000, **data}
    return orjson.loads(
        event_line(event_id, "data.shared", subject, payload, "2025-07-01T00:00:00Z")
    )


def recent_ids(worker: WorkerProcess, vendor: str) -> list[str]:
    response = worker.get(f"/vendors/{vendor}")
    if response.status_code != 200:
        return []
    return [e["id"] for e in response.json()["recent_events"]]


def wait_for_event(worker: WorkerProcess, vendor: str, event_id: str) -> list[str]:
    """Wait until `event_id` shows in the vendor's recent events (it went through the pipeline)."""
    return wait_until(
        lambda: (ids := recent_ids(worker, vendor)) and event_id in ids and ids,
        f"{event_id} in GET /vendors/{vendor}",
        timeout=15,
        describe=worker.describe,
    )


# --- POST /events ----------------------------------------------------------------------------


def test_post_single_event_is_accepted_and_flows_to_the_read_api(api_worker: WorkerProcess) -> None:
    response = api_worker.post("/events", json=event("api-single-1", "api-single"), headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": ["api-single-1"]}
    wait_for_event(api_worker, "api-single", "api-single-1")
    detail = api_worker.get_json("/vendors/api-single")
    assert detail["caused_by"] == "api-single-1"
    assert detail["data_event_ids"] == ["api-single-1"]


def test_post_array_accepts_every_event_in_order(api_worker: WorkerProcess) -> None:
    body = [event(f"api-array-{i}", "api-array", dataset=f"ds-{i}") for i in range(3)]
    response = api_worker.post("/events", json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": ["api-array-0", "api-array-1", "api-array-2"]}
    ids = wait_for_event(api_worker, "api-array", "api-array-2")
    assert ids[:3] == ["api-array-2", "api-array-1", "api-array-0"]  # most recent first


def test_post_with_an_invalid_event_is_400_per_event_and_sends_nothing(
    api_worker: WorkerProcess,
) -> None:
    bad_schema = event("api-bad-2", "api-bad")
    bad_schema["data"]["classification"] = "top-secret"
    body = [
        event("api-bad-0", "api-bad"),  # valid: must not be sent either
        {"specversion": "1.0", "type": "no.such.type", "id": "x", "subject": "api-bad"},
        bad_schema,
    ]
    response = api_worker.post("/events", json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert [e["index"] for e in errors] == [1, 2]
    assert errors[0]["reason"] == "unknown_type"
    assert errors[1]["reason"] == "schema"
    assert "data.classification" in errors[1]["error"]

    # Prove nothing was sent: a later event for the same vendor lands in the same partition, so
    # once it is visible anything sent before it would be too.
    sentinel = api_worker.post("/events", json=event("api-bad-sentinel", "api-bad"), headers=AUTH)
    assert sentinel.status_code == 202
    ids = wait_for_event(api_worker, "api-bad", "api-bad-sentinel")
    assert ids == ["api-bad-sentinel"]


def test_post_invalid_json_is_400(api_worker: WorkerProcess) -> None:
    response = api_worker.post(
        "/events", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "invalid JSON" in response.text


def test_post_over_the_size_limit_is_413(api_worker: WorkerProcess) -> None:
    big = event("api-big-1", "api-big", description="x" * (1024 * 1024 + 1))
    response = api_worker.post("/events", json=big, headers=AUTH)
    assert response.status_code == 413, response.text
    small = api_worker.post("/events", json=event("api-big-2", "api-big"), headers=AUTH)
    assert small.status_code == 202  # the worker is fine afterwards


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {INGEST_TOKEN}x"},
        {"Authorization": f"Basic {INGEST_TOKEN}"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "wrong", "longer", "not-bearer", "empty"],
)
def test_post_without_the_right_token_is_401(
    api_worker: WorkerProcess, headers: dict[str, str]
) -> None:
    response = api_worker.post("/events", json=event("api-auth-1", "api-auth"), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert INGEST_TOKEN not in response.text


def test_rejected_token_sends_nothing(api_worker: WorkerProcess) -> None:
    refused = api_worker.post("/events", json=event("api-noauth-1", "api-noauth"))
    assert refused.status_code == 401
    ok = api_worker.post("/events", json=event("api-noauth-2", "api-noauth"), headers=AUTH)
    assert ok.status_code == 202
    assert wait_for_event(api_worker, "api-noauth", "api-noauth-2") == ["api-noauth-2"]


# --- reads -----------------------------------------------------------------------------------


def test_vendors_list_is_sorted_by_score_with_the_required_fields(
    api_worker: WorkerProcess,
) -> None:
    vendors = api_worker.get_json("/vendors")
    assert len(vendors) >= 6
    for item in vendors:
        assert set(item) == LIST_FIELDS
        assert item["policy_version"] == load_policy().version
    keys = [(-v["score"], v["vendor_id"]) for v in vendors]
    assert keys == sorted(keys)
    assert vendors[0]["vendor_id"] == "scale-ai"
    assert vendors[0]["severity"] == "critical"
    assert vendors[0]["score"] > vendors[-1]["score"]


def test_vendor_detail_explains_the_score_with_event_ids_and_recent_events(
    api_worker: WorkerProcess,
) -> None:
    detail = api_worker.get_json("/vendors/scale-ai")
    scale_ids = {
        e["id"] for e in (orjson.loads(line) for line in demo_lines()) if e["subject"] == "scale-ai"
    }
    signals = {c["signal"] for c in detail["contributions"]}
    assert {"competitor_ownership", "key_person_to_competitor", "peer_client_pause"} <= signals
    for contribution in detail["contributions"]:
        assert contribution["event_ids"], contribution
        assert set(contribution["event_ids"]) <= scale_ids
        assert contribution["detail"]
    ownership = next(c for c in detail["contributions"] if c["signal"] == "competitor_ownership")
    assert ownership["event_ids"] == ["demo-scale-ai-meta-stake"]
    recent = [e["id"] for e in detail["recent_events"]]
    assert set(recent) == scale_ids
    assert recent[0] == "demo-scale-ai-paused-by-openai"  # the last one produced comes first
    assert all(e["subject"] == "scale-ai" for e in detail["recent_events"])


def test_unknown_vendor_is_404(api_worker: WorkerProcess) -> None:
    response = api_worker.get("/vendors/no-such-vendor")
    assert response.status_code == 404
    assert "no-such-vendor" in response.text


def test_healthz_and_readyz(api_worker: WorkerProcess) -> None:
    assert api_worker.get_json("/healthz") == {"status": "ok", "version": package_version()}
    ready = api_worker.get_json("/readyz")
    assert ready["status"] == "ready"


def test_metrics_is_prometheus_text(api_worker: WorkerProcess) -> None:
    response = api_worker.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'vendorwatch_vendor_risk_score{vendor="scale-ai"}' in response.text
    assert INGEST_TOKEN not in response.text


# --- live == offline -------------------------------------------------------------------------


def test_live_scores_equal_offline_scoring_on_the_demo(
    demo_worker: WorkerProcess, tmp_path: Path
) -> None:
    """Scores from the live pipeline equal what its Processor computes offline from the same
    events, sent in the same order on a scenario clock (`scenario_fold`), for every vendor: list
    and detail endpoints, scores, severities, contributions."""
    events_file = tmp_path / "demo.jsonl"
    events_file.write_bytes(b"\n".join(demo_lines()) + b"\n")
    expected = offline_scores(events_file)

    listed = demo_worker.get_json("/vendors")
    assert [v["vendor_id"] for v in listed] == list(expected)  # same order: by score, then id
    live = {v["vendor_id"]: demo_worker.get_json(f"/vendors/{v['vendor_id']}") for v in listed}
    assert score_differences(expected, live) == []
    for item in listed:
        want = expected[item["vendor_id"]]
        assert (item["score"], item["severity"], item["name"]) == (
            want["score"],
            want["severity"],
            want["name"],
        )


# --- readiness -------------------------------------------------------------------------------


def test_readyz_is_503_until_the_view_has_caught_up(fresh_kafka: Any, worker_factory: Any) -> None:
    """A worker must not report ready before its read view has read the history: fill the
    events topic so that catching up takes a while, then watch /readyz from the first answer."""
    bootstrap = fresh_kafka.bootstrap_servers
    lines = [
        event_line(
            f"ready-{i}",
            "data.shared",
            f"ready-{i % 500}",
            {"dataset": f"d{i}", "classification": "internal", "records": 10},
            "2025-01-01T00:00:00Z",
        )
        for i in range(40_000)
    ]
    produce(bootstrap, topics.EVENTS, lines)
    worker = worker_factory(bootstrap)
    seen: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            status = worker.get("/readyz").status_code
        except httpx.HTTPError:
            assert worker.alive(), worker.describe()
            time.sleep(0.02)
            continue
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == 200:
            break
        time.sleep(0.02)
    assert seen == [503, 200], f"/readyz went {seen}\n{worker.describe()}"
    assert worker.get_json("/readyz")["vendors"] == 500

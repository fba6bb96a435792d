"""`vendorwatch rebuild`: recompute scores and alerts from the history under a new policy, and
what must be published so the live topics agree with it; refuses while workers run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.errors import KafkaError
from aiokafka.protocol import admin as admin_protocol
from aiokafka.protocol.api import Request

from vendorwatch.streams.replay.reader import ReplayError, iso
from vendorwatch.streams.replay.reports import score_record
from vendorwatch.streams.replay.run import PolicyResult

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class RebuildPlan:
    """What `rebuild` publishes so the read view shows the new policy without waiting for events.

    `scores`: one record per vendor, exactly what a worker running the new policy publishes for
    the last change of that vendor's score. `alerts`: transitions that make the alerts topic's
    firing set equal the new policy's: alerts the new policy fires that are not firing now, or
    fire differently (the transition that started them, with the id a worker would give it),
    and a resolution for alerts firing now that the new policy does not fire. Alerts firing the
    same way under both policies are left alone: nobody is notified twice about them.
    """

    scores: list[dict[str, Any]]
    fire: list[dict[str, Any]]
    resolve: list[dict[str, Any]]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.fire + self.resolve


ALERT_IDENTITY = ("starts_at", "severity", "summary", "event_ids")
"""What an alert says. An alert firing under both policies but saying something else (it
started later, say) is published again so the view shows the new policy's version of it."""


def current_firing(alert_records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Fingerprint -> latest firing record, from the alerts topic in order (as the view does)."""
    firing: dict[str, dict[str, Any]] = {}
    for record in alert_records:
        if record.get("status") == "firing":
            firing[record["fingerprint"]] = record
        else:
            firing.pop(record.get("fingerprint", ""), None)
    return firing


def plan_rebuild(
    result: PolicyResult, live_firing: Mapping[str, dict[str, Any]], published_at: float
) -> RebuildPlan:
    """The records that switch the read view to `result`'s policy. Pure."""
    scores = [
        score_record(result.changes[v], published_at)
        for v in sorted(result.changes)
        if v in result.scores
    ]
    fire = []
    for fingerprint, transition in sorted(result.opening.items()):
        record = transition.to_record()
        shown = live_firing.get(fingerprint)
        if shown is None or any(shown.get(k) != record[k] for k in ALERT_IDENTITY):
            fire.append(record)
    resolve = []
    for fingerprint, record in sorted(live_firing.items()):
        if fingerprint in result.opening:
            continue
        vendor = record["vendor_id"]
        score = result.scores.get(vendor)
        ends_at = result.last_event.get(vendor)
        resolved = dict(record)
        resolved["status"] = "resolved"
        resolved["ends_at"] = iso(ends_at) if ends_at is not None else record.get("as_of")
        resolved["caused_by"] = f"rebuild:{result.policy.version}"
        resolved["policy_version"] = result.policy.version
        if score is not None:
            resolved["score"] = score.score
            resolved["score_severity"] = score.severity
            resolved["contributions"] = [c.to_dict() for c in score.contributions]
            resolved["as_of"] = score.to_dict()["as_of"]
        raw = f"{fingerprint}|resolved|{record.get('starts_at')}|{resolved['caused_by']}"
        resolved["id"] = hashlib.sha256(raw.encode()).hexdigest()[:24]
        resolve.append(resolved)
    return RebuildPlan(scores, fire, resolve)


class _DescribeGroups(
    Request[
        admin_protocol.DescribeGroupsRequest_v0
        | admin_protocol.DescribeGroupsRequest_v1
        | admin_protocol.DescribeGroupsRequest_v2
    ]
):
    """DescribeGroups capped at v2.

    aiokafka 0.14 decodes a v3 answer with the v2 schema (it lacks `authorized_operations`), so
    `AIOKafkaAdminClient.describe_consumer_groups` fails with "Buffer underrun" against any
    broker that speaks v3 (Tansu does; Kafka >= 2.3 does). v0-v2 carry all we need.
    """

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self.groups = groups

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(self.groups)


async def active_members(bootstrap_servers: str, group: str) -> list[str]:
    """Member ids of a consumer group right now (empty when no worker is running in it)."""
    from aiokafka.admin import AIOKafkaAdminClient

    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    try:
        await client.start()
        node = await client.find_coordinator(group)
        response = await client._send_request(_DescribeGroups([group]), node)
    except KafkaError as exc:
        raise ReplayError(f"cannot describe consumer group {group!r}: {exc}") from None
    finally:
        await client.close()
    members: list[str] = []
    for described in response.groups:
        # (error_code, group_id, state, protocol_type, protocol, members)
        if described[1] == group:
            members.extend(member[0] for member in described[5])
    return members

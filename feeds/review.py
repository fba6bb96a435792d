"""Review: nothing read from a document counts until someone accepts it.

Decisions are events too, appended to a review log (JSON Lines, CloudEvents envelopes of type
`feeds.candidate.accepted`, `feeds.candidate.rejected`, `feeds.candidate.merged`): replaying the
log over the same candidates gives the same pending list and the same accepted events, so the
log is the audit trail. They are not vendorwatch events (the scoring stream never sees them);
what an acceptance produces is an ordinary event carrying its provenance (`Candidate.event`),
written as a line of an event file that `vendorwatch ingest` sends to `vendorwatch.events.raw`.

Auto-accept is per source kind (`AUTO_ACCEPT_DEFAULT`): off for news; structured filings may
turn it on, because their facts (a 13D's percentage, an 8-K item) are stated, not reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from vendorwatch.feeds.candidates import Candidate
from vendorwatch.schemas.codec import encode_event
from vendorwatch.schemas.events import Event

AUTO_ACCEPT_DEFAULT: frozenset[str] = frozenset()
"""Source kinds accepted without a reviewer by default: none (news never)."""

DecisionType = Literal[
    "feeds.candidate.accepted", "feeds.candidate.rejected", "feeds.candidate.merged"
]


class Decision(BaseModel):
    """A reviewer's decision on a candidate, as a CloudEvents envelope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str = "urn:vendorwatch:feeds:review"
    type: DecisionType
    time: datetime
    subject: str
    """The candidate's id."""
    data: dict[str, Any]
    """reviewer; reason (rejected); into (merged); edits and event (accepted)."""


class ReviewError(ValueError):
    """A decision that cannot be taken: the message says why, in one line."""


def decision_id(kind: str, candidate_id: str, time: datetime) -> str:
    raw = f"{kind}\x1f{candidate_id}\x1f{time.isoformat()}"
    return "review-" + hashlib.sha256(raw.encode()).hexdigest()[:24]


def _decision(
    kind: str, candidate: Candidate, now: datetime | None, data: dict[str, Any]
) -> Decision:
    """The decision record of one kind (accepted, rejected, merged) on `candidate`, at `now`
    (default: the wall clock)."""
    now = now or datetime.now(UTC)
    return Decision(
        id=decision_id(kind, candidate.id, now),
        type=f"feeds.candidate.{kind}",
        time=now,
        subject=candidate.id,
        data=data,
    )


def read_log(path: Path) -> list[Decision]:
    """Every decision in a review log (none if it does not exist yet)."""
    if not path.exists():
        return []
    decisions = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            decisions.append(Decision.model_validate_json(line))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            detail = f"{where}: {first['msg']}" if where else first["msg"]
            raise ReviewError(
                f"{path}: line {number} is not a review decision ({detail})"
            ) from None
    return decisions


def append_log(path: Path, decision: Decision) -> None:
    with path.open("ab") as out:
        out.write(orjson.dumps(decision.model_dump(mode="json")) + b"\n")


def decided(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """Candidate id -> its decision (the first one taken stands)."""
    out: dict[str, Decision] = {}
    for d in decisions:
        out.setdefault(d.subject, d)
    return out


def pending(candidates: Iterable[Candidate], decisions: Iterable[Decision]) -> list[Candidate]:
    """Candidates nobody has decided on yet, most confident first."""
    done = decided(decisions)
    waiting = [c for c in candidates if c.id not in done]
    return sorted(waiting, key=lambda c: (-c.confidence, c.time, c.id))


def _apply_edits(candidate: Candidate, edits: dict[str, Any]) -> tuple[Candidate, dict[str, Any]]:
    data = dict(candidate.data)
    update: dict[str, Any] = {}
    for key, value in edits.items():
        if key in {"type", "subject"}:
            update[key] = value
        elif key == "data":
            data = dict(value)
        else:
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
    update["data"] = data
    return candidate.model_copy(update=update), data


def accept(
    candidate: Candidate,
    reviewer: str | None,
    edits: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[Decision, Event]:
    """Accept a candidate (with edits to its type, subject or data fields): the decision and
    the event it becomes, which must validate."""
    edited, data = _apply_edits(candidate, edits or {})
    try:
        event = edited.event(reviewer=reviewer, data=data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:] if not isinstance(p, int)) or "event"
        raise ReviewError(f"the edited event is invalid: {where}: {first['msg']}") from None
    said = {"reviewer": reviewer, "edits": edits or {}, "event": orjson.loads(encode_event(event))}
    return _decision("accepted", candidate, now, said), event


def reject(
    candidate: Candidate, reviewer: str, reason: str, now: datetime | None = None
) -> Decision:
    """Reject a candidate, with the reason (required: a rejection teaches the rules)."""
    if not reason.strip():
        raise ReviewError("a rejection needs a reason")
    return _decision("rejected", candidate, now, {"reviewer": reviewer, "reason": reason})


def merge(
    candidate: Candidate, into: Candidate, reviewer: str, now: datetime | None = None
) -> Decision:
    """Record that `candidate` reports the same fact as `into` (which stays to be decided)."""
    if candidate.id == into.id:
        raise ReviewError("a candidate cannot be merged into itself")
    if candidate.type != into.type or candidate.subject != into.subject:
        raise ReviewError(
            f"cannot merge a {candidate.type} about {candidate.subject} into a {into.type} "
            f"about {into.subject}"
        )
    return _decision("merged", candidate, now, {"reviewer": reviewer, "into": into.id})


def accepted_events(decisions: Iterable[Decision]) -> list[bytes]:
    """The event lines every acceptance in a log produced, in order (replaying the log)."""
    return [
        orjson.dumps(d.data["event"]) for d in decisions if d.type == "feeds.candidate.accepted"
    ]

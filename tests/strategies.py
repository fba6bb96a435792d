"""Hypothesis strategies for valid vendorwatch events.

Events are built as JSON and go through `parse_event`, the one door into the domain, so the
properties are about what the pipeline really folds. Organisation names come from the default
policy (competitors and their aliases, in odd spellings, our own organisation) plus others, so
competitor matching is exercised; most moves leave the vendor they are filed under; times come
from a small window with deliberate ties so that ordering by (event time, arrival) matters.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import strategies as st

from vendorwatch.schemas import Event, parse_event
from vendorwatch.schemas.codec import encode_event
from vendorwatch.streams.core.policy import load_policy

POLICY = load_policy()
COMPETITOR_NAMES = [n for c in POLICY.competitors for n in c.names()]
OWN_NAMES = POLICY.organisation.names()
OTHER_NAMES = [
    "Anthropic",
    "Cohere",
    "Accel",
    "Sequoia Capital",
    "Scale AI",
    "Handshake",
    "Microsoft Research",
]
"""Names the policy does not know; "Microsoft Research" is a near miss of Microsoft (a note)."""
VENDORS = ["scale-ai", "handshake", "turing"]
VENDOR_SPELLINGS = {
    "scale-ai": ["Scale AI", "Scale AI, Inc.", "scale-ai", "SCALE AI"],
    "handshake": ["Handshake", "Handshake Inc"],
    "turing": ["Turing", "turing"],
}
"""How moves name the vendor they leave: its id or its name, with or without a legal form."""

START = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW_SECONDS = 400 * 86_400
END = START + timedelta(seconds=WINDOW_SECONDS)
"""Every generated event time is within [START, END]."""

TIES = [START + timedelta(days=d) for d in (30, 30.5, 200)]

competitor = st.sampled_from(COMPETITOR_NAMES).flatmap(
    lambda n: st.sampled_from([n, n.upper(), n.lower(), f" {n}, "])
)
"""A competitor as events spell it: any alias, any case, stray punctuation."""
organisation = st.one_of(competitor, st.sampled_from(OWN_NAMES), st.sampled_from(OTHER_NAMES))
clients = st.sampled_from(
    ["OpenAI", "xAI", "X.AI", "Meta", "Facebook", "Google", "Alphabet", "Anthropic"]
).flatmap(lambda n: st.sampled_from([n, n.upper(), f"{n}.", f"{n}, Inc.", f"{n} Research"]))
"""Few clients, so that pauses, resumes and ends of the same client meet in one history, under
several spellings (a legal form: the same client; "Google Research": our own organisation;
"OpenAI Research": a near miss of nothing the policy knows as a client, another client) and
under aliases of one organisation in the default policy ("Meta" and "Facebook", "xAI" and
"X.AI", "Google" and "Alphabet": one client each)."""
names = st.text(alphabet="abcdefgh XYZ", min_size=1, max_size=12).filter(str.strip)
pct = st.one_of(st.sampled_from([0.0, 10.0, 49.0, 50.0, 100.0]), st.floats(0, 100, allow_nan=False))
"""Round figures often, so that equal stakes (ties) happen."""
usd = st.one_of(st.none(), st.floats(0, 1e12, allow_nan=False))

instants = st.one_of(
    st.integers(0, WINDOW_SECONDS).map(lambda s: START + timedelta(seconds=s)),
    st.sampled_from(TIES),
)
offsets = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])


def _time(instant: datetime, tz: timezone) -> str:
    return instant.astimezone(tz).isoformat()


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


PAYLOADS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "vendor.registered": st.fixed_dictionaries(
        {"name": names, "aliases": st.lists(names, max_size=3)}
    ),
    "vendor.alias_added": st.fixed_dictionaries({"alias": names}),
    "data.shared": st.fixed_dictionaries(
        {
            "dataset": st.sampled_from(["ds-a", "ds-b", "ds-c"]),
            "classification": st.sampled_from(["public", "internal", "confidential", "restricted"]),
            "records": st.integers(0, 10**9),
        }
    ),
    "data.revoked": st.fixed_dictionaries({"dataset": st.sampled_from(["ds-a", "ds-b", "ds-c"])}),
    "vendor.offboarded": st.fixed_dictionaries({}),
    "ownership.stake_acquired": st.fixed_dictionaries(
        {
            "investor": organisation,
            "stake_pct": pct,
            "amount_usd": usd,
            "board_seats": st.integers(0, 5),
            "voting_control": st.booleans(),
        }
    ),
    "ownership.acquired": st.fixed_dictionaries({"acquirer": organisation, "amount_usd": usd}),
    "ownership.divested": st.fixed_dictionaries({"investor": organisation, "amount_usd": usd}),
    "funding.round": st.fixed_dictionaries(
        {
            "round": st.sampled_from(["Seed", "Series A"]),
            "amount_usd": st.floats(0, 1e10, allow_nan=False),
            "investors": st.lists(organisation, max_size=4),
        }
    ),
    "person.moved": st.fixed_dictionaries(
        {
            "person": names,
            "role": st.sampled_from(["CEO", "CTO", "Engineer"]),
            "from_org": st.one_of(st.just("Scale AI"), organisation),
            "to_org": organisation,
            "seniority": st.sampled_from(["executive", "senior", "staff"]),
        }
    ),
    "client.paused": st.fixed_dictionaries({"client": clients}),
    "client.resumed": st.fixed_dictionaries({"client": clients}),
    "client.terminated": st.fixed_dictionaries({"client": clients}),
    "security.incident": st.fixed_dictionaries(
        {
            # Few titles and incident ids, so that reports of one incident occur (claims).
            "title": st.one_of(names, st.sampled_from(["Credential leak", "credential  LEAK"])),
            "severity": st.sampled_from(["low", "medium", "high", "critical"]),
            "incident_id": st.one_of(st.none(), st.sampled_from(["inc-1", "inc-2"])),
        }
    ),
    "workforce.changed": st.fixed_dictionaries(
        {
            "contractors": st.integers(0, 10**6),
            "contractors_added": st.integers(-1000, 5000),
            "period_days": st.integers(1, 365),
            "remote_share_pct": st.one_of(st.none(), pct),
        }
    ),
    "demand.changed": st.fixed_dictionaries(
        {"factor": st.one_of(st.none(), st.floats(0.1, 10, allow_nan=False))}
    ),
    "vendor.statement": st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["statement", "remediation", "audit"]),
            "text": st.text(max_size=100),
        }
    ),
    # Ids of this range are drawn for events too (`raw_events`), so some retractions name an
    # event of the history, before or after it arrives.
    "event.retracted": st.fixed_dictionaries({"id": st.integers(0, 30).map(lambda n: f"e-{n}")}),
}


@st.composite
def raw_events(
    draw: st.DrawFn,
    event_type: str | None = None,
    vendors: list[str] | None = None,
    times: st.SearchStrategy[datetime] = instants,
    corrections: bool = False,
) -> dict[str, Any]:
    """One valid event as a JSON-ready dict (ids are random; lists of events make them unique).
    With `corrections`, some events replace an earlier one (`replaces`)."""
    kind = event_type or draw(st.sampled_from(sorted(PAYLOADS)))
    subject = draw(st.sampled_from(vendors or VENDORS))
    data = _drop_none(draw(PAYLOADS[kind]))
    if kind == "person.moved":
        spellings = VENDOR_SPELLINGS.get(subject, [subject])
        roll = draw(st.integers(0, 9))
        if roll < 7:
            # Most moves leave the vendor they are filed under (only those count), under any
            # of its spellings; some come back to it (cancelling the earlier moves), the
            # others exercise the "not from the vendor" note.
            data["from_org"] = draw(st.sampled_from(spellings))
        elif roll < 8:
            data["to_org"] = draw(st.sampled_from(spellings))
    # Small ids collide between events (the same id from another source is another event) and
    # are what retractions name; large ones are unique.
    number = draw(st.one_of(st.integers(0, 30), st.integers(31, 10**9)))
    source = draw(st.sampled_from(["urn:vendorwatch:test:hypothesis", "urn:vendorwatch:test:b"]))
    raw: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"e-{number}",
        "source": source,
        "type": kind,
        "time": _time(draw(times), draw(offsets)),
        "subject": subject,
        "data": data,
    }
    if corrections and draw(st.integers(0, 9)) == 0:
        raw["replaces"] = f"e-{draw(st.integers(0, 30))}"  # a correction of an earlier event
    return raw


def to_event(raw: dict[str, Any]) -> Event:
    return parse_event(orjson.dumps(raw))


def events(
    event_type: str | None = None,
    vendors: list[str] | None = None,
    times: st.SearchStrategy[datetime] = instants,
    corrections: bool = False,
) -> st.SearchStrategy[Event]:
    """Valid events, through `parse_event`."""
    return raw_events(event_type, vendors, times, corrections).map(to_event)


REPORTED_AGAIN = frozenset(
    {
        "ownership.acquired",
        "ownership.stake_acquired",
        "client.paused",
        "client.resumed",
        "client.terminated",
        "person.moved",
        "security.incident",
    }
)
"""Fact types that `reported_again` reports twice: those whose reports of one fact are one
claim (docs/scoring.md section 12)."""

ECHO_SOURCE = "urn:vendorwatch:test:echo"


@st.composite
def reported_again(
    draw: st.DrawFn, history: list[Event], distinct_times: bool = False
) -> list[Event]:
    """`history` with some of its facts reported again by another source: the same type,
    vendor and payload under a new (source, id), at another instant (before or after the
    first report, so arrival order and event-time order differ). With `distinct_times`, no
    report shares an instant with another event."""
    out = list(history)
    used = {event.time for event in history}
    for i, event in enumerate(history):
        if event.type not in REPORTED_AGAIN or draw(st.integers(0, 2)) != 0:
            continue
        when = draw(instants)
        if distinct_times and when in used:
            continue
        used.add(when)
        raw = orjson.loads(encode_event(event))
        raw.pop("replaces", None)
        raw |= {"id": f"again-{i}", "source": ECHO_SOURCE, "time": _time(when, UTC)}
        out.insert(draw(st.integers(0, len(out))), to_event(raw))
    return out


def histories(
    min_size: int = 0,
    max_size: int = 40,
    vendors: list[str] | None = None,
    corrections: bool = False,
) -> st.SearchStrategy[list[Event]]:
    """Lists of events with distinct (source, id): a vendor history as it could arrive, some
    facts reported twice (`reported_again`)."""
    return st.lists(
        events(vendors=vendors, corrections=corrections),
        min_size=min_size,
        max_size=max_size,
        unique_by=lambda e: (e.source, e.id),
    ).flatmap(reported_again)


def distinct_time_histories(
    min_size: int = 0,
    max_size: int = 40,
    vendors: list[str] | None = None,
    corrections: bool = False,
) -> st.SearchStrategy[list[Event]]:
    """Lists of events with distinct (source, id) and distinct event times: histories whose
    fold does not depend on arrival order (events of the same instant apply in arrival order)."""
    return st.lists(
        events(vendors=vendors, corrections=corrections),
        min_size=min_size,
        max_size=max_size,
        unique_by=(lambda e: (e.source, e.id), lambda e: e.time),
    ).flatmap(lambda history: reported_again(history, distinct_times=True))


@st.composite
def competitor_stakes(draw: st.DrawFn, vendors: list[str] | None = None) -> Event:
    """A stake acquired by a named competitor of the default policy."""
    raw = draw(raw_events("ownership.stake_acquired", vendors))
    raw["data"]["investor"] = draw(competitor)
    return to_event(raw)


OWNERS = ["Meta", "Facebook", "Meta Platforms, Inc.", "OpenAI", "Accel"]
"""Few owners, one of them under three names and one not a competitor, so that one
competitor's reports meet and an acquisition by someone else comes between them."""


def _owned(kind: str, data: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Event]:
    return st.builds(
        lambda raw, d: to_event(raw | {"data": d}), raw_events(kind, ["scale-ai"]), data
    )


ownership_reports = st.one_of(
    _owned(
        "ownership.stake_acquired",
        st.fixed_dictionaries(
            {
                "investor": st.sampled_from(OWNERS),
                "stake_pct": st.sampled_from([10.0, 49.0]),
                "board_seats": st.integers(0, 1),
                "voting_control": st.booleans(),
            }
        ),
    ),
    _owned(
        "ownership.acquired",
        st.fixed_dictionaries(
            {"acquirer": st.sampled_from(OWNERS), "amount_usd": st.sampled_from([1e9, 2e9])}
        ),
    ),
    _owned("ownership.divested", st.fixed_dictionaries({"investor": st.sampled_from(OWNERS)})),
)
"""Ownership reports of one vendor that repeat: few owners, few holdings."""


def ownership_histories(max_size: int = 25) -> st.SearchStrategy[list[Event]]:
    """One vendor's ownership reports (with data at stake), many of them reported twice: an
    acquisition or a stake reported by two sources, a divestment or another's acquisition
    between two reports of one competitor's holding."""
    return st.lists(
        st.one_of(ownership_reports, events("data.shared", ["scale-ai"])),
        min_size=1,
        max_size=max_size,
        unique_by=lambda e: (e.source, e.id),
    ).flatmap(reported_again)

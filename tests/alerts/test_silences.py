"""Silences as a fold of `vendorwatch.silences` records: matching, time, expiry, the wire form.

The notify agent asks `SilenceBook.matching(vendor, rule, now)` for every alert item, so these
pin what a security lead expects from `vendorwatch silence add/expire`: a vendor silence covers
every rule, a rule silence only its rule, nothing outlives its `--until` or an early expiry, and
a worker that folds the same records (after a restart) reaches the same book.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from vendorwatch.alerts.silences import (
    SilenceBook,
    SilenceRecord,
    expire_record,
    new_silence,
)

NOW = datetime(2025, 6, 20, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=4)


def book_with(*records: SilenceRecord) -> SilenceBook:
    book = SilenceBook()
    for record in records:
        book.apply(record)
    return book


def test_a_vendor_silence_covers_every_rule_of_that_vendor_only() -> None:
    created = new_silence("scale-ai", LATER, "board is aware", now=NOW)
    book = book_with(created)
    assert created.silence is not None
    assert book.matching("scale-ai", "competitor_stake", NOW) == created.silence
    assert book.matching("scale-ai", "peer_pauses", NOW) == created.silence
    assert book.matching("appen", "competitor_stake", NOW) is None


def test_a_rule_silence_covers_only_its_rule() -> None:
    book = book_with(new_silence("scale-ai", LATER, "known", "peer_pauses", now=NOW))
    assert book.matching("scale-ai", "peer_pauses", NOW) is not None
    assert book.matching("scale-ai", "competitor_stake", NOW) is None


def test_a_silence_ends_at_until() -> None:
    book = book_with(new_silence("scale-ai", LATER, "known", now=NOW))
    assert book.matching("scale-ai", "x", LATER - timedelta(seconds=1)) is not None
    assert book.matching("scale-ai", "x", LATER) is None
    assert book.active(LATER) == []


def test_expire_ends_a_silence_from_that_instant_on() -> None:
    created = new_silence("scale-ai", LATER, "known", now=NOW)
    assert created.silence is not None
    ended_at = NOW + timedelta(minutes=30)
    book = book_with(created, expire_record(created.silence.id, now=ended_at))
    assert book.matching("scale-ai", "x", ended_at - timedelta(seconds=1)) is not None
    assert book.matching("scale-ai", "x", ended_at) is None
    (row,) = book.describe(ended_at)
    assert row["state"] == "expired"
    assert row["id"] == created.silence.id


def test_the_wire_form_round_trips_so_a_restarted_worker_reaches_the_same_book() -> None:
    created = new_silence(
        "scale-ai", LATER, "ticket SEC-42", "peer_pauses", now=NOW, created_by="a"
    )
    other = new_silence("appen", LATER, "noise", now=NOW)
    assert created.silence is not None
    records = [created, other, expire_record(created.silence.id, now=NOW + timedelta(hours=1))]
    live = book_with(*records)
    restarted = SilenceBook()
    for record in records:
        restarted.apply_bytes(record.to_bytes())
    for at in (NOW, NOW + timedelta(hours=2)):
        assert restarted.describe(at) == live.describe(at)
    assert [s.vendor_id for s in restarted.active(NOW + timedelta(hours=2))] == ["appen"]


@pytest.mark.parametrize(
    ("vendor", "until", "rule"),
    [
        ("scale-ai", NOW - timedelta(seconds=1), None),  # already over
        ("Scale AI!", LATER, None),  # not a vendor id
        ("scale-ai", LATER, "Peer Pauses"),  # not a rule name
    ],
)
def test_bad_silences_are_refused_before_they_reach_the_topic(
    vendor: str, until: datetime, rule: str | None
) -> None:
    with pytest.raises((ValueError, ValidationError)):
        new_silence(vendor, until, "why", rule, now=NOW)


def test_a_record_with_unknown_fields_is_refused() -> None:
    created = new_silence("scale-ai", LATER, "known", now=NOW)
    raw = created.to_bytes().replace(b'"kind"', b'"surprise":1,"kind"', 1)
    with pytest.raises(ValidationError):
        SilenceBook().apply_bytes(raw)

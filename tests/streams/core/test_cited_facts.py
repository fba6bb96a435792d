"""A contribution cites at most `MAX_CITED_FACTS` events, and that changes no number.

The bound is small here (2), so the generated histories cross it all the time and every path
that explains a signal (live and cached, from scratch, a snapshot read after the fold grew or
was refolded) runs with facts left uncited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.strategies import POLICY, events, histories
from vendorwatch.schemas import Event
from vendorwatch.streams.core import _incremental, scoring
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.core.scoring import score
from vendorwatch.streams.core.state import VendorState, apply, fold

SETTINGS = settings(max_examples=examples(120), deadline=None)
DENSE_KINDS = [
    "data.shared",
    "workforce.changed",
    "security.incident",
    "vendor.statement",
    "funding.round",
    "person.moved",
    "demand.changed",
]
dense_histories = st.lists(
    st.one_of(*(events(kind, ["scale-ai"]) for kind in DENSE_KINDS)),
    min_size=1,
    max_size=40,
    unique_by=lambda e: (e.source, e.id),
)
"""One vendor, few kinds: many facts per signal, and late ones that make a signal refold."""
any_histories = st.one_of(histories(max_size=60), dense_histories)
UNCITED = re.compile(r"^(\d+) earlier events? not cited(?:; |$)")


@contextmanager
def citing_at_most(n: int) -> Iterator[None]:
    with mock.patch.object(scoring, "MAX_CITED_FACTS", n):
        yield


@SETTINGS
@given(history=any_histories)
def test_the_bound_changes_no_number_and_cites_the_latest_events(history: list[Event]) -> None:
    states = fold(history)
    with citing_at_most(10_000):
        full = {v: score(s.copy(), POLICY) for v, s in states.items()}
    with citing_at_most(2):
        bounded = {v: score(s.copy(), POLICY) for v, s in states.items()}
    for vendor, whole in full.items():
        part = bounded[vendor]
        assert (part.score, part.severity, part.likelihood) == (
            whole.score,
            whole.severity,
            whole.likelihood,
        )
        assert [(c.signal, c.points) for c in part.contributions] == [
            (c.signal, c.points) for c in whole.contributions
        ]
        for cut, c in zip(part.contributions, whole.contributions, strict=True):
            assert set(cut.event_ids) <= set(c.event_ids)
            uncited = UNCITED.match(cut.detail)
            if uncited:  # what is cited is the latest part of the full list, in the same order
                assert len(c.event_ids) - len(cut.event_ids) >= int(uncited.group(1))
                assert c.event_ids[-2:] == cut.event_ids[-2:]
            else:
                assert cut == c


@SETTINGS
@given(history=any_histories)
def test_live_incremental_and_from_scratch_cite_the_same_events(history: list[Event]) -> None:
    with citing_at_most(2):
        states: dict[str, VendorState] = {}
        for event in history:
            state = states.setdefault(event.subject, VendorState(event.subject))
            apply(state, event)
            live = _incremental.score(state, POLICY)
            scratch = _incremental.score(state, POLICY, cached=False)
            assert live.to_dict() == scratch.to_dict()


@settings(max_examples=examples(100), deadline=None)
@given(history=any_histories, late=st.booleans())
def test_an_outcome_read_late_cites_what_it_cited_at_its_event(
    history: list[Event], late: bool
) -> None:
    with citing_at_most(2):
        processor = Processor(POLICY)
        outcomes = []
        at_once = []
        for event in history:
            outcome = processor.process(0, event)
            outcomes.append(outcome)
            if not late:
                at_once.append(outcome.current.to_dict())
            else:
                at_once.append(score(outcome.state.copy(), POLICY, outcome.figures.t).to_dict())
        # every snapshot read after the folds grew (or were refolded by a late event)
        assert [o.current.to_dict() for o in outcomes] == at_once

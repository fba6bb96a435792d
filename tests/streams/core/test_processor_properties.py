"""The `Processor` decides "changed" from numbers and explains a score only when it is read;
both must be exact.

- `Figures.explained_differently` (numbers and snapshots) says exactly what comparing the two
  explained scores with `processor.explained_differently` says, after every event;
- an outcome's `current` and `previous` explain the same whether they are read at once or after
  the rest of the history was processed (the snapshots pin the facts as they were), and the same
  as `score` gives for the vendor's state at that event;
- duplicates (redelivered events) change nothing and report the last published score.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.strategies import POLICY, histories
from vendorwatch.schemas import Event
from vendorwatch.streams.core.processor import Processor, explained_differently
from vendorwatch.streams.core.scoring import score

VENDORS = ["acme", "globex"]


@settings(max_examples=examples(150), deadline=None)
@given(histories(max_size=50, vendors=VENDORS), st.randoms(use_true_random=False))
def test_numbers_decide_changed_exactly_and_late_reads_explain_the_same(
    history: list[Event], rng: random.Random
) -> None:
    # some events delivered a second time, later on, as at-least-once delivery does
    stream = list(history)
    for i, event in enumerate(history[: len(history) // 5]):
        stream.insert(rng.randrange(i + 1, len(stream) + 1), event)
    processor = Processor(POLICY)
    seen: list[tuple[dict[str, object], dict[str, object] | None]] = []
    published: dict[str, dict[str, object]] = {}
    for event in stream:
        outcome = processor.process(0, event)
        current, previous = outcome.current, outcome.previous
        for due in outcome.earlier:  # deadlines evaluated before the event publish too
            if due.changed:
                published[event.subject] = due.current.to_dict()
        if outcome.duplicate:
            assert not outcome.changed
        else:
            expected = score(outcome.state, POLICY)
            assert current.to_dict() == expected.to_dict()
            assert outcome.changed == (previous is None or explained_differently(previous, current))
        if outcome.changed:
            published[event.subject] = current.to_dict()
        seen.append((current.to_dict(), previous and previous.to_dict()))
    for vendor, record in published.items():
        assert processor.published[vendor].to_dict() == record
    # Read again, late: the same explanations, though the states moved on.
    late = Processor(POLICY)
    outcomes = [late.process(0, event) for event in stream]
    for outcome, (current, previous) in zip(outcomes, seen, strict=True):
        assert outcome.current.to_dict() == current
        assert (outcome.previous and outcome.previous.to_dict()) == previous

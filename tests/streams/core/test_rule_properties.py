"""Alert rules skip events that cannot change their verdict; the skipping must be exact.

`streams.core.rules._may_change` is what keeps rule evaluation O(1) for most events. This property
runs every generated history twice, once as shipped and once re-evaluating every rule on every
event, and requires the same transitions, in the same order, with the same ids.
"""

from __future__ import annotations

from hypothesis import given, settings

from tests.examples import examples
from tests.strategies import POLICY, histories
from vendorwatch.schemas import Event
from vendorwatch.streams.core import rules
from vendorwatch.streams.core.processor import Processor


def _transitions(history: list[Event]) -> list[dict[str, object]]:
    processor = Processor(POLICY)
    return [t.to_record() for e in history for t in processor.process(0, e).transitions]


@settings(max_examples=examples(150), deadline=None)
@given(histories())
def test_skipping_rules_that_cannot_change_is_exact(history: list[Event]) -> None:
    shipped = _transitions(history)
    original = rules._may_change
    rules._may_change = lambda rule, event_type, firing: True  # type: ignore[assignment]
    rules._PLANS.clear()  # the plans cache which rules each event type may change
    try:
        exhaustive = _transitions(history)
    finally:
        rules._may_change = original
        rules._PLANS.clear()
    assert shipped == exhaustive

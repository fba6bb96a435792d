"""A partition rebuild (`Processor.ensure_loaded`) and what it hands back to publish.

The worker scores a raw message and writes it to the history in one hop, then commits the raw
offset once the batch is on the broker. A crash in between leaves events in the history from
raw offsets at or past the committed one, whose score records and alert transitions may never
have gone out. The rebuild folds the whole history (same state as a clean run) and returns the
outcomes of exactly those events that changed something, in history order; their redelivered
raw messages are then known ids, scored as no-ops and not written again.
"""

from __future__ import annotations

import asyncio

from vendorwatch.schemas.codec import parse_event
from vendorwatch.schemas.events import Event
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.eventfile import demo_scenario_path


def demo_events() -> list[Event]:
    lines = demo_scenario_path().read_bytes().splitlines()
    return [parse_event(line) for line in lines if line.strip()]


Entry = tuple[Event, int | None, float | None]


def history_of(events: list[Event], first_source: int | None) -> list[Entry]:
    """Events as a history partition holds them: raw offsets from `first_source` on (None: an
    older record that does not say), scored in event time (no stream time recorded)."""
    if first_source is None:
        return [(event, None, None) for event in events]
    return [(event, first_source + i, None) for i, event in enumerate(events)]


def rebuilt(history: list[Entry], committed: int) -> tuple[Processor, list]:
    processor = Processor(load_policy())

    async def loader(partition: int) -> list[Entry]:
        assert partition == 0
        return history

    count, again = asyncio.run(processor.ensure_loaded(0, committed, loader))
    assert count == len(history)
    return processor, again


def test_a_clean_stop_leaves_nothing_to_publish_again() -> None:
    events = demo_events()
    processor, again = rebuilt(history_of(events, 0), committed=len(events))
    assert again == []
    assert all(processor.in_history(0, event) for event in events)
    # a second call finds the partition loaded and reads nothing
    assert asyncio.run(processor.ensure_loaded(0, 0, _never)) == (0, [])


async def _never(partition: int) -> list[tuple[Event, int | None]]:
    raise AssertionError("a loaded partition is not read again")


def test_events_past_the_committed_offset_are_published_again_in_history_order() -> None:
    events = demo_events()
    cut = len(events) - 6
    processor, again = rebuilt(history_of(events, 100), committed=100 + cut)

    # what a clean run publishes for the same tail, event by event
    clean = Processor(load_policy())
    expected = []
    for i, event in enumerate(events):
        outcome = clean.process(0, event)
        if i >= cut and (outcome.changed or outcome.transitions):
            expected.append(outcome)
    assert expected, "the demo's last events change scores"
    assert [o.event.id for o in again] == [o.event.id for o in expected]
    assert [o.current.to_dict() for o in again if o.changed] == [
        o.current.to_dict() for o in expected if o.changed
    ]
    assert [t.id for o in again for t in o.transitions] == [
        t.id for o in expected for t in o.transitions
    ]
    # the state is the whole history's, whatever was committed
    assert processor.published == clean.published

    # the redelivered raw messages of the tail: known ids, nothing new to publish
    for event in events[cut:]:
        assert processor.in_history(0, event)
        outcome = processor.process(0, event)
        assert outcome.duplicate
        assert not outcome.changed
        assert not outcome.transitions


def test_records_that_do_not_say_their_source_are_taken_as_published() -> None:
    events = demo_events()
    _, again = rebuilt(history_of(events, None), committed=0)
    assert again == []


def test_an_event_not_in_the_history_is_not_known() -> None:
    events = demo_events()
    processor, _ = rebuilt(history_of(events[:-1], 0), committed=len(events))
    assert not processor.in_history(0, events[-1])
    assert not processor.in_history(1, events[0])  # another partition

"""Group wait for the notify agent: batches that start when the first transition arrives.

Alertmanager's `group_wait` starts when the first alert of a new group arrives, so alerts raised
together (a stake and the CEO leaving, a burst of peer pauses) go out as one message. Faust's
`Stream.take_events(max_, within)` does not do that: its timer restarts right after each batch,
whether or not anything arrived, so the windows are periodic and a vendor's transitions that
arrive close together are split into two notifications whenever a window boundary falls between
them (for transitions 300 ms apart and a 0.5 s wait, 60% of the time).

`take_grouped` is `take_events` with that one difference: it sleeps until the first event is
buffered, and only then waits up to `within` for more. Everything else is Faust's own mechanism
(a stream processor fills the buffer while the stream is consumed passively; events are acked
only after the caller's loop body returns, so a crash re-reads the batch). It uses the same
private Stream hooks as `take_events` (`add_processor`, `_enable_passive`, `_processors`), which
is why faust-streaming is pinned below 0.16 in pyproject.toml.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from faust.types import EventT
from mode.utils.aiter import aiter
from mode.utils.futures import notify


async def take_grouped(stream: Any, max_: int, within: float) -> AsyncIterator[Sequence[EventT]]:
    """Yield lists of at most `max_` events: everything that arrived within `within` seconds of
    the first one (or fewer, if `max_` came first). Acks a batch once the loop body is done."""
    events: list[EventT] = []
    started = asyncio.Event()  # set by the first event of a batch
    full = asyncio.Event()
    consumed = asyncio.Event()
    consuming: asyncio.Future[None] | None = None
    enable_acks: bool = stream.enable_acks

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        try:
            if consuming is not None:  # the caller is processing a batch: wait for it
                try:
                    await consuming
                finally:
                    consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("group buffer found current_event is None")
            events.append(event)
            started.set()
            if len(events) >= max_:
                full.set()
                consumed.clear()
                await stream.wait(consumed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # same contract as take_events: crash the stream loudly
            stream.log.exception("Error adding to group buffer: %r", exc)
            await stream.crash(exc)
        return value

    stream.enable_acks = False  # acked below, after the caller has handled the batch
    stream.add_processor(add_to_buffer)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(started)  # idle until something arrives
            await stream.wait_for_stopped(full, timeout=within)  # then the group wait
            if not events:
                continue
            consuming = asyncio.get_running_loop().create_future()
            try:
                yield list(events)
            finally:
                for event in events:
                    await stream.ack(event)
                events.clear()
                started.clear()
                full.clear()
                notify(consuming)
                consumed.set()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)

"""A cheaper per-message hand-off from Faust's consumer to its streams.

Faust's fetch loop hands every message to the streams with
``await consumer.wait_first(callback(message), consumer.suspend_flow.wait())``: the callback puts
the message in each subscribed stream's queue, and the race against ``suspend_flow`` lets a
rebalance interrupt a put that is blocked on a full queue. mode's ``Service.wait_first`` runs
each argument, and the service's own stopped and crashed flags, as four asyncio tasks, then
waits for the first. For a message whose put does not block, which is nearly every message, that
is four task creations, an ``asyncio.wait`` and three cancellations around a call that needed
none of them: profiled on the worker it was the largest single cost per message, ahead of
validation and scoring (benchmarks/README.md, "Pipeline").

`install()` gives Faust's consumer a ``wait_first`` that first runs the callback up to its first
suspension, in the caller's task. When it completes there (the put did not block), the result
is returned as mode's would have returned it, with no task created. When it suspends (a full
queue, flow control, a busy producer), the partly run callback is handed to mode's
``wait_first`` as an awaitable that resumes it, so from then on it races ``suspend_flow`` and the
service's flags exactly as before. The fast path is taken only while the flow is running and the
consumer is neither stopped nor crashed: in every other state mode's own code runs unchanged.

Measured with the alert latency benchmark (1,000 events/s, same machine, back to back): the
worker's CPU per event went from 0.80-0.85 ms to 0.57-0.59 ms. A bare Faust agent loop spends
108 instead of 205 µs per message (pipeline_bench.py, rows (b) and (b')).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

from mode.services import WaitResults

_STOCK_WAIT_FIRST: Any = None


class _Resumed:
    """Awaitable continuation of a coroutine already run to its first suspension.

    Awaiting it does what ``await coro`` would have done from that point: the future the
    coroutine is waiting on goes up to the awaiting task, and whatever the task sends or throws
    back goes down into the coroutine.
    """

    __slots__ = ("_coro", "_waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, step = self._coro, self._waiting_on
        while True:
            try:
                sent = yield step
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation included: the coroutine handles it
                try:
                    step = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    step = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


def _close(awaitables: tuple[Any, ...]) -> None:
    """Close coroutines that will never be awaited (no "never awaited" warnings)."""
    for awaitable in awaitables:
        if asyncio.iscoroutine(awaitable):
            awaitable.close()


async def _wait_first(
    self: Any,
    *coros: Any,
    timeout: Any = None,  # noqa: ASYNC109 (mode's signature)
) -> Any:
    """mode's ``Service.wait_first`` with a fast path for a first argument that never suspends."""
    if (
        len(coros) > 1
        and timeout is None
        and asyncio.iscoroutine(coros[0])
        and not self.suspend_flow.is_set()
        and not self._stopped.is_set()
        and not self._crashed.is_set()
    ):
        first = coros[0]
        try:
            waiting_on = first.send(None)
        except StopIteration as stop:
            _close(coros[1:])
            # Still yield to the loop once per message (mode's path yields several times):
            # without it the fetch loop queued up to 100 messages before an agent ran, and the
            # worker fell behind at 1,000 events/s although it spent less CPU per event.
            await asyncio.sleep(0)
            return WaitResults([first], [stop.value], False)
        except BaseException:
            _close(coros[1:])
            raise
        coros = (_Resumed(first, waiting_on), *coros[1:])
    return await _STOCK_WAIT_FIRST(self, *coros, timeout=timeout)


def install() -> None:
    """Give Faust's consumer the fast hand-off. Idempotent; call before the app starts."""
    global _STOCK_WAIT_FIRST
    from faust.transport.consumer import Consumer

    if _STOCK_WAIT_FIRST is not None:
        return
    _STOCK_WAIT_FIRST = Consumer.wait_first
    Consumer.wait_first = _wait_first  # type: ignore[method-assign]


def installed() -> bool:
    """Whether `install` has run in this process (the benchmarks report it)."""
    return _STOCK_WAIT_FIRST is not None

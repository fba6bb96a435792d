"""The consumer hand-off fast path (streams/worker/faust_handoff.py) on a real mode Service.

The hand-off must behave like mode's ``wait_first`` in every case the fetch loop meets: a put
that completes at once, a put that blocks and completes later, a put still blocked when the flow
is suspended (rebalance), a failing callback, and cancellation of the fetch loop itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from mode import Service

from vendorwatch.streams.worker import faust_handoff


class _Flow(Service):
    """A mode service with the one attribute the hand-off reads besides mode's own flags."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()


@pytest.fixture(autouse=True)
def _installed() -> None:
    faust_handoff.install()


def test_install_replaces_the_consumer_wait_first_once() -> None:
    faust_handoff.install()
    assert faust_handoff.installed()
    assert Consumer.wait_first is faust_handoff._wait_first


async def _wait_first(service: _Flow, *coros: Any) -> Any:
    return await faust_handoff._wait_first(service, *coros)


def test_a_callback_that_does_not_suspend_runs_in_the_callers_task() -> None:
    async def main() -> None:
        service = _Flow()
        ran_in: list[asyncio.Task[Any] | None] = []

        async def put() -> str:
            ran_in.append(asyncio.current_task())
            return "put"

        before = len(asyncio.all_tasks())
        suspended = service.suspend_flow.wait()
        result = await _wait_first(service, put(), suspended)
        assert result.results == ["put"]
        assert not result.stopped
        assert ran_in == [asyncio.current_task()]
        assert len(asyncio.all_tasks()) == before
        assert suspended.cr_frame is None  # closed, so it will not warn "never awaited"

    asyncio.run(main())


def test_a_callback_blocked_on_a_full_queue_completes_when_it_drains() -> None:
    async def main() -> None:
        service = _Flow()
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        queue.put_nowait(1)

        async def put() -> str:
            await queue.put(2)  # blocks: the queue is full
            return "put after waiting"

        async def drain() -> None:
            await asyncio.sleep(0.01)
            assert queue.get_nowait() == 1

        drainer = asyncio.ensure_future(drain())
        result = await _wait_first(service, put(), service.suspend_flow.wait())
        await drainer
        assert result.results == ["put after waiting"]
        assert queue.get_nowait() == 2

    asyncio.run(main())


def test_suspending_the_flow_interrupts_a_blocked_callback_as_mode_does() -> None:
    async def main() -> None:
        service = _Flow()
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        queue.put_nowait(1)
        cleaned_up = asyncio.Event()

        async def put() -> None:
            try:
                await queue.put(2)
            finally:
                cleaned_up.set()

        async def suspend() -> None:
            await asyncio.sleep(0.01)
            service.suspend_flow.set()

        suspender = asyncio.ensure_future(suspend())
        result = await _wait_first(service, put(), service.suspend_flow.wait())
        await suspender
        assert result.results == [True]  # the suspend_flow.wait() won the race
        await asyncio.wait_for(cleaned_up.wait(), 1)  # the blocked put was cancelled
        assert queue.qsize() == 1

    asyncio.run(main())


def test_while_the_flow_is_suspended_mode_runs_unchanged() -> None:
    async def main() -> None:
        service = _Flow()
        service.suspend_flow.set()
        ran_in: list[asyncio.Task[Any] | None] = []

        async def put() -> None:
            ran_in.append(asyncio.current_task())

        await _wait_first(service, put(), service.suspend_flow.wait())
        assert ran_in != [asyncio.current_task()]  # mode ran it in a task of its own

    asyncio.run(main())


@pytest.mark.parametrize("suspends", [False, True])
def test_a_failing_callback_raises_to_the_fetch_loop(suspends: bool) -> None:
    async def main() -> None:
        service = _Flow()

        async def put() -> None:
            if suspends:
                await asyncio.sleep(0.001)
            raise ValueError("decode failed")

        with pytest.raises(ValueError, match="decode failed"):
            await _wait_first(service, put(), service.suspend_flow.wait())

    asyncio.run(main())


def test_cancelling_the_fetch_loop_cancels_a_blocked_callback() -> None:
    async def main() -> None:
        service = _Flow()
        cancelled = asyncio.Event()

        async def put() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        loop_task = asyncio.ensure_future(_wait_first(service, put(), service.suspend_flow.wait()))
        await asyncio.sleep(0.01)
        loop_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop_task
        await asyncio.wait_for(cancelled.wait(), 1)

    asyncio.run(main())


def test_values_sent_into_a_resumed_callback_reach_it() -> None:
    async def main() -> None:
        service = _Flow()
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def put() -> str:
            return "got " + await future

        asyncio.get_running_loop().call_later(0.01, future.set_result, "value")
        result = await _wait_first(service, put(), service.suspend_flow.wait())
        assert result.results == ["got value"]

    asyncio.run(main())

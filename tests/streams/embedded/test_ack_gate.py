"""The gate between the journal mirror and the acks it holds back, across event loops."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiokafka import TopicPartition

from vendorwatch.streams.embedded import ack_gate
from vendorwatch.streams.embedded.ack_gate import AckGate, GateClosedError
from vendorwatch.streams.kafka_io import durability

RAW = TopicPartition("raw", 0)


def test_a_wait_returns_once_the_journal_reaches_its_end() -> None:
    gate = AckGate(["raw"])

    async def scenario() -> list[str]:
        seen: list[str] = []

        async def ack(end: int) -> None:
            await gate.wait("raw", 0, end)
            seen.append(f"ack {end}")

        tasks = [asyncio.create_task(ack(3)), asyncio.create_task(ack(5))]
        await asyncio.sleep(0.01)
        assert seen == []
        gate.advance({RAW: 4})
        await asyncio.sleep(0.01)
        assert seen == ["ack 3"]
        gate.advance({RAW: 5})
        await asyncio.gather(*tasks)
        return seen

    assert asyncio.run(scenario()) == ["ack 3", "ack 5"]
    assert gate.durable("raw", 0) == 5
    assert gate.pending() == 0


def test_positions_never_go_back_and_other_topics_pass() -> None:
    gate = AckGate(["raw"])
    gate.advance({RAW: 10})
    gate.advance({RAW: 4})
    assert gate.durable("raw", 0) == 10

    async def scenario() -> None:
        await asyncio.wait_for(gate.wait("raw", 0, 10), 1)
        await asyncio.wait_for(gate.wait("vendorwatch.scores", 0, 1_000), 1)

    asyncio.run(scenario())


def test_the_mirror_on_another_thread_wakes_a_waiter_on_its_own_loop() -> None:
    gate = AckGate(["raw"])
    waiting = threading.Event()

    def mirror() -> None:
        waiting.wait(5)
        gate.advance({RAW: 1})

    async def scenario() -> None:
        task = asyncio.create_task(gate.wait("raw", 0, 1))
        await asyncio.sleep(0.01)
        waiting.set()
        await asyncio.wait_for(task, 5)

    thread = threading.Thread(target=mirror)
    thread.start()
    asyncio.run(scenario())
    thread.join(5)


def test_a_stopped_journal_fails_the_waiters_instead_of_acknowledging() -> None:
    gate = AckGate(["raw"])

    async def scenario() -> None:
        task = asyncio.create_task(gate.wait("raw", 0, 1))
        await asyncio.sleep(0.01)
        gate.close(OSError("disk full"))
        with pytest.raises(GateClosedError, match="disk full"):
            await task
        with pytest.raises(GateClosedError):
            await gate.wait("raw", 0, 2)
        gate.reopen()
        gate.advance({RAW: 2})
        await gate.wait("raw", 0, 2)

    asyncio.run(scenario())


def test_install_routes_wait_durable_to_the_gate() -> None:
    gate = AckGate(["raw"])

    async def scenario() -> None:
        task = asyncio.create_task(durability.wait_durable("raw", 0, 0))  # offset 0: end 1
        await asyncio.sleep(0.01)
        assert not task.done()
        gate.advance({RAW: 1})
        await asyncio.wait_for(task, 1)

    ack_gate.install(gate)
    try:
        assert ack_gate.installed() is gate
        asyncio.run(scenario())
    finally:
        ack_gate.install(None)
    asyncio.run(asyncio.wait_for(durability.wait_durable("raw", 0, 99), 1))  # no gate: at once

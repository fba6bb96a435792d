"""The file-backed delivery ledger survives restarts, torn writes and old entries."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from tests.alerts.delivery_helpers import run
from vendorwatch.alerts.ledger import FileDeliveryLedger, InMemoryDeliveryLedger


def test_in_memory_ledger() -> None:
    ledger = InMemoryDeliveryLedger()
    assert not run(ledger.seen("k", "slack"))
    run(ledger.record("k", "slack"))
    assert run(ledger.seen("k", "slack"))
    assert not run(ledger.seen("k", "webhook"))


def test_records_survive_a_restart(tmp_path: Path) -> None:
    first = FileDeliveryLedger(tmp_path)
    run(first.record("ntf-1", "slack"))
    run(first.record("ntf-1", "slack"))  # idempotent: one line
    run(first.record("ntf-2", "webhook"))
    first.close()
    lines = (tmp_path / FileDeliveryLedger.FILENAME).read_bytes().splitlines()
    assert len(lines) == 2
    second = FileDeliveryLedger(tmp_path)
    assert run(second.seen("ntf-1", "slack"))
    assert run(second.seen("ntf-2", "webhook"))
    assert not run(second.seen("ntf-2", "slack"))


def test_a_torn_last_line_is_dropped_and_later_appends_stay_readable(tmp_path: Path) -> None:
    ledger = FileDeliveryLedger(tmp_path)
    run(ledger.record("ntf-1", "slack"))
    ledger.close()
    path = tmp_path / FileDeliveryLedger.FILENAME
    with path.open("ab") as fh:
        fh.write(b'{"k":"ntf-2","s')  # kill -9 mid-write
    reopened = FileDeliveryLedger(tmp_path)
    run(reopened.record("ntf-3", "slack"))
    reopened.close()
    again = FileDeliveryLedger(tmp_path)
    assert run(again.seen("ntf-1", "slack"))
    assert run(again.seen("ntf-3", "slack"))
    assert not run(again.seen("ntf-2", "slack"))


def test_entries_past_retention_are_compacted_away(tmp_path: Path) -> None:
    now = [1_000_000.0]
    ledger = FileDeliveryLedger(tmp_path, wall_clock=lambda: now[0])
    run(ledger.record("old", "slack"))
    now[0] += 40 * 86400
    run(ledger.record("new", "slack"))
    ledger.close()
    fresh = FileDeliveryLedger(tmp_path, retention_s=30 * 86400, wall_clock=lambda: now[0])
    assert not run(fresh.seen("old", "slack"))
    assert run(fresh.seen("new", "slack"))
    lines = (tmp_path / FileDeliveryLedger.FILENAME).read_bytes().splitlines()
    assert [orjson.loads(line)["k"] for line in lines] == ["new"]


def test_concurrent_records_are_all_written(tmp_path: Path) -> None:
    ledger = FileDeliveryLedger(tmp_path, fsync=False)

    async def scenario() -> None:
        await asyncio.gather(*(ledger.record(f"k{i}", "slack") for i in range(200)))

    run(scenario())
    ledger.close()
    assert len(FileDeliveryLedger(tmp_path)) == 200

"""Feeds tests run with the network disabled: every connector reads recorded fixtures, and the
extractor must need no download (pytest-socket makes any socket an error)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trafilatura  # noqa: F401  (imported here: urllib3 probes IPv6 with a socket on import)
from pytest_socket import disable_socket, enable_socket

from vendorwatch.feeds.gazetteer import Gazetteer, read_registry
from vendorwatch.streams.core.policy import load_policy

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = FIXTURES / "seeds"
FETCHED = datetime(2025, 7, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=False)
    try:
        yield
    finally:
        enable_socket()


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    """The default policy's names and the seed registry (the demo's vendors + one alias)."""
    return Gazetteer(load_policy(), read_registry(SEEDS / "vendors.jsonl"))

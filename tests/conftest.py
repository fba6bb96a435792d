"""Fixtures every test suite may use. Keep this small: suite-specific fixtures live with the tests.

* ``require_tool(name)``: an external tool (kcat, promtool, alertmanager, ...) or skip — but in
  CI (``VENDORWATCH_REQUIRE_TOOLS=1``) a missing tool fails the test instead, so a broken install
  step cannot hide behind a green run of skipped tests.
* ``tansu``: one embedded broker for the whole session (real broker, no mocks).
* ``unique_topic``: topic names no other test uses, so tests can share the broker.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator

import pytest

from vendorwatch.streams.embedded.broker import BrokerError, EmbeddedBroker, find_tansu_binary

REQUIRE_TOOLS_ENV = "VENDORWATCH_REQUIRE_TOOLS"


def tools_required() -> bool:
    """True in CI: missing tools are failures, not skips."""
    return os.environ.get(REQUIRE_TOOLS_ENV, "").strip().lower() in {"1", "true", "yes"}


def require_tool(name: str) -> str:
    """Return the path of executable ``name``; skip the test without it (fail in CI)."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name!r} is not installed (on PATH)"
    if tools_required():
        pytest.fail(f"{message} and {REQUIRE_TOOLS_ENV}=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def tansu() -> Iterator[EmbeddedBroker]:
    """A Tansu broker on a free loopback port, shared by the session; stopped at the end.

    Tests must not rely on it being empty: make topics with ``unique_topic``.
    """
    try:
        find_tansu_binary()
    except BrokerError as exc:
        if tools_required():
            pytest.fail(f"Tansu broker binary missing: {exc}", pytrace=False)
        pytest.skip(f"Tansu broker binary missing: {exc}")
    with EmbeddedBroker(handle_sigterm=False) as broker:
        yield broker


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Make topic names unique to the test: ``unique_topic("ev")`` -> ``t.<test>.ev.<random>``."""
    test = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:80]

    def make(suffix: str = "t") -> str:
        return f"t.{test}.{suffix}.{uuid.uuid4().hex[:8]}"

    return make

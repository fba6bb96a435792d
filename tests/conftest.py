"""Fixtures every test suite may use. Keep this small: suite-specific fixtures live with the tests.

* ``require_tool(name)``: an external tool (kcat, promtool, alertmanager, ...) or skip — but in
  CI (``VENDORWATCH_REQUIRE_TOOLS=1``) a missing tool fails the test instead, so a broken install
  step cannot hide behind a green run of skipped tests.
* ``tansu``: one embedded broker for the whole session (real broker, no mocks).
* ``unique_topic``: topic names no other test uses, so tests can share the broker.

The suite runs in parallel (`make test`: pytest-xdist, ``--dist loadgroup``). A collection
hook here makes that work for any test, new ones included:

* units of work: a module's tests run in one process (an ``xdist_group`` named after the
  module), so a fixture the module shares (a broker or a worker) starts once, not once per
  process, and the processes are handed a hundred modules rather than eight hundred tests one
  by one; a test marked ``slow`` is a unit of its own (unless it shares a module fixture), so
  the slow ones spread over the processes;
* the order of work: units with a ``slow`` test first, then the other integration tests, then
  the rest, so the longest tests start at once and the short ones fill in around them instead
  of a long test starting last and running alone.

Each xdist process has its own session fixtures (``tansu``, ``demo_worker``): every server a
test starts picks a free loopback port, never a fixed one.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.examples import HYPOTHESIS_DEFAULT, QUICK, examples
from vendorwatch.streams.embedded.broker import BrokerError, EmbeddedBroker, find_tansu_binary

REQUIRE_TOOLS_ENV = "VENDORWATCH_REQUIRE_TOOLS"

if QUICK:  # `make check` (tests/examples.py); loaded before any test module builds its settings
    settings.register_profile("quick", max_examples=examples(HYPOTHESIS_DEFAULT))
    settings.load_profile("quick")


def _uses_a_module_fixture(item: pytest.Item) -> bool:
    """Whether ``item`` uses a module-scoped fixture (directly or through another fixture)."""
    info = getattr(item, "_fixtureinfo", None)  # pytest keeps the resolved fixtures here
    if info is None:
        return False
    return any(
        definition.scope == "module"
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def _work_order(item: pytest.Item) -> tuple[int, float]:
    """``slow`` tests first, then the other integration tests, then the rest; within each, a
    test that allows itself a longer ``timeout`` is expected to run longer, so it goes first."""
    timeout = item.get_closest_marker("timeout")
    allowed = -float(timeout.args[0]) if timeout is not None and timeout.args else 0.0
    if item.get_closest_marker("slow") is not None:
        return (0, allowed)
    if item.path.resolve().is_relative_to(INTEGRATION_DIR):
        return (1, allowed)
    return (2, allowed)


def _group_of(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def _unit_of_work(item: pytest.Item) -> str:
    """The xdist group ``item`` runs in: its own for a ``slow`` test (so the slow ones spread
    over the processes), its module's for any other (or one that shares a module fixture)."""
    if item.get_closest_marker("slow") is not None and not _uses_a_module_fixture(item):
        return item.nodeid
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put every test in a unit of work, and the longest units first (see the module
    docstring). A unit moves as one (its most urgent test decides), and the sort is stable, so
    a module's fixture is still set up once when the suite runs in a single process."""
    for item in items:
        if _group_of(item) is None:
            item.add_marker(pytest.mark.xdist_group(_unit_of_work(item)))
    unit_order: dict[str, tuple[int, float]] = {}
    for item in items:
        group = _group_of(item)
        assert group is not None
        unit_order[group] = min(unit_order.get(group, (2, 0.0)), _work_order(item))
    items.sort(key=lambda item: unit_order[str(_group_of(item))])


def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Under `--dist loadgroup`, stop at once if the units of work above do not reach xdist.

    A worker tells the scheduler each test's group by appending ``@group`` to the test's id;
    pytest 9.2 drops that (pytest-xdist#1386), and then every test is scheduled alone: a
    module's shared broker or worker starts in several processes and the suite runs minutes
    longer with nothing failing. pyproject.toml pins pytest below 9.2; this says so if the pin
    is lost. Every test gets a group here, so every id must carry one.
    """
    if node.config.getvalue("dist") != "loadgroup":
        return
    lost = [i for i in ids if "@" not in i]
    if lost:
        pytest.exit(
            f"pytest-xdist lost the xdist_group of {len(lost)} test(s), e.g. {lost[0]}: this "
            "pytest drops it (pytest-xdist#1386); install the pytest pyproject.toml pins",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


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
def no_vendorwatch_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``VENDORWATCH_*`` variable of the developer's or CI's reaches the test: settings and
    command-line tests set what they mean to test."""
    for name in list(os.environ):
        if name.startswith("VENDORWATCH_"):
            monkeypatch.delenv(name)


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Make topic names unique to the test: ``unique_topic("ev")`` -> ``t.<test>.ev.<random>``."""
    test = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:80]

    def make(suffix: str = "t") -> str:
        return f"t.{test}.{suffix}.{uuid.uuid4().hex[:8]}"

    return make

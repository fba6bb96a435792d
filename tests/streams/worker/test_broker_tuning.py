"""The worker's Faust app follows the broker profile: group timing and replicas as `faust.App`
options, the fetch wait and producer idempotence through `faust_compat.tune_app`; its name is
unique per host and port; Faust's own router and table endpoints are off."""

from __future__ import annotations

import asyncio
import socket

import faust
import pytest

from vendorwatch.streams.settings import load_settings
from vendorwatch.streams.worker.app import broker_settings, default_worker_name
from vendorwatch.streams.worker.faust_compat import (
    ClientTuning,
    app_tuning,
    apply_faust_workarounds,
    tune_app,
)

pytestmark = pytest.mark.usefixtures("no_vendorwatch_environment")


def test_the_worker_name_is_the_hostname_and_port() -> None:
    assert default_worker_name(6066) == f"{socket.gethostname()}:6066"
    assert default_worker_name(6066) != default_worker_name(6067)


def test_faust_options_follow_the_kafka_profile() -> None:
    options = broker_settings(load_settings(bootstrap_servers="kafka:9092"))
    assert options["broker_session_timeout"] == 45.0
    assert options["broker_rebalance_timeout"] == 60.0
    assert options["broker_heartbeat_interval"] == 3.0
    assert options["topic_replication_factor"] == 3
    assert options["processing_guarantee"] == "at_least_once"


def test_faust_options_follow_the_embedded_profile() -> None:
    options = broker_settings(load_settings(embedded=True))
    assert options["broker_session_timeout"] == 6.0
    assert options["broker_rebalance_timeout"] == 3.0
    assert options["topic_replication_factor"] == 1


def _app(name: str) -> faust.App:
    return faust.App(name, broker="kafka://127.0.0.1:9", store="memory://", autodiscover=False)


def test_an_app_without_tuning_gets_the_embedded_brokers_fetch_wait() -> None:
    assert app_tuning(_app("untuned")) == ClientTuning(40, False)


def test_an_idempotent_app_builds_an_idempotent_producer() -> None:
    apply_faust_workarounds()
    tuned, plain = _app("idempotent"), _app("plain")
    tune_app(tuned, ClientTuning(fetch_max_wait_ms=500, producer_idempotence=True))
    tune_app(plain, ClientTuning(fetch_max_wait_ms=40, producer_idempotence=False))

    async def build() -> tuple[bool, bool]:
        # the aiokafka producers Faust would start (nothing connects before start())
        with_idempotence = tuned.producer._new_producer()
        without = plain.producer._new_producer()
        return with_idempotence._txn_manager is not None, without._txn_manager is not None

    assert asyncio.run(build()) == (True, False)


def test_the_worker_app_serves_no_faust_router_or_tables(tmp_path: object) -> None:
    from vendorwatch.streams.core.policy import load_policy
    from vendorwatch.streams.worker.app import create_pipeline

    settings = load_settings(
        bootstrap_servers="127.0.0.1:9", data_dir=tmp_path, web_port=6099, worker_id="unit"
    )
    app = create_pipeline(settings, load_policy(None), "127.0.0.1:9").app
    assert app.conf.web_router_enabled is False
    assert app.conf.web_tables_enabled is False
    assert app_tuning(app) == ClientTuning(fetch_max_wait_ms=500, producer_idempotence=True)

"""Which broker a worker uses, and the knobs that depend on it: explicit embedded mode, broker
profiles (Apache Kafka's defaults, the embedded broker's), overrides and their validation."""

from __future__ import annotations

import pytest

from vendorwatch.streams.settings import (
    BROKER_PROFILES,
    SettingsError,
    load_settings,
)

pytestmark = pytest.mark.usefixtures("no_vendorwatch_environment")


def test_nothing_configured_is_neither_kafka_nor_embedded() -> None:
    settings = load_settings()
    assert settings.bootstrap_servers is None
    assert settings.embedded is False


def test_kafka_defaults_suit_apache_kafka() -> None:
    tuning = load_settings(bootstrap_servers="kafka:9092").tuning
    assert tuning == BROKER_PROFILES["kafka"]
    assert tuning.session_timeout_seconds == 45.0
    assert tuning.fetch_max_wait_ms == 500
    assert tuning.replication_factor == 3
    assert tuning.producer_idempotence is True


def test_embedded_mode_sets_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDORWATCH_EMBEDDED", "1")
    settings = load_settings()
    assert settings.embedded is True
    assert settings.tuning == BROKER_PROFILES["tansu"]
    assert settings.tuning.replication_factor == 1
    assert settings.tuning.producer_idempotence is False
    assert settings.tuning.fetch_max_wait_ms == 40


def test_a_profile_names_the_broker_behind_bootstrap_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker on a `vendorwatch broker` elsewhere is not embedded but talks to Tansu."""
    monkeypatch.setenv("VENDORWATCH_BROKER_PROFILE", "tansu")
    settings = load_settings(bootstrap_servers="127.0.0.1:9092")
    assert settings.embedded is False
    assert settings.tuning == BROKER_PROFILES["tansu"]


def test_each_knob_overrides_its_profile_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDORWATCH_SESSION_TIMEOUT_SECONDS", "30")
    monkeypatch.setenv("VENDORWATCH_REBALANCE_TIMEOUT_SECONDS", "90")
    monkeypatch.setenv("VENDORWATCH_HEARTBEAT_INTERVAL_SECONDS", "2.5")
    monkeypatch.setenv("VENDORWATCH_FETCH_MAX_WAIT_MS", "100")
    monkeypatch.setenv("VENDORWATCH_REPLICATION_FACTOR", "1")
    monkeypatch.setenv("VENDORWATCH_PRODUCER_IDEMPOTENCE", "false")
    tuning = load_settings(bootstrap_servers="kafka:9092").tuning
    assert tuning.session_timeout_seconds == 30.0
    assert tuning.rebalance_timeout_seconds == 90.0
    assert tuning.heartbeat_interval_seconds == 2.5
    assert tuning.fetch_max_wait_ms == 100
    assert tuning.replication_factor == 1
    assert tuning.producer_idempotence is False


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VENDORWATCH_SESSION_TIMEOUT_SECONDS", "0"),
        ("VENDORWATCH_SESSION_TIMEOUT_SECONDS", "soon"),
        ("VENDORWATCH_REBALANCE_TIMEOUT_SECONDS", "-1"),
        ("VENDORWATCH_HEARTBEAT_INTERVAL_SECONDS", "0"),
        ("VENDORWATCH_FETCH_MAX_WAIT_MS", "-5"),
        ("VENDORWATCH_FETCH_MAX_WAIT_MS", "60000"),
        ("VENDORWATCH_REPLICATION_FACTOR", "0"),
        ("VENDORWATCH_PRODUCER_IDEMPOTENCE", "perhaps"),
        ("VENDORWATCH_BROKER_PROFILE", "redpanda"),
        ("VENDORWATCH_EMBEDDED", "sometimes"),
    ],
)
def test_a_bad_knob_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_the_heartbeat_must_be_below_the_session_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDORWATCH_HEARTBEAT_INTERVAL_SECONDS", "10")
    monkeypatch.setenv("VENDORWATCH_EMBEDDED", "true")  # session 6 s
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "VENDORWATCH_HEARTBEAT_INTERVAL_SECONDS" in message
    assert "VENDORWATCH_SESSION_TIMEOUT_SECONDS" in message


def test_embedded_and_bootstrap_servers_exclude_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDORWATCH_EMBEDDED", "1")
    with pytest.raises(SettingsError, match=r"VENDORWATCH_EMBEDDED.*--embedded"):
        load_settings(bootstrap_servers="kafka:9092")


def test_the_tansu_profile_is_what_the_broker_workarounds_measured() -> None:
    """settings.py sits below kafka_io and cannot import its constants: keep the two equal."""
    from vendorwatch.streams.kafka_io import compat
    from vendorwatch.streams.worker.faust_compat import FAUST_FETCH_MAX_WAIT_MS

    tansu = BROKER_PROFILES["tansu"]
    assert tansu.session_timeout_seconds == compat.BROKER_SESSION_TIMEOUT_S
    assert tansu.rebalance_timeout_seconds == compat.BROKER_REBALANCE_TIMEOUT_S
    assert tansu.heartbeat_interval_seconds == compat.BROKER_HEARTBEAT_INTERVAL_S
    assert tansu.fetch_max_wait_ms == FAUST_FETCH_MAX_WAIT_MS
    assert tansu.producer_idempotence is compat.AIOKAFKA_PRODUCER_SETTINGS["enable_idempotence"]

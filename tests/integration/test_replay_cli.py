"""`vendorwatch replay | backtest | history | export` on a real broker holding the demo history.

The commands run as a user runs them (the installed script, a clean environment); the broker is
a Tansu of this module's own, because the topic names are fixed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .replay_helpers import (
    DEFAULT_POLICY,
    HIGHER_STAKE_POLICY,
    demo_history,
    ok_json,
    put_history,
    run_vw,
)
from .workers import fresh_broker, produce, require_tansu

pytestmark = pytest.mark.integration

DEMO_EVENTS = 25


@pytest.fixture(scope="module")
def demo_kafka() -> Iterator[str]:
    """A broker whose `vendorwatch.events` holds the demo scenario (no worker needed)."""
    require_tansu()
    with fresh_broker() as broker:
        assert put_history(broker.bootstrap_servers, demo_history()) == DEMO_EVENTS
        yield broker.bootstrap_servers


def vw(bootstrap: str, *args: str, **kwargs: Any) -> Any:
    return run_vw(*args, "--bootstrap-servers", bootstrap, **kwargs)


def by_vendor(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["vendor_id"]: item for item in items}


# --- replay --------------------------------------------------------------------------------------


SCALE_TIMED = {"key_person_to_competitor", "peer_pauses", "score_jump"}
"""Scale AI's alerts that end on time: 90 days after the move, pauses lapsing, the jump week."""


@pytest.mark.parametrize(
    ("as_of", "scale_firing"),
    [
        ("2025-06-20", SCALE_TIMED | {"competitor_stake", "score_critical"}),
        ("2025-12-31", {"competitor_stake", "score_critical"}),
    ],
)
def test_replay_json_is_score_json(
    demo_kafka: str, tmp_path: Path, as_of: str, scale_firing: set[str]
) -> None:
    """As of the same T, `replay --json` over the history and `score --json` over the same
    events as a file are equal: every score field and the alerts firing at T (both fold through
    `replay.fold` and report through `replay_items`)."""
    items = ok_json(vw(demo_kafka, "replay", "--json", "--as-of", as_of))
    demo_file = tmp_path / "demo.jsonl"
    demo_file.write_bytes(b"\n".join(demo_history()) + b"\n")
    offline = ok_json(run_vw("score", "--json", "--events", str(demo_file), "--as-of", as_of))
    assert items[0]["vendor_id"] == "scale-ai"
    assert items == offline
    scale = by_vendor(items)["scale-ai"]
    assert {a["rule"] for a in scale["alerts"]} == scale_firing
    assert all(not item["alerts"] for v, item in by_vendor(items).items() if v != "scale-ai")


def test_replay_as_of_is_what_was_known_then(demo_kafka: str) -> None:
    before = by_vendor(ok_json(vw(demo_kafka, "replay", "--json", "--as-of", "2025-06-12T13:59Z")))
    scale = before["scale-ai"]
    assert scale["severity"] not in {"high", "critical"}
    assert scale["alerts"] == []
    assert "demo-scale-ai-meta-stake" not in str(scale["contributions"])
    after = by_vendor(ok_json(vw(demo_kafka, "replay", "--json", "--as-of", "2025-06-12T14:00Z")))
    scale = after["scale-ai"]
    assert scale["as_of"] == "2025-06-12T14:00:00Z"
    assert {a["rule"] for a in scale["alerts"]} == {"competitor_stake", "score_jump"}
    # vendors whose first event is later are not known yet
    assert "handshake" in after
    assert set(after) == set(before)
    early = by_vendor(ok_json(vw(demo_kafka, "replay", "--json", "--to", "2022-12-31")))
    assert set(early) == {"appen", "handshake", "prolific", "scale-ai", "staffing-agency", "turing"}
    assert early["staffing-agency"]["event_count"] == 2


def test_replay_with_from_lists_the_alerts_inside_the_window(demo_kafka: str) -> None:
    items = ok_json(
        vw(demo_kafka, "replay", "--json", "--from", "2025-06-13", "--to", "2025-06-20")
    )
    vendors = by_vendor(items)
    # vendors without events in the window are left out; the fold still saw all history
    assert set(vendors) == {"scale-ai", "appen", "handshake", "prolific", "turing"}
    transitions = vendors["scale-ai"]["transitions"]
    assert [(t["rule"], t["status"], t["at"]) for t in transitions] == [
        ("peer_pauses", "firing", "2025-06-18T12:00:00Z")
    ]
    assert len(vendors["scale-ai"]["alerts"]) == 5  # firing at the horizon, from before too


def test_replay_of_one_vendor_and_the_human_table(demo_kafka: str) -> None:
    items = ok_json(vw(demo_kafka, "replay", "--json", "--vendor", "handshake"))
    assert [i["vendor_id"] for i in items] == ["handshake"]
    done = vw(demo_kafka, "replay", "--as-of", "2025-06-14")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "Scale AI" in out
    assert "competitor_stake" in out
    assert "alerts firing" in out
    stderr = done.stderr.decode()
    assert f"read {DEMO_EVENTS} records of {topics.EVENTS} to offsets" in stderr


# --- backtest ------------------------------------------------------------------------------------


def test_backtest_of_a_policy_against_itself_finds_no_difference(demo_kafka: str) -> None:
    report = ok_json(
        vw(
            demo_kafka,
            "backtest",
            "--policy",
            str(DEFAULT_POLICY),
            "--policy",
            str(DEFAULT_POLICY),
            "--json",
        )
    )
    assert report["differences"] == 0
    assert report["alerts_fired"] == {"A": 5, "B": 5}
    assert [f["first"] for f in report["first_alerts"]] == ["same"]
    assert report["rule_first_firing"] == {}
    assert report["severity_differences"] == []
    assert all(m["A"] == m["B"] for m in report["monthly"])
    text = vw(
        demo_kafka, "backtest", "--policy", str(DEFAULT_POLICY), "--policy", str(DEFAULT_POLICY)
    )
    assert text.returncode == 0
    assert "no differences" in text.stdout.decode()


def test_backtest_higher_stake_threshold_alerts_on_scale_ai_later(demo_kafka: str) -> None:
    args = ("backtest", "--policy", str(DEFAULT_POLICY), "--policy", str(HIGHER_STAKE_POLICY))
    report = ok_json(vw(demo_kafka, *args, "--json"))
    assert report["differences"] > 0
    (scale,) = [f for f in report["first_alerts"] if f["vendor_id"] == "scale-ai"]
    assert scale["first"] == "A"
    assert scale["a"]["rule"] == "competitor_stake"
    assert scale["a"]["at"] == "2025-06-12T14:00:00Z"
    # B's first alert is the CEO's move an hour later: 1/24 day
    assert scale["b"]["at"] == "2025-06-12T15:00:00Z"
    assert scale["days_later"] == pytest.approx(1 / 24, abs=0.01)
    rules = report["rule_first_firing"]["scale-ai"]
    assert rules["competitor_stake"]["B"] is None  # Meta's 49% is below 60%: never
    assert rules["score_critical"]["days_later"] == pytest.approx(1.875, abs=0.01)
    assert report["alerted_only_under"] == {"A": [], "B": []}
    assert report["alerts_fired"] == {"A": 5, "B": 4}
    assert report["monthly"] == [{"month": "2025-06", "A": 5, "B": 4}]
    text = vw(demo_kafka, *args)
    assert text.returncode == 0
    out = text.stdout.decode()
    assert "0.04 days later" in out
    assert "competitor_stake" in out


def test_backtest_window_counts_only_alerts_inside_it(demo_kafka: str) -> None:
    args = ("backtest", "--policy", str(DEFAULT_POLICY), "--policy", str(HIGHER_STAKE_POLICY))
    report = ok_json(vw(demo_kafka, *args, "--from", "2025-06-13", "--json"))
    assert report["alerts_fired"] == {"A": 1, "B": 2}  # peer_pauses; + B's late score_critical
    assert report["from"] == "2025-06-13T00:00:00Z"


# --- history -------------------------------------------------------------------------------------


def test_history_is_the_vendor_timeline_in_log_order(demo_kafka: str, tmp_path: Path) -> None:
    chart = tmp_path / "scale.png"
    args = ("history", "scale-ai", "--json", "--to", "2025-12-31", "--chart", str(chart))
    report = ok_json(vw(demo_kafka, *args))
    timeline = report["timeline"]
    events = [t for t in timeline if t["event"] is not None]
    assert [t["event"]["id"] for t in events] == [
        orjson.loads(line)["id"]
        for line in demo_history()
        if orjson.loads(line)["subject"] == "scale-ai"
    ]
    stake = next(t for t in events if t["event"]["id"] == "demo-scale-ai-meta-stake")
    assert stake["previous_score"] == 0.0
    assert stake["score"] > 75
    assert {t["rule"] for t in stake["transitions"]} == {"competitor_stake", "score_jump"}
    # between and after the events, time alone: alerts ending on time, decay, in their place
    timed = [t for t in timeline if t["event"] is None]
    assert all(t["caused_by"].startswith("time:") and t["offset"] is None for t in timed)
    assert [t["as_of"] for t in timeline] == sorted(t["as_of"] for t in timeline)
    ended = {r["rule"] for t in timed for r in t["transitions"] if r["status"] == "resolved"}
    assert ended >= SCALE_TIMED
    replayed = by_vendor(
        ok_json(vw(demo_kafka, "replay", "--json", "--vendor", "scale-ai", "--as-of", "2025-12-31"))
    )["scale-ai"]
    assert report["score"] == {k: v for k, v in replayed.items() if k != "alerts"}
    assert report["alerts"] == replayed["alerts"]
    png = chart.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 20_000


def test_history_table_and_unknown_vendor(demo_kafka: str) -> None:
    done = vw(demo_kafka, "history", "scale-ai")
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "ownership.stake_acquired" in out
    assert "▲ competitor_stake" in out
    missing = vw(demo_kafka, "history", "no-such-vendor")
    assert missing.returncode == 1
    assert "no events for vendor 'no-such-vendor'" in missing.stderr.decode()


def test_history_chart_without_matplotlib_says_how_to_install(
    demo_kafka: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "nompl" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked by the test')\n")
    done = vw(
        demo_kafka,
        "history",
        "scale-ai",
        "--chart",
        str(tmp_path / "x.png"),
        env={"PYTHONPATH": str(blocker.parent)},
    )
    assert done.returncode == 2
    assert "pip install 'vendorwatch[chart]'" in done.stderr.decode()
    assert not (tmp_path / "x.png").exists()


# --- misuse and bad data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("replay", "--as-of", "yesterday"), "is not an ISO-8601 date"),
        (("replay", "--from", "2025-06-14", "--to", "2025-06-12"), "is after --to"),
        (("replay", "--as-of", "2025-06-14", "--to", "2025-06-15"), "give one"),
        (("replay", "--end-offsets", "0:12"), "PARTITION=OFFSET"),
        (("backtest", "--policy", str(DEFAULT_POLICY)), "exactly twice"),
        (("history",), "Missing argument"),
        (("export", "--to", "2025-13-01"), "is not an ISO-8601 date"),
    ],
)
def test_misuse_exits_2_with_usage(demo_kafka: str, args: tuple[str, ...], message: str) -> None:
    done = vw(demo_kafka, *args)
    assert done.returncode == 2, done.stderr
    stderr = done.stderr.decode()
    assert "Usage: vendorwatch" in stderr
    assert message in stderr


def test_a_bad_policy_or_no_kafka_exits_2(demo_kafka: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("organisation: {name: X}\nseverity_bands: {low: 50, medium: 40}\n")
    done = vw(demo_kafka, "replay", "--policy", str(bad))
    assert done.returncode == 2
    assert "severity_bands" in done.stderr.decode()
    lonely = run_vw("replay", "--data-dir", str(tmp_path / "nothing-here"))
    assert lonely.returncode == 2
    assert "no Kafka configured" in lonely.stderr.decode()


def test_invalid_records_in_history_skipped_by_replay_refused_by_export(
    fresh_kafka: EmbeddedBroker,
) -> None:
    """Live skips an invalid record (and logs it); replay does the same and says so. Export
    cannot reproduce it through `ingest`, so it exits 1 naming the record."""
    bootstrap = fresh_kafka.bootstrap_servers
    put_history(bootstrap, demo_history())
    produce(bootstrap, topics.EVENTS, [b'{"not": "an event"}'], key_by_subject=False)
    done = vw(bootstrap, "replay", "--json")
    assert done.returncode == 0
    assert len(orjson.loads(done.stdout)) == 6
    assert "skipped 1 invalid record(s)" in done.stderr.decode()
    exported = vw(bootstrap, "export")
    assert exported.returncode == 1
    assert "1 record(s) of vendorwatch.events are not valid events" in exported.stderr.decode()
    assert len(exported.stdout.splitlines()) == DEMO_EVENTS

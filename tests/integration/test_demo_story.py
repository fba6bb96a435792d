"""`vendorwatch demo` tells the Scale AI story in time, as a user runs it.

The demo is run as a subprocess (`--until-scored --speed 10`, about 6 s of story) on its own
data dir, and judged by what it leaves behind: its log (`<data dir>/demo.log`, JSON lines;
`alert_transition` lines are the worker's decisions, in the order it made them) and the final
table it prints. The demo's broker lives and dies with it, so the log is the product output a
test can read after the fact. What the story must show:
- the stake pages first (`competitor_stake`, caused by the stake event), before the CEO's move;
- the CEO's move fires `key_person_to_competitor`, which resolves on its own 90 days later, on
  a clock record, with no new event; the peer pauses fire and lapse too;
- at the end the clock is at today and Scale AI still scores >= 60 on Meta's 49% (the value is
  the one the offline Processor predicts), with `competitor_stake` never resolved;
- a restart restores the history and only moves the clock: no event is sent again;
- each run ends on its own within 30 s with Scale AI critical, and its Tansu (a child process,
  watched while the demo runs) does not outlive it.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from vendorwatch.streams.cli.demo import final_scores, read_lines
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.embedded.broker import free_loopback_port
from vendorwatch.streams.kafka_io import topics

from .workers import VENDORWATCH, demo_lines, pid_alive, require_tansu, tansu_children, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPEED = "10"
SCALE_AI_CRITICAL = re.compile(r"scale-ai\s*│\s*\d+\.\d\s*│\s*critical")
SCALE_AI_ROW = re.compile(
    r"│\s*scale-ai\s*│\s*(?P<score>\d+\.\d)\s*│\s*(?P<severity>\w+)\s*│\s*(?P<as_of>\d{4}-\d\d-\d\d)"
)


def run_demo(data_dir: Path, timeout: float = 30) -> tuple[str, float, set[int]]:
    """`vendorwatch demo --until-scored --speed 10`; returns its output, its wall time and the
    Tansu pids it ran (watched while it runs). Fails unless it exits 0 within ``timeout``: the
    story is ~6 s at this speed, the rest is the broker and worker starting."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            VENDORWATCH,
            "demo",
            "--until-scored",
            "--speed",
            SPEED,
            "--data-dir",
            str(data_dir),
            "--web-port",
            str(free_loopback_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=worker_env(),
    )
    brokers: set[int] = set()
    try:
        while proc.poll() is None and time.monotonic() - started < timeout:
            brokers |= tansu_children(proc.pid)
            time.sleep(0.1)
        if proc.poll() is None:
            proc.kill()
            log = data_dir / "demo.log"
            tail = log.read_text()[-4000:] if log.exists() else "(no log)"
            pytest.fail(f"demo still running after {timeout} s\n{tail}")
    finally:
        out, err = (text.decode(errors="replace") for text in proc.communicate(timeout=10))
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, out + err
    assert "Traceback" not in out + err, out + err
    assert brokers, "no Tansu child seen: did the demo start its broker?"
    assert not any(pid_alive(pid) for pid in brokers), "Tansu outlived the demo"
    return out, elapsed, brokers


def log_lines(data_dir: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (data_dir / "demo.log").read_bytes().splitlines()]


def transitions(lines: list[dict[str, Any]], vendor: str = "scale-ai") -> list[dict[str, Any]]:
    return [
        line
        for line in lines
        if line.get("event") == "alert_transition" and line.get("vendor_id") == vendor
    ]


def journal_records(data_dir: Path, topic: str) -> int:
    return sum(
        len(path.read_bytes().splitlines()) for path in (data_dir / "journal" / topic).glob("*.log")
    )


def test_the_demo_tells_the_story_and_ends_at_today(tmp_path: Path) -> None:
    require_tansu()
    data_dir = tmp_path / "demo"
    started = time.time()
    output, elapsed, _ = run_demo(data_dir)
    assert elapsed < 30
    assert SCALE_AI_CRITICAL.search(output), output
    lines = log_lines(data_dir)

    # every scenario event sent once, along the story
    sent = sum(line["events"] for line in lines if line.get("event") == "demo_events_sent")
    assert sent == len(demo_lines())
    assert f"loaded {len(demo_lines())} scenario events" in output

    moves = transitions(lines)
    order = [(t["rule"], t["status"]) for t in moves]
    # the stake pages first, caused by the stake; the CEO's move comes after it
    first = moves[0]
    assert (first["rule"], first["status"]) == ("competitor_stake", "firing"), order
    assert first["event_id"] == "demo-scale-ai-meta-stake"
    fired = order.index(("key_person_to_competitor", "firing"))
    assert moves[fired]["event_id"] == "demo-scale-ai-wang-to-meta"
    assert fired > 0
    # ... and ends 90 days after the move, on the clock, with no new event
    ended = order.index(("key_person_to_competitor", "resolved"))
    assert ended > fired
    assert moves[ended]["event_id"] == "time:2025-09-10T15:00:00Z"
    assert ("peer_pauses", "firing") in order
    assert order.index(("peer_pauses", "resolved")) > order.index(("peer_pauses", "firing"))
    # Meta's 49% does not go away
    assert ("competitor_stake", "resolved") not in order

    # the clock is at today
    (today,) = [line for line in lines if line.get("event") == "demo_clock_at_today"]
    assert started - 5 <= today["stream_time"] <= time.time()
    assert any(line.get("event") == "demo_scenario_scored" for line in lines)
    day = time.strftime("%Y-%m-%d", time.gmtime(today["stream_time"]))
    assert f"stream time {day}" in output

    # the final table: Scale AI still high or critical, its score decayed into this year
    row = SCALE_AI_ROW.search(output)
    assert row, output
    score = float(row["score"])
    assert score >= 60, output
    assert row["severity"] in {"high", "critical"}
    assert row["as_of"] > "2026-01-01"  # republished by decay after the story's end
    expected = final_scores(load_policy(None), read_lines(demo_lines()), today["stream_time"])
    assert score == round(expected["scale-ai"], 1)
    assert "competitor_ownership" in output

    # a restart restores the history and only moves the clock
    journaled = journal_records(data_dir, topics.EVENTS)
    assert journaled == len(demo_lines())
    before = len(lines)
    again, _, _ = run_demo(data_dir)
    assert SCALE_AI_CRITICAL.search(again), again
    later = log_lines(data_dir)[before:]
    assert "history restored" in again
    assert "scenario events" not in again
    assert not [line for line in later if line.get("event") == "demo_events_sent"]
    assert journal_records(data_dir, topics.EVENTS) == journaled
    row = SCALE_AI_ROW.search(again)
    assert row, again
    assert float(row["score"]) >= 60

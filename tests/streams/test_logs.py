"""Logging set-up and log fields, without a worker (the worker-level proof is in
tests/integration/test_logs_and_secrets.py).

The interpreter's own output (uncaught tracebacks, `warnings.warn`) bypasses logging unless it is
routed there; in a JSON log those multi-line texts would be unparseable, so a real child process
checks that they come out as single JSON lines, scrubbed like everything else.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import orjson

from vendorwatch.streams.kafka_io.deadletter import MAX_LOGGED_ID_CHARS, claimed_ids, claimed_in

SECRET = "hooks-secret-value-0123456789abcdef"


def run_child(body: str) -> subprocess.CompletedProcess[bytes]:
    code = textwrap.dedent(
        f"""
        from vendorwatch.streams.logs import configure_logging, register_secret
        configure_logging("json", "info")
        register_secret({SECRET!r})
        """
    ) + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=False
    )


def json_lines(output: bytes) -> list[dict[str, object]]:
    """Every non-empty line as a JSON object (fails the test on the first that is not one)."""
    return [orjson.loads(line) for line in output.splitlines() if line.strip()]


def test_an_uncaught_exception_is_one_scrubbed_json_line_and_still_fails_the_process() -> None:
    done = run_child(f"raise RuntimeError('cannot reach ' + {SECRET!r})")
    assert done.returncode == 1
    assert done.stdout == b""
    (record,) = json_lines(done.stderr)
    assert record["event"] == "uncaught_exception"
    assert record["level"] == "critical"
    assert "RuntimeError: cannot reach [REDACTED]" in str(record["exception"])
    assert SECRET.encode() not in done.stderr


def test_thread_crashes_and_warnings_are_json_lines() -> None:
    done = run_child(
        """
        import threading, warnings
        warnings.warn("old API")
        thread = threading.Thread(target=lambda: 1 / 0, name="sender")
        thread.start()
        thread.join()
        """
    )
    assert done.returncode == 0, done.stderr
    records = json_lines(done.stderr)
    assert [r["event"] for r in records][-1] == "uncaught_exception_in_thread"
    assert records[-1]["thread"] == "sender"
    assert "ZeroDivisionError" in str(records[-1]["exception"])
    assert any("UserWarning: old API" in str(r["event"]) for r in records)


def test_rejected_input_names_the_event_and_vendor_it_claims() -> None:
    bad = orjson.dumps({"id": "evt-1", "subject": "scale-ai", "type": "nope"})
    assert claimed_ids(bad, b"other-key") == {"event_id": "evt-1", "vendor_id": "scale-ai"}


def test_garbage_falls_back_to_the_kafka_key_for_the_vendor() -> None:
    assert claimed_ids(b"{not json", b"scale-ai") == {"vendor_id": "scale-ai"}
    assert claimed_ids(b"{not json", b"\xff\xfe") == {}
    assert claimed_ids(b"{not json", None) == {}
    assert claimed_ids(None, None) == {}
    assert claimed_ids(b"[1, 2]", None) == {}


def test_claimed_ids_are_short_printable_strings_only() -> None:
    long_id = "x" * (MAX_LOGGED_ID_CHARS + 50)
    claimed = claimed_in({"id": long_id, "subject": "line\nbreak\x1b[31m"})
    assert claimed["event_id"] == "x" * MAX_LOGGED_ID_CHARS + "…"
    assert claimed["vendor_id"] == "line?break?[31m"
    assert claimed_in({"id": 42, "subject": ["a"]}) == {}
    assert claimed_in("evt-1") == {}


def test_own_and_library_lines_share_the_stream_and_follow_a_reconfiguration() -> None:
    done = run_child(
        """
        import io, logging, sys
        import structlog
        log = structlog.get_logger("vendorwatch.test")
        log.info("first", vendor_id="v1")
        log.debug("hidden")
        logging.getLogger("aiokafka").warning("library line")
        later = io.StringIO()
        configure_logging("json", "warning", stream=later)
        log.info("dropped below warning")
        log.warning("second", vendor_id="v2")
        from vendorwatch.streams.logs import enabled
        print(enabled(logging.INFO), enabled(logging.WARNING))
        configure_logging("json", "debug", stream=later)
        print(enabled(logging.DEBUG))
        sys.stderr.write(later.getvalue())
        """
    )
    assert done.returncode == 0, done.stderr
    # `enabled` follows the configured level (the hot paths' guard before building a line)
    assert done.stdout.split() == [b"False", b"True", b"True"]
    records = json_lines(done.stderr)
    assert [(r["event"], r["logger"], r["level"]) for r in records] == [
        ("first", "vendorwatch.test", "info"),
        ("library line", "aiokafka", "warning"),
        ("second", "vendorwatch.test", "warning"),
    ]

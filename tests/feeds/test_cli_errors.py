"""Every error a user can cause with `vendorwatch feeds ...`: a missing path, an unreadable
file, a bad option value, a bad review decision, a broker that is not there. Each is one line
on stderr (or click's usage block for a bad flag), exit 2 for misuse, unreadable paths and
unreachable services, 1 for bad data, never a traceback.

The entry point (`main`) runs in-process, as the console script does, except where a test
needs a process of its own: an unreadable file (as root, the process gives up the capability to
read any file) and the broker (a socket, which the feeds tests otherwise forbid).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from tests.feeds.conftest import SEEDS
from vendorwatch.streams.cli.main import main
from vendorwatch.streams.embedded.broker import free_loopback_port

SEED_004 = SEEDS / "004_c5024c2e11454a9d.txt"
VENDORS = SEEDS / "vendors.jsonl"
VENDORWATCH = str(Path(sys.executable).with_name("vendorwatch"))


@pytest.fixture(autouse=True)
def clean_environment(
    no_vendorwatch_environment: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VENDORWATCH_DATA_DIR", str(tmp_path / "data"))  # no embedded.json
    monkeypatch.chdir(tmp_path)  # `feeds run`'s default state directory lands here


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str | Path
) -> tuple[int, str, str]:
    """`vendorwatch feeds ARGV...` through the entry point: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["vendorwatch", "feeds", *map(str, argv)])
    code: int | str | None = 0
    try:
        main()
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    return (code if isinstance(code, int) else (0 if code is None else 1)), out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def usage_error(err: str) -> str:
    """Click's usage block, its message joined into one string (the box wraps long lines)."""
    assert "Usage: vendorwatch feeds" in err, err
    assert "Traceback" not in err
    return " ".join(err.replace("│", " ").split())


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The candidates of seed 004 (nine, all pending), as `feeds extract --out` writes them."""
    from typer.testing import CliRunner

    from vendorwatch.streams.cli import feeds as _registers_feeds  # noqa: F401
    from vendorwatch.streams.cli.common import app

    out = tmp_path_factory.mktemp("extracted") / "candidates.jsonl"
    result = CliRunner().invoke(
        app, ["feeds", "extract", str(SEED_004), "--vendors", str(VENDORS), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes()


@pytest.fixture
def candidates(tmp_path: Path, extracted: bytes) -> Path:
    path = tmp_path / "candidates.jsonl"
    path.write_bytes(extracted)
    return path


def ids(candidates: Path) -> list[str]:
    return [orjson.loads(line)["id"] for line in candidates.read_bytes().splitlines()]


def folder_config(tmp_path: Path, folder: Path) -> Path:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        yaml.safe_dump({"user_agent": "t", "sources": [{"kind": "folder", "path": str(folder)}]}),
        encoding="utf-8",
    )
    return config


# --- missing and unwritable paths ------------------------------------------------------------


def test_missing_paths_exit_2_naming_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "[red]missing"  # brackets: shown as written, never read as markup
    for argv, said in [
        (("extract", missing), f"no such file or folder: {missing}"),
        (("extract", SEED_004, "--vendors", missing), f"no such vendors file: {missing}"),
        (("extract", SEED_004, "--policy", missing), f"{missing}"),
        (("review", missing), f"no such file: {missing}"),
        (("run", "--config", missing, "--once"), f"{missing}: No such file or directory"),
    ]:
        code, _, err = run(monkeypatch, capsys, *argv)
        assert code == 2, (argv, err)
        assert said in one_error_line(err), argv


def test_a_configured_folder_that_is_missing_is_one_error_line_of_the_poll(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "articles"
    config = folder_config(tmp_path, missing)
    code, out, err = run(monkeypatch, capsys, "run", "--config", config, "--once")
    # one poll (--once) that could not read a source says so with exit 1; a running poller
    # reports it the same way and reads the folder again at the next poll
    assert code == 1
    assert err.strip() == f"{missing}: no such folder"
    assert "1 error(s)" in out


def test_unwritable_outputs_exit_2_and_record_nothing(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    candidates: Path,
) -> None:
    nowhere = tmp_path / "no-such-folder" / "out.jsonl"
    code, _, err = run(monkeypatch, capsys, "extract", SEED_004, "--out", nowhere)
    assert code == 2
    assert str(nowhere) in one_error_line(err)

    first = ids(candidates)[0]
    code, _, err = run(monkeypatch, capsys, "review", candidates, "--accept", first,
                       "--reviewer", "ana", "--events", nowhere)  # fmt: skip
    assert code == 2
    assert str(nowhere) in one_error_line(err)
    # the decision was not logged: the candidate is still pending
    assert not (tmp_path / "candidates.review.jsonl").exists()
    code, out, _ = run(monkeypatch, capsys, "review", candidates, "--json")
    assert code == 0
    assert first in {c["id"] for c in orjson.loads(out)}


# --- unreadable files ------------------------------------------------------------------------


CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
PR_CAPBSET_DROP = 24


def _without_file_override() -> None:
    """In the child, before exec: drop the capabilities that let root read any file, so a
    file of mode 000 is as unreadable to it as to anyone (linux/capability.h, prctl(2))."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_script(cwd: Path, *argv: str | Path) -> subprocess.CompletedProcess[str]:
    """`vendorwatch feeds ARGV...` as the console script; as root, without the capabilities
    that bypass file modes (root reads a file whatever its mode)."""
    return subprocess.run(
        [VENDORWATCH, "feeds", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if not k.startswith("VENDORWATCH_")},
        timeout=120,
        check=False,
        preexec_fn=_without_file_override if os.geteuid() == 0 else None,
    )


def test_unreadable_files(tmp_path: Path, extracted: bytes) -> None:
    readable = tmp_path / "readable.txt"
    shutil.copy(SEED_004, readable)
    readable.chmod(0o644)
    locked = {"doc.txt": SEED_004.read_bytes(), "cands.jsonl": extracted,
              "feeds.yaml": b"user_agent: x\n", "vendors.jsonl": VENDORS.read_bytes()}  # fmt: skip
    for name, data in locked.items():
        (tmp_path / name).write_bytes(data)
        (tmp_path / name).chmod(0)
    # a document that cannot be read is one line among the others, and exit 1 (bad input)
    done = run_script(tmp_path, "extract", "doc.txt", "readable.txt", "--vendors", VENDORS)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == "doc.txt: Permission denied"
    assert "1 document(s) not read" in done.stdout
    assert "0 candidate(s)" not in done.stdout
    # a file an option or argument names is checked before the command runs: usage, exit 2
    for argv, name, path in [
        (("extract", "readable.txt", "--vendors", "vendors.jsonl"), "'--vendors'", "vendors.jsonl"),
        (("extract", "readable.txt", "--policy", "feeds.yaml"), "'--policy'", "feeds.yaml"),
        (("review", "cands.jsonl"), "'FILE'", "cands.jsonl"),
        (("run", "--config", "feeds.yaml", "--once"), "'--config'", "feeds.yaml"),
    ]:
        done = run_script(tmp_path, *argv)
        assert done.returncode == 2, (argv, done.stderr)
        said = usage_error(done.stderr)
        assert f"Invalid value for {name}: Path '{path}' is not readable" in said, argv


# --- bad option values -----------------------------------------------------------------------


def test_bad_option_values_are_misuse(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    candidates: Path,
) -> None:
    first = ids(candidates)[0]
    usage = [
        (("review", candidates, "--auto-accept", "gopher"), "'gopher' is not a source kind"),
        (("extract",), "Missing argument 'PATH'"),
        (("review", candidates, "--frobnicate"), "No such option: --frobnicate"),
    ]
    for argv, said in usage:
        code, _, err = run(monkeypatch, capsys, *argv)
        assert code == 2, argv
        assert said in usage_error(err), argv
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("user_agent: x\nsources: [\n", encoding="utf-8")
    one_line = [
        (("review", candidates, "--accept", first, "--reviewer", "ana", "--set", "factor"),
         "--set 'factor': expected FIELD=VALUE"),
        (("review", candidates, "--set", "factor=3"), "--set edits what is accepted"),
        (("extract", "https://example.org/a"), "URLs are read by connectors"),
        (("extract", tmp_path / "*.md"), f"no such file or folder: {tmp_path / '*.md'}"),
        (("run", "--config", bad_yaml, "--once"), f"{bad_yaml}: line 3, column 1: expected"),
    ]  # fmt: skip
    for argv, said in one_line:
        code, _, err = run(monkeypatch, capsys, *argv)
        assert code == 2, (argv, err)
        assert said in one_error_line(err), argv
    assert not (tmp_path / "candidates.review.jsonl").exists()


# --- bad review decisions --------------------------------------------------------------------


def test_bad_review_decisions(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    candidates: Path,
) -> None:
    first, second = ids(candidates)[:2]
    review = ("review", candidates)
    for argv, said in [
        (("--accept", "feeds-0000", "--reviewer", "ana"), "no candidate(s) with id 'feeds-0000'"),
        (("--accept", "feeds-", "--reviewer", "ana"), "9 candidate(s) with id 'feeds-'"),
        (("--accept", first), "--accept needs --reviewer"),
        (("--reject", first, "--reviewer", "ana"), "--reject needs --reviewer and --reason"),
        (("--merge", first, "--reviewer", "ana"), "--merge needs --into and --reviewer"),
        (("--accept", first, "--reject", second, "--reviewer", "ana"), "one of --accept"),
    ]:
        code, _, err = run(monkeypatch, capsys, *review, *argv)
        assert code == 2, (argv, err)
        assert said in one_error_line(err), argv
    assert not (tmp_path / "candidates.review.jsonl").exists()

    # a decision already taken: the candidate is no longer pending
    code, _, err = run(monkeypatch, capsys, *review, "--accept", first, "--reviewer", "ana")
    assert code == 0, err
    code, _, err = run(monkeypatch, capsys, *review, "--reject", first, "--reviewer", "ana",
                       "--reason", "changed my mind")  # fmt: skip
    assert code == 2
    assert f"no candidate(s) with id '{first}'" in one_error_line(err)


def test_files_that_are_not_what_review_reads_are_bad_data(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    candidates: Path,
) -> None:
    code, _, err = run(monkeypatch, capsys, "review", SEED_004)
    assert code == 1
    assert f"{SEED_004}: not a candidates file" in one_error_line(err)

    log = tmp_path / "not-a-log.jsonl"
    log.write_text('{"type": "feeds.candidate.accepted"}\n', encoding="utf-8")
    code, _, err = run(monkeypatch, capsys, "review", candidates, "--log", log)
    assert code == 1
    assert f"{log}: line 1 is not a review decision (" in one_error_line(err)


# --- a broker that is not there --------------------------------------------------------------


@pytest.mark.integration
def test_sending_to_a_broker_that_is_not_there(tmp_path: Path, socket_enabled: None) -> None:
    """`feeds run --send` pointed at a closed loopback port: the client's bootstrap timeout
    (10 s), then one line naming Kafka and exit 2; nothing polled, no client log lines."""
    articles = tmp_path / "articles"
    articles.mkdir()
    shutil.copy(SEED_004, articles / SEED_004.name)
    config = folder_config(tmp_path, articles)
    closed = f"127.0.0.1:{free_loopback_port()}"
    done = subprocess.run(
        [VENDORWATCH, "feeds", "run", "--config", str(config), "--once", "--send",
         "--bootstrap-servers", closed, "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=120, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("VENDORWATCH_")},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    line = one_error_line(done.stderr)
    assert line.startswith("error: Kafka: ")
    assert closed in line
    assert not (tmp_path / "state" / "candidates.jsonl").exists()

"""Every `--help` of the CLI against a stored copy, so a dependency cannot change what users read
unseen (typer 0.27 put `{ARG}` into usage lines, 0.29 `<bool>` and `<str>` into every option
list, and rich markup once ate `[chart]` out of `pip install 'vendorwatch[chart]'`).

The help is rendered by the console script's entry point in one fresh process with an 100-column
terminal, as a user sees it: in a test session the command list would follow whatever order
other tests imported the command modules in.

A deliberate change of the help: run with VENDORWATCH_UPDATE_SNAPSHOTS=1 and review the diff
of tests/streams/cli/snapshots/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import click
import pytest
import typer

from vendorwatch.streams.cli import main as cli

SNAPSHOTS = Path(__file__).with_name("snapshots")
UPDATE = os.environ.get("VENDORWATCH_UPDATE_SNAPSHOTS") == "1"

RENDER = """
import contextlib, io, json, sys
from vendorwatch.streams.cli.main import main

helps = {}
for path in json.loads(sys.argv[1]):
    sys.argv = ["vendorwatch", *path, "--help"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main()
    helps[" ".join(path)] = out.getvalue()
print(json.dumps(helps))
"""


def command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand, as the words after `vendorwatch` (the root is ())."""
    cli.load_commands([])
    root = typer.main.get_command(cli.app)
    paths: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, (*path, name))

    walk(root, ())
    return paths


@cache
def all_helps() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDORWATCH_")}
    done = subprocess.run(
        [sys.executable, "-c", RENDER, json.dumps(command_paths())],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "100", "LINES": "40"},
        timeout=120,
        check=True,
    )
    helps: dict[str, str] = json.loads(done.stdout)
    return helps


def snapshot_file(path: tuple[str, ...]) -> Path:
    return SNAPSHOTS / ("-".join(("vendorwatch", *path)) + ".txt")


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "vendorwatch")
def test_help_matches_the_snapshot(path: tuple[str, ...]) -> None:
    text = all_helps()[" ".join(path)]
    assert text.startswith(f"Usage: vendorwatch {' '.join(path)}".replace("  ", " "))
    stored = snapshot_file(path)
    if UPDATE:
        stored.write_text(text, encoding="utf-8")
    assert stored.exists(), f"no snapshot {stored.name}: run with VENDORWATCH_UPDATE_SNAPSHOTS=1"
    assert text == stored.read_text(encoding="utf-8")


def test_every_snapshot_belongs_to_a_command() -> None:
    """A removed command leaves no stale snapshot behind."""
    wanted = {snapshot_file(path).name for path in command_paths()}
    assert {p.name for p in SNAPSHOTS.glob("*.txt")} == wanted


def test_help_is_plain_text() -> None:
    """No markup reading, no type noise: what the snapshots guard, said outright."""
    everything = "".join(all_helps().values())
    assert "pip install 'vendorwatch[chart]'" in " ".join(everything.split())
    for noise in ("<bool>", "<str>", "<int>", "{FILE}", "{VENDOR_ID}", "╭"):
        assert noise not in everything, noise

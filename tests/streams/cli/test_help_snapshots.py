"""Every `--help` of the CLI against a stored copy, so a dependency cannot change what users read
unseen (typer 0.27 put `{ARG}` into usage lines, 0.29 `<bool>` and `<str>` into every option
list, and rich markup once ate `[chart]` out of `pip install 'vendorwatch[chart]'`).

A deliberate change of the help: run with VENDORWATCH_UPDATE_SNAPSHOTS=1 and review the diff
of tests/streams/cli/snapshots/.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from vendorwatch.streams.cli import main as cli

SNAPSHOTS = Path(__file__).with_name("snapshots")
UPDATE = os.environ.get("VENDORWATCH_UPDATE_SNAPSHOTS") == "1"


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


def render_help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(
        cli.app,
        [*path, "--help"],
        prog_name="vendorwatch",
        terminal_width=100,
        env={"COLUMNS": "100"},
    )
    assert result.exit_code == 0, result.output
    return result.output


def snapshot_file(path: tuple[str, ...]) -> Path:
    return SNAPSHOTS / ("-".join(("vendorwatch", *path)) + ".txt")


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "vendorwatch")
def test_help_matches_the_snapshot(path: tuple[str, ...]) -> None:
    text = render_help(path)
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
    everything = "".join(render_help(path) for path in command_paths())
    assert "pip install 'vendorwatch[chart]'" in " ".join(everything.split())
    for noise in ("<bool>", "<str>", "<int>", "{FILE}", "{VENDOR_ID}", "╭"):
        assert noise not in everything, noise

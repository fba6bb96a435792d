"""Shell completion, as a shell asks for it: the console script run with the completion
variables bash sets, and the script `--show-completion` prints for bash to source."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

VENDORWATCH = str(Path(sys.executable).parent / "vendorwatch")


def complete(words: str, cword: int) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDORWATCH_")}
    env |= {"_VENDORWATCH_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    done = subprocess.run(
        [VENDORWATCH], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return done.stdout.split()


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("vendorwatch sil", 1, ["silence"]),
        ("vendorwatch silence ", 2, ["add", "list", "expire"]),
        ("vendorwatch worker --emb", 2, ["--embedded"]),
    ],
)
def test_commands_and_options_complete(words: str, cword: int, expected: list[str]) -> None:
    assert complete(words, cword) == expected


def test_the_bash_script_calls_back_into_vendorwatch() -> None:
    # the shell is detected from the parent process: run it from bash (a second command keeps
    # bash from exec-ing it in its own place)
    done = subprocess.run(
        ["bash", "-c", f"{VENDORWATCH} --show-completion; exit $?"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "_VENDORWATCH_COMPLETE=complete_bash" in done.stdout
    assert "complete -o default -F _vendorwatch_completion vendorwatch" in done.stdout

"""The repository's documents point only at documents the repository has.

Two checks, both offline and file-system only:

* every relative link in every Markdown file resolves to a file or directory of the checkout,
  and a ``#fragment`` pointing into a Markdown file names one of its headings;
* every ``*.md`` name written in code, configuration or docs (Python, Markdown, YAML, TOML,
  the Makefile and Dockerfiles) is a file of the repository, found relative to the file that
  names it, relative to the repository root, or, for a bare name, anywhere in the tree.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Directories that are not part of the project's own text (tools, caches, build output).
SKIP_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "node_modules",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".hypothesis",
        ".vendorwatch",
        "build",
        "dist",
        "results",
    }
)
SCANNED_SUFFIXES = frozenset({".py", ".md", ".yml", ".yaml", ".toml"})
SCANNED_NAMES = frozenset({"Makefile", "Dockerfile"})

FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,}).*?^\1\2[`~]*[ \t]*$", re.M | re.S)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
HTML_ATTR = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
# A word ending in ".md": a bare name or a path, possibly inside a URL (then it is skipped).
MD_NAME = re.compile(r"[\w.:/~+-]*\.md\b")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def _project_files() -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")
        )
        found.extend(Path(dirpath, name) for name in sorted(filenames))
    return found


@cache
def project_files() -> tuple[Path, ...]:
    return tuple(_project_files())


@cache
def basenames() -> frozenset[str]:
    return frozenset(path.name for path in project_files())


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def markdown_files() -> list[Path]:
    return [p for p in project_files() if p.suffix == ".md"]


def scanned_files() -> list[Path]:
    """Files whose text may name documents (this module is left out: its examples are made up)."""
    this = Path(__file__).resolve()
    return [
        p
        for p in project_files()
        if p != this
        and (p.suffix in SCANNED_SUFFIXES or p.name in SCANNED_NAMES or p.suffix == ".Dockerfile")
    ]


def prose(markdown: str) -> str:
    """The Markdown without fenced code blocks and inline code spans (links there are text)."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def link_targets(markdown: str) -> list[str]:
    text = prose(markdown)
    return [
        *INLINE_LINK.findall(text),
        *REFERENCE_DEF.findall(text),
        *HTML_ATTR.findall(text),
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = text.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    result: set[str] = set()
    for line in prose(path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return frozenset(result)


def broken_link(source: Path, target: str) -> str | None:
    """Why `target`, linked from `source`, does not resolve (None when it does)."""
    if SCHEME.match(target) or target.startswith("//"):
        return None  # a URL elsewhere; not checked here (no network)
    path_part, _, fragment = target.partition("#")
    path_part = path_part.split("?", 1)[0]
    if path_part:
        base = ROOT if path_part.startswith("/") else source.parent
        resolved = (base / path_part.lstrip("/")).resolve()
        if not resolved.exists():
            return f"{target}: no such file"
        if ROOT not in resolved.parents and resolved != ROOT:
            return f"{target}: outside the repository"
    else:
        resolved = source
    if fragment and resolved.suffix == ".md" and fragment.lower() not in anchors(resolved):
        return f"{target}: no heading #{fragment} in {rel(resolved)}"
    return None


def md_mentions(text: str) -> list[str]:
    names = []
    for token in MD_NAME.findall(text):
        if "://" in token or token.startswith("www."):
            continue  # a URL: a document of another site
        token = token.strip(":").removeprefix("./")
        if token.endswith(".md") and len(token) > len(".md") and not token.startswith("*"):
            names.append(token)
    return names


def mention_resolves(source: Path, name: str) -> bool:
    if (source.parent / name).exists() or (ROOT / name.lstrip("/")).exists():
        return True
    if "/" not in name:
        return name in basenames()
    return any(rel(p).endswith("/" + name.lstrip("/")) for p in project_files())


def test_the_repository_has_markdown_files() -> None:
    names = {rel(p) for p in markdown_files()}
    assert "README.md" in names
    assert len(names) > 3


def test_every_relative_link_in_markdown_resolves() -> None:
    broken = []
    for path in markdown_files():
        for target in link_targets(path.read_text(encoding="utf-8")):
            problem = broken_link(path, target)
            if problem:
                broken.append(f"{rel(path)}: {problem}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_markdown_file_named_in_the_repository_exists() -> None:
    missing = []
    for path in scanned_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            for name in dict.fromkeys(md_mentions(line)):
                if not mention_resolves(path, name):
                    missing.append(f"{rel(path)}:{lineno}: {name}")
    assert not missing, "documents named but not in the repository:\n" + "\n".join(missing)


def test_the_readme_links_the_scoring_document() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/scoring.md" in link_targets(readme)


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Quick tour", "quick-tour"),
        ("Replay, time travel and backtests", "replay-time-travel-and-backtests"),
        ("`make check` and `make test`", "make-check-and-make-test"),
        ("Deviation 1: ListOffsets(latest)", "deviation-1-listoffsetslatest"),
    ],
)
def test_slug_follows_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("see docs/broker.md and README.md.", ["docs/broker.md", "README.md"]),
        ("https://github.com/cloudevents/spec/blob/main/README.md", []),
        ("glob *.md files", []),
        ("`./docs/architecture.md`", ["docs/architecture.md"]),
    ],
)
def test_md_mentions(text: str, names: list[str]) -> None:
    assert md_mentions(text) == names


def test_links_in_code_are_not_links() -> None:
    text = "a [real](docs/x.md) link\n```\n[fake](nowhere.md)\n```\nand `[fake](also.md)`\n"
    assert link_targets(text) == ["docs/x.md"]

"""The poller's configuration and a folder source, offline (the HTTP sources are exercised
against a local server in tests/integration/test_feeds_run.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.feeds.conftest import FETCHED, SEEDS
from vendorwatch.feeds.gazetteer import Gazetteer
from vendorwatch.feeds.poller import FeedsConfig, Poller, load_config

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_configuration_is_valid() -> None:
    config = load_config(REPO / "deploy" / "feeds" / "feeds.yaml")
    assert config.auto_accept == []  # news is never auto-accepted by default
    assert "@" in config.user_agent


@pytest.mark.parametrize(
    ("text", "where"),
    [("user_agent: x\nsources: []\n", "sources"), ("sources: [{kind: rss, url: u}]\n",
      "user_agent"), ("user_agent: x\nauto_accept: [rumours]\nsources: [{kind: rss, url: u}]\n",
      "auto_accept.0")],
)  # fmt: skip
def test_bad_configurations_name_the_field(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=rf"feeds.yaml: {where}"):
        load_config(path)


def test_a_folder_is_read_once(tmp_path: Path, gazetteer: Gazetteer) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    for name in ("004_c5024c2e11454a9d.txt", "004_c5024c2e11454a9d.txt.meta.json"):
        shutil.copy(SEEDS / name, articles / name)
    (articles / "binary.txt").write_bytes(b"\x00\x01" * 50)
    config = FeedsConfig(
        user_agent="t t@example.org", sources=[{"kind": "folder", "path": articles}]
    )  # type: ignore[list-item]
    poller = Poller(config, gazetteer, tmp_path / "state", httpx.Client(), clock=lambda: FETCHED)
    first = poller.poll()
    assert len(first.new) == 9
    assert first.accepted == []  # news: nothing auto-accepted
    assert len(first.errors) == 1
    assert "binary file" in first.errors[0]
    second = poller.poll()
    assert second.new == []
    assert len(poller.candidates_file.read_bytes().splitlines()) == 9

"""Reading documents: HTML main text, and bad input stopped with one clear error each."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from vendorwatch.feeds.documents import (
    MAX_DOCUMENT_BYTES,
    DocumentError,
    detect_language,
    make_document,
    read_file,
)

ARTICLE = (
    "<html><head><title>Scale AI</title><meta property='og:site_name' content='Example News'>"
    "</head><body><nav>Accueil | Tech | Contact</nav><article><h1>Scale AI</h1>"
    "<p>Scale AI a reçu une importante levée de fonds de 14,3 milliards de dollars de la part "
    "de Meta. Google et OpenAI ont suspendu certaines collaborations avec Scale AI, selon "
    "plusieurs sources proches du dossier.</p><p>La demande pour les services de Handshake a "
    "triplé après l’annonce, selon son PDG qui explique que les laboratoires veulent protéger "
    "leurs données.</p></article><footer>© 2025 Cookies Mentions légales</footer></body></html>"
)


def test_html_gives_its_article_text(tmp_path: Path) -> None:
    path = tmp_path / "article.html"
    path.write_text(ARTICLE, encoding="utf-8")
    document = read_file(path, fetched=datetime(2025, 6, 20, tzinfo=UTC))
    assert "14,3 milliards de dollars" in document.text
    assert "Cookies" not in document.text
    assert "Accueil" not in document.text
    assert document.language == "fr"


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(DocumentError, match="binary file"):
        read_file(path)


def test_a_50_mb_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as out:
        out.truncate(50 * 1024 * 1024)  # sparse: 50 MB without writing them
    with pytest.raises(DocumentError, match=f"over the {MAX_DOCUMENT_BYTES} byte limit"):
        read_file(path)


def test_unknown_language(tmp_path: Path) -> None:
    path = tmp_path / "de.txt"
    path.write_text(
        "Die Firma hat heute bekannt gegeben, dass sie ihre Zusammenarbeit mit dem Anbieter "
        "beendet, weil die Sicherheit der Daten nicht mehr gewährleistet ist.",
        encoding="utf-8",
    )
    with pytest.raises(DocumentError, match="unknown language"):
        read_file(path)


def test_html_junk(tmp_path: Path) -> None:
    path = tmp_path / "junk.html"
    path.write_text("<html><body><div><script>var x=1;</script><nav>a | b</nav></div>", "utf-8")
    with pytest.raises(DocumentError, match="no article text"):
        read_file(path)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"empty|unknown language"):
        make_document(b"   \n", "empty.txt")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Scale AI a reçu une levée de fonds de la part de Meta et la demande est forte.", "fr"),
        ("Scale AI received a large investment from Meta and the demand for it is high.", "en"),
        ("1234 5678 !!!", None),
    ],
)
def test_language_detection(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_a_copyright_year_is_not_a_publication_date(tmp_path: Path) -> None:
    document = make_document(
        ARTICLE.encode(), "article.html", fetched=datetime(2025, 6, 20, tzinfo=UTC)
    )
    assert document.published is None
    assert document.publisher == "Example News"

"""Settings from files: `VENDORWATCH_X_FILE` (Docker's convention) and a secrets directory of
`vendorwatch_x` files (`VENDORWATCH_SECRETS_DIR`), with errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from vendorwatch.streams.settings import SettingsError, load_settings

TOKEN = "token-from-a-file-0123456789"
SECRET = "hmac-key-from-a-file-012345"


pytestmark = pytest.mark.usefixtures("no_vendorwatch_environment")


def test_a_file_variable_gives_the_value(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n", encoding="utf-8")  # as `echo` writes it
    monkeypatch.setenv("VENDORWATCH_INGEST_TOKEN_FILE", str(path))
    settings = load_settings()
    assert settings.ingest_token is not None
    assert settings.ingest_token.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("too-short", "at least 16"),
        ("whsec_not~base64~at~all~0123", "non-empty base64"),
    ],
)
def test_an_invalid_value_in_a_file_names_the_file_variable_and_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, complaint: str
) -> None:
    """The variable the user set is the `_FILE` one; the message says which file, never what
    the file holds (the secret, or most of it)."""
    path = tmp_path / "webhook-secret"
    path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("VENDORWATCH_WEBHOOK_SECRET_FILE", str(path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"VENDORWATCH_WEBHOOK_SECRET_FILE ({path}): " in message
    assert complaint in message
    assert content not in message


def test_an_invalid_value_in_the_secrets_directory_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "vendorwatch_ingest_token"
    secret.write_text("short-token", encoding="utf-8")
    monkeypatch.setenv("VENDORWATCH_SECRETS_DIR", str(tmp_path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"{secret} (VENDORWATCH_SECRETS_DIR): " in message
    assert "short-token" not in message


def test_an_invalid_variable_is_named_as_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDORWATCH_INGEST_TOKEN", "short-token")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "VENDORWATCH_INGEST_TOKEN: " in str(caught.value)
    assert "_FILE" not in str(caught.value)
    assert "short-token" not in str(caught.value)


def test_an_unreadable_file_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("VENDORWATCH_SLACK_WEBHOOK_URL_FILE", str(missing))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "VENDORWATCH_SLACK_WEBHOOK_URL_FILE" in str(caught.value)
    assert str(missing) in str(caught.value)


def test_the_variable_and_its_file_exclude_each_other(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN, encoding="utf-8")
    monkeypatch.setenv("VENDORWATCH_INGEST_TOKEN_FILE", str(path))
    monkeypatch.setenv("VENDORWATCH_INGEST_TOKEN", "another-token-0123456789")
    with pytest.raises(
        SettingsError, match="VENDORWATCH_INGEST_TOKEN and VENDORWATCH_INGEST_TOKEN_FILE"
    ):
        load_settings()


def test_a_secrets_directory_gives_the_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "vendorwatch_webhook_secret").write_text(SECRET + "\n", encoding="utf-8")
    (tmp_path / "vendorwatch_ingest_token").write_text(TOKEN, encoding="utf-8")
    monkeypatch.setenv("VENDORWATCH_SECRETS_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == SECRET
    assert settings.ingest_token is not None
    assert settings.ingest_token.get_secret_value() == TOKEN


def test_the_environment_wins_over_the_secrets_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "vendorwatch_ingest_token").write_text(TOKEN, encoding="utf-8")
    monkeypatch.setenv("VENDORWATCH_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("VENDORWATCH_INGEST_TOKEN", "from-the-environment-0123")
    settings = load_settings()
    assert settings.ingest_token is not None
    assert settings.ingest_token.get_secret_value() == "from-the-environment-0123"


def test_a_missing_secrets_directory_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VENDORWATCH_SECRETS_DIR", str(tmp_path / "absent"))
    with pytest.raises(SettingsError, match="VENDORWATCH_SECRETS_DIR"):
        load_settings()


def test_a_secret_from_a_file_stays_out_of_the_repr(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN, encoding="utf-8")
    monkeypatch.setenv("VENDORWATCH_INGEST_TOKEN_FILE", str(path))
    assert TOKEN not in repr(load_settings())

"""`VENDORWATCH_MAX_FUTURE_SKEW_SECONDS`: a day by default, > 0, errors naming the variable."""

from __future__ import annotations

import pytest

from vendorwatch.streams.settings import SettingsError, load_settings


def test_the_default_is_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VENDORWATCH_MAX_FUTURE_SKEW_SECONDS", raising=False)
    assert load_settings().max_future_skew == 86400.0


def test_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENDORWATCH_MAX_FUTURE_SKEW_SECONDS", "3600")
    assert load_settings().max_future_skew == 3600.0


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("VENDORWATCH_MAX_FUTURE_SKEW_SECONDS", value)
    with pytest.raises(SettingsError, match="VENDORWATCH_MAX_FUTURE_SKEW_SECONDS"):
        load_settings()

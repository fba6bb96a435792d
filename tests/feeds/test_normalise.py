"""The normaliser tables: amounts, counts, shares and dates as French and English news write
them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vendorwatch.feeds.normalise import (
    find_money,
    is_historical,
    parse_count,
    parse_factor,
    parse_number,
    parse_percent,
    resolve_time,
)

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("14,3 milliards de dollars", 14.3e9, "USD"),
        ("7,5 milliards $", 7.5e9, "USD"),
        ("$14.3 billion", 14.3e9, "USD"),
        ("US$ 2 bn", 2e9, "USD"),
        ("100 millions de dollars", 1e8, "USD"),
        (f"1{NBSP}000 $", 1000.0, "USD"),
        (f"10{NNBSP}000 $", 10000.0, "USD"),
        ("1,000,000 dollars", 1e6, "USD"),
        ("3,5 millions d'euros", 3.5e6, "EUR"),
        ("2 M€", 2e6, "EUR"),
    ],
)
def test_money(text: str, amount: float, currency: str) -> None:
    found = find_money(text)
    assert found, text
    assert (found[0].amount, found[0].currency) == (amount, currency)
    assert text[found[0].start : found[0].end].strip()


def test_amount_without_currency_is_not_money() -> None:
    assert find_money("soutenu par 1,4 milliard de financements d’État") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [("1 000", 1000), (f"1{NBSP}000", 1000), ("1,000", 1000), ("14,3", 14.3), ("14.3", 14.3),
     ("1.000.000", 1e6), ("six", 6), ("1,234.5", 1234.5), ("abc", None)],
)  # fmt: skip
def test_numbers(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "share"),
    [("49%", 49.0), ("49 %", 49.0), ("60 pour cent", 60.0), ("six candidats sur dix", 60.0),
     ("6 candidats sur 10 seraient", 60.0), ("three out of four", 75.0), ("rien", None)],
)  # fmt: skip
def test_shares(text: str, share: float | None) -> None:
    assert parse_percent(text) == share


@pytest.mark.parametrize(
    ("text", "count"),
    [(f"plus de 1{NBSP}000 sous-traitants", 1000), ("près de 1000 professionnels", 1000),
     ("plus d’un millier de contractuels", 1000), ("about 2,500 contractors", 2500)],
)  # fmt: skip
def test_counts(text: str, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize(
    ("text", "factor"),
    [("a triplé", 3), ("demand tripled", 3), ("x3", 3), ("a doublé", 2), ("3 fois plus", 3)],
)
def test_factors(text: str, factor: float) -> None:
    assert parse_factor(text) == factor


PUBLISHED = datetime(2025, 6, 29, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("il y a 9 jours", datetime(2025, 6, 20, 12, tzinfo=UTC), "day"),
        ("9 days ago", datetime(2025, 6, 20, 12, tzinfo=UTC), "day"),
        ("acquise en 2018 par Microsoft", datetime(2018, 1, 1, tzinfo=UTC), "year"),
        ("le 12 juin 2025, Meta", datetime(2025, 6, 12, tzinfo=UTC), "day"),
        ("date 2023-05", datetime(2023, 5, 1, tzinfo=UTC), "month"),
        ("sans date", PUBLISHED, "published"),
    ],
)
def test_times_resolve_against_the_publication_date(
    text: str, expected: datetime, precision: str
) -> None:
    resolved = resolve_time(text, PUBLISHED)
    assert (resolved.time, resolved.precision) == (expected, precision)
    assert resolved.estimated == (precision != "day")


def test_a_date_after_publication_is_not_believed() -> None:
    resolved = resolve_time("le 12 juin 2031", PUBLISHED)
    assert resolved.time == PUBLISHED
    assert resolved.precision == "published"


def test_historical() -> None:
    assert is_historical(resolve_time("en 2018", PUBLISHED), PUBLISHED)
    assert not is_historical(resolve_time("il y a 9 jours", PUBLISHED), PUBLISHED)

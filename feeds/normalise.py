"""Numbers, money, shares and dates as news text writes them, in French and English.

The extractor finds *where* an amount or a date is; these functions say *what* it is. They are
pure and table-tested (tests/feeds/test_normalise.py) because the same fact is spelt many ways:
"14,3 milliards de dollars", "$14.3 billion", "7,5 milliards $", "1 000" with a no-break space,
"six candidats sur dix", "il y a 9 jours" (resolved against the publication date, never the
clock).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dateparser

SPACES = "\u00a0\u202f\u2009 "
"""Thousands separators French typesetting uses: no-break, narrow no-break, thin, plain."""

NUMBER_WORDS: dict[str, int] = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
    "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "vingt": 20, "cent": 100,
    "mille": 1000,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "hundred": 100,
    "thousand": 1000,
}  # fmt: skip
"""Small numbers written as words ("six" is the same in both languages)."""

SCALES: dict[str, float] = {
    "k": 1e3, "millier": 1e3, "milliers": 1e3, "thousand": 1e3,
    "m": 1e6, "mn": 1e6, "million": 1e6, "millions": 1e6,
    "md": 1e9, "mds": 1e9, "mrd": 1e9, "mrds": 1e9, "milliard": 1e9, "milliards": 1e9,
    "bn": 1e9, "b": 1e9, "billion": 1e9, "billions": 1e9,
}  # fmt: skip
"""Scale words; "billion" is 10^9 in English news (the French "billion", 10^12, is rare there
and not handled)."""

_DIGITS = r"\d{1,3}(?:[" + SPACES + r",.]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
NUMBER = re.compile(_DIGITS)
_WORD_NUMBER = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_SCALE = "|".join(sorted(SCALES, key=len, reverse=True))
_CURRENCY_AFTER = r"(?:\s*(?:de\s+|d['’]\s*)?(?P<cur_after>dollars?|\$|US\$|USD|euros?|€|EUR))"
MONEY = re.compile(
    r"(?P<cur_before>US\$|\$|€|USD\s|EUR\s)?\s*(?P<num>" + _DIGITS + r")"
    r"(?:\s*(?P<scale>" + _SCALE + r")\b\.?)?" + _CURRENCY_AFTER + r"?",
    re.IGNORECASE,
)
"""An amount, with its currency before ("$14.3 billion") or after ("14,3 milliards de dollars",
"7,5 milliards $"). Only amounts with a currency count as money (`parse_money`)."""

PERCENT = re.compile(r"(?P<num>\d+(?:[.,]\d+)?)\s*(?:%|pour\s*cent|per\s*cent|percent)", re.I)
SHARE = re.compile(
    r"\b(?P<num>\d+|" + _WORD_NUMBER + r")\s+(?:[\w’'-]+\s+){0,2}(?:sur|out\s+of|in)\s+"
    r"(?P<den>\d+|" + _WORD_NUMBER + r")\b",
    re.IGNORECASE,
)
""""six candidats sur dix", "6 sur 10", "three out of four", "one in five"."""


def parse_number(text: str) -> float | None:
    """A number as written: "1 000" (any space), "1,000", "14,3", "14.3", "1.000.000"; or a
    small number word ("six"). None if it is neither."""
    raw = text.strip().casefold()
    if raw in NUMBER_WORDS:
        return float(NUMBER_WORDS[raw])
    raw = re.sub("[" + SPACES + "]", "", raw)
    if not raw or not NUMBER.fullmatch(raw):
        return None
    groups = re.split(r"[.,]", raw)
    separators = re.findall(r"[.,]", raw)
    if not separators:
        return float(raw)
    if len(separators) == 1 and len(groups[-1]) != 3:
        return float(raw.replace(",", "."))  # a decimal mark: 14,3 / 14.3
    if len(separators) >= 1 and all(len(g) == 3 for g in groups[1:]):
        if len(separators) == 1 and len(groups[0]) <= 3 and separators[0] == ",":
            return float(raw.replace(",", ""))  # 1,000: English thousands
        if len(set(separators)) == 1:
            return float("".join(groups))  # 1.000.000 / 1,000,000
    if len(set(separators)) == 2:  # 1,234.5 or 1.234,5: the last one is the decimal mark
        mark = separators[-1]
        other = "," if mark == "." else "."
        return float(raw.replace(other, "").replace(mark, "."))
    return None


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of money found in text, with where it is."""

    amount: float
    currency: str
    """ISO code: USD or EUR."""
    start: int
    end: int


def _currency(symbol: str | None) -> str | None:
    if not symbol:
        return None
    s = symbol.strip().casefold()
    if s in {"$", "us$", "usd", "dollar", "dollars"}:
        return "USD"
    if s in {"€", "eur", "euro", "euros"}:
        return "EUR"
    return None


def find_money(text: str) -> list[Money]:
    """Every amount with a currency in `text`, in order."""
    found: list[Money] = []
    for m in MONEY.finditer(text):
        currency = _currency(m.group("cur_before")) or _currency(m.group("cur_after"))
        value = parse_number(m.group("num"))
        if currency is None or value is None:
            continue
        scale = SCALES.get((m.group("scale") or "").casefold().rstrip("."), 1.0)
        start = m.start("cur_before") if m.group("cur_before") else m.start("num")
        found.append(Money(round(value * scale, 2), currency, start, m.end()))
    return found


def parse_money(text: str) -> Money | None:
    """The first amount with a currency in `text`: "14,3 milliards de dollars" -> 14.3e9 USD."""
    found = find_money(text)
    return found[0] if found else None


def parse_percent(text: str) -> float | None:
    """A share written as a percentage ("49%", "49 %", "60 pour cent") or as "N sur M" /
    "N out of M" ("six candidats sur dix" -> 60.0)."""
    m = PERCENT.search(text)
    if m:
        return float(m.group("num").replace(",", "."))
    m = SHARE.search(text)
    if m:
        num, den = parse_number(m.group("num")), parse_number(m.group("den"))
        if num is not None and den and num <= den:
            return round(100.0 * num / den, 2)
    return None


COUNT = re.compile(
    r"(?P<num>" + _DIGITS + r"|" + _WORD_NUMBER + r")(?:\s*(?P<scale>" + _SCALE + r")\b)?",
    re.IGNORECASE,
)


def parse_count(text: str, *, last: bool = False) -> int | None:
    """A head count: "1 000", "1000", "près de 1000", "plus d'un millier" -> 1000; the first
    number in `text`, or the last one (the one right before a noun) with `last`."""
    if re.search(r"\b(?:un|a)\s+millier\b|\bthousand\s+(?!\d)", text, re.IGNORECASE):
        return 1000
    matches = list(COUNT.finditer(text))
    for m in reversed(matches) if last else matches:
        value = parse_number(m.group("num"))
        if value is None:
            continue
        scale = SCALES.get((m.group("scale") or "").casefold(), 1.0)
        return int(value * scale)
    return None


MULTIPLIERS: dict[str, float] = {
    "doublé": 2, "double": 2, "doubled": 2, "doubling": 2,
    "triplé": 3, "triple": 3, "tripled": 3, "tripling": 3,
    "quadruplé": 4, "quadruple": 4, "quadrupled": 4,
    "quintuplé": 5, "quintupled": 5, "décuplé": 10,
}  # fmt: skip
"""Words that say "times N"."""


def parse_factor(text: str) -> float | None:
    """A growth factor: "a triplé" / "tripled" -> 3, "x3" / "3 fois" / "3x" -> 3."""
    for word, factor in MULTIPLIERS.items():
        if re.search(rf"\b{word}\b", text, re.IGNORECASE):
            return factor
    m = re.search(r"\b[x×]\s?(\d+(?:[.,]\d+)?)\b|\b(\d+(?:[.,]\d+)?)\s?(?:x|×|fois)\b", text)
    if m:
        return float((m.group(1) or m.group(2)).replace(",", "."))
    return None


@dataclass(frozen=True, slots=True)
class ResolvedTime:
    """When something happened, as far as the text says, and how precisely."""

    time: datetime
    precision: str
    """"day" (the text gives the day), "month", "year", or "published" (the text gives no date
    for the fact, so the publication date stands in)."""
    expression: str | None = None
    """The words the time was read from (None for "published")."""

    @property
    def estimated(self) -> bool:
        """True unless the text gives the day."""
        return self.precision != "day"


_YEAR = re.compile(r"\b(?:en|in|depuis|since)\s+(?P<year>(?:19|20)\d{2})\b", re.IGNORECASE)
_MONTHS = (
    r"janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|"
    r"décembre|decembre|january|february|march|april|may|june|july|august|september|october|"
    r"november|december"
)
RELATIVE_DATE = re.compile(  # what `parse_relative` is given: relative and absolute dates
    r"\b(?:il\s+y\s+a\s+\d+\s+(?:jours?|semaines?|mois|ans?)|\d+\s+(?:days?|weeks?|months?|years?)"
    r"\s+ago|hier|avant-hier|yesterday|(?:le\s+|last\s+)?(?:lundi|mardi|mercredi|jeudi|vendredi|"
    r"samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"(?:\s+dernier)?|(?:\d{1,2}(?:er)?\s+)?(?:"
    + _MONTHS
    + r")(?:\s+\d{1,2})?(?:,?\s+(?:19|20)\d{2})?"
    r"|(?:19|20)\d{2}-\d{2}(?:-\d{2})?)\b",
    re.IGNORECASE,
)


def parse_relative(expression: str, base: datetime) -> datetime | None:
    """A date expression ("il y a 9 jours", "Lundi", "12 juin 2025") as an instant in UTC,
    resolved by `dateparser` against `base` (a publication or fetch time, never the clock);
    a month without a day is its first day. None if it is not a date."""
    parsed = dateparser.parse(
        expression,
        languages=["fr", "en"],
        settings={
            "RELATIVE_BASE": base.astimezone(UTC).replace(tzinfo=None),
            "PREFER_DATES_FROM": "past",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "TIMEZONE": "UTC",
            "TO_TIMEZONE": "UTC",
        },
    )
    return parsed.astimezone(UTC) if parsed else None


def _precision(expression: str) -> str:
    if re.fullmatch(r"(?:19|20)\d{2}-\d{2}", expression.strip()):
        return "month"
    has_day = re.search(
        r"\d{1,2}(?:er)?\s+(?:" + _MONTHS + r")|(?:" + _MONTHS + r")\s+\d{1,2}\b"
        r"|\d{4}-\d{2}-\d{2}",
        expression,
        re.IGNORECASE,
    )
    named_month = re.search(_MONTHS, expression, re.IGNORECASE)
    return "month" if named_month and not has_day else "day"


def resolve_time(text: str, published: datetime) -> ResolvedTime:
    """When the fact in `text` happened, resolved against the publication date.

    A year alone ("en 2018") is that year's first day, estimated; a relative expression ("il y
    a 9 jours", "Lundi", "last Monday") is resolved against `published` by `dateparser`, never
    against the clock; a time after publication is not believed. With no date in the text the
    publication date stands in, estimated (news reports what happened days before)."""
    m = _YEAR.search(text)
    if m and int(m.group("year")) <= published.year:
        year = int(m.group("year"))
        if year < published.year or not RELATIVE_DATE.search(text):
            return ResolvedTime(datetime(year, 1, 1, tzinfo=UTC), "year", m.group(0))
    for m in RELATIVE_DATE.finditer(text):
        expression = m.group(0)
        if expression.casefold() in {"mai", "may", "mars", "march"}:
            continue  # "may" is a verb and "mars" a planet more often than months alone
        when = parse_relative(expression, published)
        if when is not None and when <= published + timedelta(days=1):
            return ResolvedTime(when, _precision(expression), expression)
    return ResolvedTime(published, "published", None)


def is_historical(resolved: ResolvedTime, published: datetime, days: int = 365) -> bool:
    """A fact more than `days` before its article is background, not news: flagged for the
    reviewer (a 2018 acquisition cited in a 2023 article)."""
    return published - resolved.time > timedelta(days=days)

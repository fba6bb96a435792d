"""Keep delivery secrets (webhook URLs, HMAC secrets, tokens) out of logs and error text.

The sinks never put a URL or secret into a message they build. This module is the second line of
defence for text we do not build ourselves: httpx logs every request with its full URL at INFO,
and exception text from libraries can quote a URL. Sinks register their secret values here when
they are constructed; `scrub` then replaces any registered value in a string, a stdlib logging
filter does it for the httpx/httpcore loggers, and `structlog_scrubber` does it for structlog.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

REDACTED = "[REDACTED]"
_MIN_SECRET_LEN = 8  # shorter values would scrub ordinary words out of every log line

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_longest_first: tuple[str, ...] = ()
"""`_secrets` longest first (a secret that contains another is replaced whole), kept sorted
when one is registered: `scrub` runs on every value of every log line."""


def _longest_first_of(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(values, key=len, reverse=True))


def reveal(value: str | SecretStr) -> str:
    """The plain value of a str or SecretStr (only for building requests, never for text)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def register_secret(value: str | SecretStr) -> None:
    """Remember a secret so `scrub` removes it; URLs also register their path and query.

    The path of a Slack webhook URL (`/services/T…/B…/token`) is the secret part, and some
    libraries log a request's path without the host, so both forms are registered.
    """
    plain = reveal(value)
    candidates = {plain}
    if "://" in plain:
        parts = urlsplit(plain)
        candidates.add(parts.path + (f"?{parts.query}" if parts.query else ""))
        if parts.query:
            candidates.add(parts.query)
        if parts.password:
            candidates.add(parts.password)
    global _secrets, _longest_first
    with _lock:
        _secrets = _secrets | {c for c in candidates if len(c) >= _MIN_SECRET_LEN}
        _longest_first = _longest_first_of(_secrets)


def registered_count() -> int:
    """How many secret strings are registered (for tests and diagnostics, not the values)."""
    return len(_secrets)


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """Replace every registered secret (and any `extra` value) in `text` with [REDACTED]."""
    values = _longest_first
    if extra:
        values = _longest_first_of(_secrets | {e for e in extra if len(e) >= _MIN_SECRET_LEN})
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def safe_url_label(url: str | SecretStr) -> str:
    """A description of a URL that is safe to log: scheme and host only (`https://host/…`)."""
    parts = urlsplit(reveal(url))
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


class ScrubFilter(logging.Filter):
    """A logging filter that renders each record's message and scrubs registered secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            cleaned = scrub(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


_installed_on: set[str] = set()


LIBRARY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
"""The loggers httpx and httpcore write to (a filter on a parent does not see its children)."""


def install_library_log_filters(names: Iterable[str] = LIBRARY_LOGGERS) -> None:
    """Attach `ScrubFilter` to the HTTP libraries' loggers (idempotent).

    httpx logs `HTTP Request: POST <full URL>` at INFO; with the filter the URL's secret part
    shows as [REDACTED] even when an operator turns that logger on.
    """
    with _lock:
        for name in names:
            if name not in _installed_on:
                logging.getLogger(name).addFilter(ScrubFilter())
                _installed_on.add(name)


def structlog_scrubber(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor that scrubs registered secrets from every string value.

    Put it last before the renderer in the application's structlog configuration.
    """
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = scrub(value)
        elif isinstance(value, BaseException):
            event_dict[key] = scrub(f"{type(value).__name__}: {value}")
    return event_dict

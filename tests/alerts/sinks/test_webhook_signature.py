"""HMAC signing of webhook bodies and the receiver-side `verify_signature`."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from tests.alerts.delivery_helpers import notification
from vendorwatch.alerts.sinks.webhook import SignatureError, sign, verify_signature

SECRET = "whsec-7d1f0c9a4b2e8f63"
NOW = 1_750_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), b"1750000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, body) == f"sha256={expected}"
    assert sign(SecretStr(SECRET), NOW, body) == sign(SECRET.encode(), NOW, body)


def test_genuine_request_verifies() -> None:
    body = notification().to_json_bytes()
    verify_signature(SECRET, str(NOW), sign(SECRET, NOW, body), body, now=NOW + 5)
    verify_signature(
        SECRET, str(NOW), sign(SECRET, NOW, body), body, now=datetime.fromtimestamp(NOW, UTC)
    )


@pytest.mark.parametrize(
    ("ts", "sig", "body", "now", "message"),
    [
        (None, "sha256=" + "0" * 64, b"x", NOW, "missing X-Vendorwatch-Timestamp"),
        (str(NOW), None, b"x", NOW, "missing X-Vendorwatch-Signature"),
        ("yesterday", "sha256=" + "0" * 64, b"x", NOW, "not an integer"),
        (str(NOW), "sha1=abc", b"x", NOW, "must be sha256="),
        (str(NOW), "sha256=" + "A" * 64, b"x", NOW, "lowercase hex"),
    ],
)
def test_malformed_requests_are_refused(
    ts: str | None, sig: str | None, body: bytes, now: int, message: str
) -> None:
    with pytest.raises(SignatureError, match=message):
        verify_signature(SECRET, ts, sig, body, now=now)


def test_tampered_body_is_refused() -> None:
    body = b'{"vendor_id":"vendor-scale-ai","score":78.6}'
    sig = sign(SECRET, NOW, body)
    with pytest.raises(SignatureError, match="mismatch"):
        verify_signature(SECRET, str(NOW), sig, body.replace(b"78.6", b"7.86"), now=NOW)


def test_wrong_secret_is_refused_and_not_echoed() -> None:
    body = b"{}"
    with pytest.raises(SignatureError) as info:
        verify_signature("other-secret-value", str(NOW), sign(SECRET, NOW, body), body, now=NOW)
    assert SECRET not in str(info.value)
    assert "other-secret-value" not in str(info.value)


def test_timestamp_cannot_be_moved_to_refresh_a_captured_request() -> None:
    body = b"{}"
    sig = sign(SECRET, NOW, body)
    with pytest.raises(SignatureError, match="mismatch"):
        verify_signature(SECRET, str(NOW + 100), sig, body, now=NOW + 100)


@pytest.mark.parametrize(("skew", "word"), [(301, "old"), (-301, "in the future")])
def test_stale_or_future_timestamps_are_refused(skew: int, word: str) -> None:
    body = b"{}"
    with pytest.raises(SignatureError, match=word):
        verify_signature(SECRET, str(NOW), sign(SECRET, NOW, body), body, now=NOW + skew)
    sig = sign(SECRET, NOW, body)
    verify_signature(SECRET, str(NOW), sig, body, now=NOW + skew, tolerance_s=400)


@given(st.binary(max_size=2000), st.integers(0, 2**40), st.binary(min_size=1, max_size=2000))
def test_any_single_change_breaks_the_signature(body: bytes, ts: int, extra: bytes) -> None:
    sig = sign(SECRET, ts, body)
    verify_signature(SECRET, str(ts), sig, body, now=ts)
    with pytest.raises(SignatureError):
        verify_signature(SECRET, str(ts), sig, body + extra, now=ts)

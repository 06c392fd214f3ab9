"""Calendly: ``t=<unix>,v1=<hex HMAC of "{t}.{body}">`` and a 3-minute replay window."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.inbound import WebhookRejected, verify
from connectors.inbound.calendly import sign_calendly
from tests.connectors.inbound.helpers import CALENDLY_BODY, CALENDLY_INVITEE, NOW, SECRETS, request, signed

SECRET = SECRETS["calendly"]
T = int(NOW.timestamp())


def rejection(
    headers: dict[str, str], body: bytes = CALENDLY_BODY, *, now: datetime = NOW, secret: str = SECRET
) -> tuple[str, int]:
    with pytest.raises(WebhookRejected) as excinfo:
        verify("calendly", request(headers, body), secret=secret, now=now)
    return excinfo.value.code, excinfo.value.status


def test_calendly_signs_the_timestamp_a_dot_and_the_raw_body_in_hex() -> None:
    digest = hmac.new(SECRET.encode(), f"{T}.".encode() + CALENDLY_BODY, hashlib.sha256).hexdigest()
    assert sign_calendly(SECRET, T, CALENDLY_BODY) == {"Calendly-Webhook-Signature": f"t={T},v1={digest}"}


def test_a_signed_invitee_created_verifies_with_event_and_invitee_uri_as_its_id() -> None:
    event = verify("calendly", signed("calendly"), secret=SECRET, now=NOW)
    assert event.event_type == "invitee.created"
    assert event.event_id == f"invitee.created:{CALENDLY_INVITEE}"
    assert event.occurred_at == datetime(2026, 3, 2, 15, 3, 57, tzinfo=UTC)


def test_cancelling_the_same_invitee_is_a_different_event() -> None:
    body = json.loads(CALENDLY_BODY)
    body["event"] = "invitee.canceled"
    raw = json.dumps(body).encode()
    event = verify("calendly", request(sign_calendly(SECRET, T, raw), raw), secret=SECRET, now=NOW)
    assert event.event_id == f"invitee.canceled:{CALENDLY_INVITEE}"


def test_without_a_payload_uri_the_id_is_the_body_digest() -> None:
    raw = b'{"event":"invitee.created","payload":{}}'
    event = verify("calendly", request(sign_calendly(SECRET, T, raw), raw), secret=SECRET, now=NOW)
    assert event.event_id == hashlib.sha256(b"calendly" + raw).hexdigest()


def test_spaces_around_the_header_elements_are_tolerated() -> None:
    value = sign_calendly(SECRET, T, CALENDLY_BODY)["Calendly-Webhook-Signature"].replace(",", ", ")
    assert (
        verify(
            "calendly", request({"calendly-webhook-signature": value}, CALENDLY_BODY), secret=SECRET, now=NOW
        ).event_type
        == "invitee.created"
    )


def test_a_delivery_three_minutes_old_passes_and_one_second_more_is_stale() -> None:
    headers = sign_calendly(SECRET, T, CALENDLY_BODY)
    assert verify("calendly", request(headers, CALENDLY_BODY), secret=SECRET, now=NOW + timedelta(minutes=3))
    assert rejection(headers, now=NOW + timedelta(minutes=3, seconds=1)) == ("stale_timestamp", 401)


def test_a_timestamp_more_than_three_minutes_ahead_is_from_the_future() -> None:
    headers = sign_calendly(SECRET, T + 181, CALENDLY_BODY)
    assert rejection(headers) == ("future_timestamp", 401)


def test_a_tampered_calendly_body_fails() -> None:
    headers = sign_calendly(SECRET, T, CALENDLY_BODY)
    assert rejection(headers, CALENDLY_BODY.replace(b"Suite 200", b"Suite 201")) == (
        "signature_mismatch",
        401,
    )


def test_a_signature_moved_to_a_fresh_timestamp_fails() -> None:
    old = sign_calendly(SECRET, T - 3600, CALENDLY_BODY)["Calendly-Webhook-Signature"]
    replayed = old.replace(f"t={T - 3600}", f"t={T}")
    assert rejection({"Calendly-Webhook-Signature": replayed}) == ("signature_mismatch", 401)


def test_calendly_signed_with_another_key_fails() -> None:
    assert rejection(sign_calendly("another-key", T, CALENDLY_BODY)) == ("signature_mismatch", 401)


def test_a_calendly_request_without_its_signature_header_fails() -> None:
    assert rejection({"Content-Type": "application/json"}) == ("missing_signature", 401)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (f"v1={'0' * 64}", "missing_timestamp"),
        (f"t=,v1={'0' * 64}", "missing_timestamp"),
        (f"t={T}", "bad_signature_format"),
        (f"t={T},v1=xyz", "bad_signature_format"),
        (f"t=soon,v1={'0' * 64}", "bad_signature_format"),
        (f"t={T}.5,v1={'0' * 64}", "bad_signature_format"),
    ],
)
def test_a_malformed_calendly_header_is_rejected(value: str, code: str) -> None:
    assert rejection({"Calendly-Webhook-Signature": value})[0] == code

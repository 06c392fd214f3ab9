"""Typeform and Cal.com: an HMAC of the raw body, base64 after ``sha256=`` and plain hex."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from connectors.inbound import WebhookRejected, verify
from connectors.inbound.calcom import sign_calcom
from connectors.inbound.typeform import sign_typeform
from tests.connectors.inbound.helpers import CALCOM_BODY, NOW, SECRETS, TYPEFORM_BODY, request, signed


def rejection(source_type: str, headers: dict[str, str], body: bytes, secret: str | None = None) -> tuple[str, int]:
    with pytest.raises(WebhookRejected) as excinfo:
        verify(source_type, request(headers, body), secret=secret or SECRETS[source_type], now=NOW)
    return excinfo.value.code, excinfo.value.status


# --- Typeform ---------------------------------------------------------------------------------


def test_typeform_signature_is_sha256_and_the_base64_hmac_of_the_raw_body() -> None:
    digest = hmac.new(SECRETS["typeform"].encode(), TYPEFORM_BODY, hashlib.sha256).digest()
    assert sign_typeform(SECRETS["typeform"], TYPEFORM_BODY) == {
        "Typeform-Signature": "sha256=" + base64.b64encode(digest).decode()
    }


def test_a_signed_typeform_response_verifies_with_its_event_id_type_and_submission_time() -> None:
    event = verify("typeform", signed("typeform"), secret=SECRETS["typeform"], now=NOW)
    assert event.event_id == "01HQ2Z8X9KJ5Y7T3M4N6P8R0S2"
    assert event.event_type == "form_response"
    assert event.occurred_at == datetime(2026, 3, 2, 15, 3, 58, tzinfo=UTC)
    assert event.payload["form_response"]["form_id"] == "lT4Z3j"


def test_typeform_has_no_replay_window_so_an_old_submission_still_verifies() -> None:
    event = verify("typeform", signed("typeform"), secret=SECRETS["typeform"], now=NOW + timedelta(days=30))
    assert event.event_id == "01HQ2Z8X9KJ5Y7T3M4N6P8R0S2"


def test_a_tampered_typeform_body_fails() -> None:
    headers = sign_typeform(SECRETS["typeform"], TYPEFORM_BODY)
    tampered = TYPEFORM_BODY.replace(b"lT4Z3j", b"lT4Z3k")
    assert rejection("typeform", headers, tampered) == ("signature_mismatch", 401)


def test_typeform_signed_with_another_secret_fails() -> None:
    headers = sign_typeform("someone-elses-secret", TYPEFORM_BODY)
    assert rejection("typeform", headers, TYPEFORM_BODY) == ("signature_mismatch", 401)


def test_a_typeform_request_without_its_signature_header_fails() -> None:
    assert rejection("typeform", {"Content-Type": "application/json"}, TYPEFORM_BODY) == (
        "missing_signature",
        401,
    )


@pytest.mark.parametrize("value", ["sha1=abc", "c2lnbmF0dXJl", "sha256=***", "sha256="])
def test_a_typeform_signature_without_the_prefix_or_base64_is_malformed(value: str) -> None:
    assert rejection("typeform", {"Typeform-Signature": value}, TYPEFORM_BODY) == (
        "bad_signature_format",
        400,
    )


def test_typeform_without_an_event_id_falls_back_to_the_body_digest() -> None:
    body = b'{"event_type":"form_response","form_response":{}}'
    event = verify(
        "typeform",
        request(sign_typeform(SECRETS["typeform"], body), body),
        secret=SECRETS["typeform"],
        now=NOW,
    )
    assert event.event_id == hashlib.sha256(b"typeform" + body).hexdigest()
    assert event.occurred_at is None


def test_a_signed_typeform_body_that_is_a_json_array_is_invalid() -> None:
    body = b"[1, 2]"
    assert rejection("typeform", sign_typeform(SECRETS["typeform"], body), body) == ("invalid_body", 400)


# --- Cal.com ----------------------------------------------------------------------------------


def test_calcom_signature_is_the_hex_hmac_of_the_raw_body() -> None:
    digest = hmac.new(SECRETS["calcom"].encode(), CALCOM_BODY, hashlib.sha256).hexdigest()
    assert sign_calcom(SECRETS["calcom"], CALCOM_BODY) == {"X-Cal-Signature-256": digest}


def test_a_signed_calcom_booking_verifies_with_the_body_digest_as_its_id() -> None:
    event = verify("calcom", signed("calcom"), secret=SECRETS["calcom"], now=NOW)
    assert event.event_type == "BOOKING_CREATED"
    assert event.event_id == hashlib.sha256(b"calcom" + CALCOM_BODY).hexdigest()
    assert event.occurred_at == datetime(2026, 3, 2, 15, 3, 59, 538000, tzinfo=UTC)
    assert event.payload["payload"]["uid"] == "bk_8f2d"


def test_an_uppercase_hex_calcom_signature_is_accepted() -> None:
    headers = {"x-cal-signature-256": sign_calcom(SECRETS["calcom"], CALCOM_BODY)["X-Cal-Signature-256"].upper()}
    assert verify("calcom", request(headers, CALCOM_BODY), secret=SECRETS["calcom"], now=NOW).event_type


def test_a_tampered_calcom_body_fails() -> None:
    headers = sign_calcom(SECRETS["calcom"], CALCOM_BODY)
    assert rejection("calcom", headers, CALCOM_BODY.replace(b"ACCEPTED", b"REJECTED")) == (
        "signature_mismatch",
        401,
    )


def test_calcom_signed_with_another_secret_fails() -> None:
    assert rejection("calcom", sign_calcom("other", CALCOM_BODY), CALCOM_BODY) == ("signature_mismatch", 401)


def test_a_calcom_request_without_its_signature_header_fails() -> None:
    assert rejection("calcom", {}, CALCOM_BODY) == ("missing_signature", 401)


def test_calcom_webhook_without_a_secret_says_so() -> None:
    with pytest.raises(WebhookRejected, match="set a secret") as excinfo:
        verify(
            "calcom",
            request({"X-Cal-Signature-256": "no-secret-provided"}, CALCOM_BODY),
            secret=SECRETS["calcom"],
            now=NOW,
        )
    assert excinfo.value.code == "missing_signature"


@pytest.mark.parametrize("value", ["sha256=" + "0" * 64, "0" * 63, "g" * 64, "0" * 65])
def test_a_calcom_signature_that_is_not_64_hex_digits_is_malformed(value: str) -> None:
    assert rejection("calcom", {"X-Cal-Signature-256": value}, CALCOM_BODY) == ("bad_signature_format", 400)

"""Standard Webhooks: the spec's known-answer vector, and every way a delivery must fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.inbound import VerifiedEvent, WebhookRejected, verify
from connectors.inbound.standard_webhooks import (
    decode_secret,
    sign_standard_webhook,
    standard_webhook_headers,
)
from tests.connectors.inbound.helpers import NOW, SECRETS, request, signed

# The vector from the spec's reference libraries (libraries/python/tests/test_webhooks.py).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
AT_VECTOR = datetime.fromtimestamp(TIMESTAMP, UTC)
# A well-formed v1 signature that is not this message's.
WRONG = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="


def vector_headers(**overrides: str) -> dict[str, str]:
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": SIGNATURE}
    headers.update(overrides)
    return headers


def check(
    headers: dict[str, str], body: bytes = BODY, *, now: datetime = AT_VECTOR, secret: str = SECRET
) -> VerifiedEvent:
    return verify("standard_webhook", request(headers, body), secret=secret, now=now)


def code_of(
    headers: dict[str, str], body: bytes = BODY, *, now: datetime = AT_VECTOR, secret: str = SECRET
) -> tuple[str, int]:
    with pytest.raises(WebhookRejected) as excinfo:
        check(headers, body, now=now, secret=secret)
    return excinfo.value.code, excinfo.value.status


def test_signer_reproduces_the_known_answer_vector() -> None:
    assert sign_standard_webhook(SECRET, MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_known_answer_vector_verifies_and_its_webhook_id_is_the_event_id() -> None:
    event = check(vector_headers())
    assert event.source_type == "standard_webhook"
    assert event.event_id == MSG_ID
    assert event.payload == {"test": 2432232314}
    assert event.event_type == "unknown"


def test_secret_without_its_whsec_prefix_is_the_same_key() -> None:
    assert decode_secret(SECRET) == decode_secret(SECRET.removeprefix("whsec_"))
    assert check(vector_headers(), secret=SECRET.removeprefix("whsec_")).event_id == MSG_ID


def test_header_names_are_case_insensitive() -> None:
    headers = {"Webhook-Id": MSG_ID, "WEBHOOK-TIMESTAMP": str(TIMESTAMP), "Webhook-Signature": SIGNATURE}
    assert check(headers).event_id == MSG_ID


def test_type_and_timestamp_of_the_payload_become_event_type_and_time() -> None:
    event = verify("standard_webhook", signed("standard_webhook"), secret=SECRETS["standard_webhook"], now=NOW)
    assert event.event_type == "inquiry.created"
    assert event.occurred_at == datetime(2026, 3, 2, 15, 3, 56, tzinfo=UTC)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-signature"])
def test_a_missing_id_or_signature_header_is_a_missing_signature(missing: str) -> None:
    headers = vector_headers()
    del headers[missing]
    assert code_of(headers) == ("missing_signature", 401)


def test_a_missing_timestamp_header_is_a_missing_timestamp() -> None:
    headers = vector_headers()
    del headers["webhook-timestamp"]
    assert code_of(headers) == ("missing_timestamp", 400)


@pytest.mark.parametrize("value", ["hello", "1614265330.0", "-1614265330", "１６１４２６５３３０", ""])
def test_a_timestamp_that_is_not_ascii_digits_is_rejected_as_malformed(value: str) -> None:
    expected = ("missing_timestamp", 400) if value == "" else ("bad_signature_format", 400)
    assert code_of(vector_headers(**{"webhook-timestamp": value})) == expected


def test_a_timestamp_more_than_five_minutes_old_is_stale() -> None:
    assert code_of(vector_headers(), now=AT_VECTOR + timedelta(minutes=5, seconds=1)) == (
        "stale_timestamp",
        401,
    )


def test_a_timestamp_more_than_five_minutes_ahead_is_from_the_future() -> None:
    late_clock = AT_VECTOR - timedelta(minutes=5, seconds=1)
    assert code_of(vector_headers(), now=late_clock) == ("future_timestamp", 401)


def test_exactly_five_minutes_either_way_is_still_accepted() -> None:
    assert check(vector_headers(), now=AT_VECTOR + timedelta(minutes=5)).event_id == MSG_ID
    assert check(vector_headers(), now=AT_VECTOR - timedelta(minutes=5)).event_id == MSG_ID


def test_a_custom_tolerance_narrows_the_window() -> None:
    req = request(vector_headers(), BODY)
    with pytest.raises(WebhookRejected, match="stale_timestamp"):
        verify(
            "standard_webhook",
            req,
            secret=SECRET,
            now=AT_VECTOR + timedelta(seconds=31),
            tolerance=timedelta(seconds=30),
        )


def test_a_retimestamped_signature_does_not_verify() -> None:
    assert code_of(vector_headers(**{"webhook-timestamp": str(TIMESTAMP + 1)})) == ("signature_mismatch", 401)


def test_another_webhook_id_does_not_verify() -> None:
    assert code_of(vector_headers(**{"webhook-id": MSG_ID + "x"})) == ("signature_mismatch", 401)


def test_the_wrong_secret_does_not_verify() -> None:
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    assert code_of(vector_headers(), secret=other) == ("signature_mismatch", 401)


def test_the_body_reserialised_without_its_space_does_not_verify() -> None:
    assert code_of(vector_headers(), b'{"test":2432232314}') == ("signature_mismatch", 401)


def test_one_valid_signature_among_invalid_ones_passes() -> None:
    header = " ".join([WRONG, "v2," + SIGNATURE[3:], SIGNATURE, WRONG])
    assert check(vector_headers(**{"webhook-signature": header})).event_id == MSG_ID


def test_several_signatures_all_invalid_fail() -> None:
    header = f"{WRONG} {WRONG} v1,{'A' * 44}"
    assert code_of(vector_headers(**{"webhook-signature": header})) == ("signature_mismatch", 401)


def test_unknown_versions_are_ignored_even_when_their_value_would_match() -> None:
    value = SIGNATURE.removeprefix("v1,")
    passing = f"v1a,{value} {SIGNATURE} v2,{value}"
    assert check(vector_headers(**{"webhook-signature": passing})).event_id == MSG_ID
    only_unknown = f"v1a,{value} v2,{value}"
    assert code_of(vector_headers(**{"webhook-signature": only_unknown})) == ("bad_signature_format", 400)


@pytest.mark.parametrize("value", ["v1,not base64!", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", "v1", "v1,"])
def test_a_v1_entry_that_is_not_base64_is_malformed(value: str) -> None:
    assert code_of(vector_headers(**{"webhook-signature": value})) == ("bad_signature_format", 400)


def test_a_malformed_entry_next_to_a_valid_one_does_not_block_it() -> None:
    assert check(vector_headers(**{"webhook-signature": f"v1,%%% {SIGNATURE}"})).event_id == MSG_ID


def test_an_overlong_webhook_id_is_rejected_before_it_could_become_an_event_id() -> None:
    long_id = "msg_" + "x" * 300
    headers = standard_webhook_headers(SECRET, long_id, TIMESTAMP, BODY)
    assert code_of(headers) == ("bad_signature_format", 400)


def test_a_signed_body_that_is_not_json_is_invalid_json() -> None:
    body = b"not json"
    assert code_of(standard_webhook_headers(SECRET, MSG_ID, TIMESTAMP, body), body) == ("invalid_json", 400)


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_not*base64"])
def test_an_unusable_secret_is_a_configuration_error_not_a_rejection(bad: str) -> None:
    with pytest.raises(ValueError, match="Standard Webhooks secret"):
        check(vector_headers(), secret=bad)

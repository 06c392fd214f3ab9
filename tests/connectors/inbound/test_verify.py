"""The shared contract: the table of schemes, size before anything, round trips, quiet errors."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest

from connectors.inbound import (
    SOURCE_TYPES,
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    check_secret,
    verify,
)
from connectors.inbound.calcom import sign_calcom
from connectors.inbound.typeform import sign_typeform
from connectors.inbound.verify import STATUS_BY_CODE, Headers, _table
from tests.canary import CANARIES
from tests.connectors.inbound.helpers import BODIES, NOW, SECRETS, request, signed

SIGNED = sorted(SOURCE_TYPES - {"jotform"})


def test_every_source_type_has_a_verifier_in_the_table() -> None:
    assert set(_table()) == SOURCE_TYPES


@pytest.mark.parametrize("source_type", sorted(SOURCE_TYPES))
def test_what_each_signer_produces_its_verifier_accepts(source_type: str) -> None:
    event = verify(source_type, signed(source_type), secret=SECRETS[source_type], now=NOW)
    assert event.source_type == source_type
    assert event.event_type != "unknown"


@pytest.mark.parametrize("source_type", SIGNED)
def test_signed_requests_verify_with_header_names_in_any_case(source_type: str) -> None:
    original = signed(source_type)
    shouted = {name.upper(): value for name, value in original.headers.items()}
    event = verify(source_type, request(shouted, original.body), secret=SECRETS[source_type], now=NOW)
    assert event.source_type == source_type


@pytest.mark.parametrize("source_type", sorted(SOURCE_TYPES))
def test_an_oversized_body_is_refused_before_it_is_read(source_type: str) -> None:
    body = BODIES[source_type]
    with pytest.raises(WebhookRejected) as excinfo:
        verify(source_type, request({}, body), secret=SECRETS[source_type], now=NOW, max_body=len(body) - 1)
    assert (excinfo.value.code, excinfo.value.status) == ("body_too_large", 413)


def test_a_body_of_exactly_max_body_bytes_is_accepted() -> None:
    body = BODIES["typeform"]
    event = verify("typeform", signed("typeform"), secret=SECRETS["typeform"], now=NOW, max_body=len(body))
    assert event.event_type == "form_response"


@pytest.mark.parametrize("source_type", sorted(SOURCE_TYPES))
def test_rejections_never_echo_the_body_the_secret_or_the_expected_signature(source_type: str) -> None:
    genuine = signed(source_type)
    leaks = [SECRETS[source_type], *CANARIES, *genuine.headers.values()]
    leaks = [s for s in leaks if len(s) >= 8 and "multipart/form-data" not in s]
    token = genuine.path_token
    attempts = [
        request(genuine.headers, genuine.body.replace(b"a", b"b", 1), path_token=None),
        request({}, genuine.body, path_token="x" * 16),
        request({name: value + "0" for name, value in genuine.headers.items()}, genuine.body, path_token=token),
        request({"Content-Type": "text/plain"}, genuine.body, path_token=token),
    ]
    if source_type == "jotform":  # unsigned: a wrong token, the wrong media type, a broken body
        attempts[2] = request(genuine.headers, genuine.body[:-40], path_token=token)
    for attempt in attempts:
        with pytest.raises(WebhookRejected) as excinfo:
            verify(source_type, attempt, secret=SECRETS[source_type], now=NOW)
        error = excinfo.value
        assert error.__cause__ is None
        for text in (str(error), error.detail, repr(error)):
            assert not [leak for leak in leaks if leak in text]


def test_a_json_error_does_not_carry_the_document_in_its_context() -> None:
    body = b'{"note": "' + CANARIES[0].encode() + b'"'  # truncated JSON
    with pytest.raises(WebhookRejected) as excinfo:
        verify(
            "typeform",
            request(sign_typeform(SECRETS["typeform"], body), body),
            secret=SECRETS["typeform"],
            now=NOW,
        )
    assert excinfo.value.code == "invalid_json"
    assert excinfo.value.__context__ is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xef\xbb\xbf{}",  # a byte-order mark
        b'{"a": "\xff"}',  # not UTF-8
        b'{"a": ["\\ud800"]}',  # a lone surrogate
        b"[" * 5000,  # deeper than the decoder recurses
    ],
)
def test_json_that_a_database_could_not_store_is_invalid(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as excinfo:
        verify("calcom", request(sign_calcom(SECRETS["calcom"], body), body), secret=SECRETS["calcom"], now=NOW)
    assert excinfo.value.code == "invalid_json"


def test_every_rejection_code_maps_to_a_4xx() -> None:
    assert set(STATUS_BY_CODE.values()) == {400, 401, 413, 415}
    with pytest.raises(ValueError, match="unknown rejection code"):
        WebhookRejected("nope", "Nope.")


def test_an_unknown_source_type_is_our_bug_not_the_senders() -> None:
    with pytest.raises(ValueError, match="unknown webhook source type"):
        verify("stripe", signed("typeform"), secret="x", now=NOW)


def test_a_naive_now_or_a_non_positive_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify("typeform", signed("typeform"), secret=SECRETS["typeform"], now=datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="tolerance"):
        verify("calendly", signed("calendly"), secret=SECRETS["calendly"], now=NOW, tolerance=timedelta(0))


@pytest.mark.parametrize("source_type", sorted(SOURCE_TYPES))
def test_check_secret_accepts_the_configured_secrets_and_refuses_empty_ones(source_type: str) -> None:
    check_secret(source_type, SECRETS[source_type])
    with pytest.raises(ValueError) as excinfo:
        check_secret(source_type, "")
    assert "secret" in str(excinfo.value) or "token" in str(excinfo.value)


def test_headers_are_a_case_insensitive_read_only_view() -> None:
    headers = Headers({"Webhook-Id": " msg_1 ", "X-Other": "y"})
    assert headers["WEBHOOK-ID"] == "msg_1"
    assert "webhook-id" in headers
    assert headers.get("missing") is None
    assert sorted(headers) == ["webhook-id", "x-other"]
    assert "msg_1" not in repr(headers)


def test_request_repr_shows_neither_body_headers_nor_path_token() -> None:
    req = InboundRequest(
        method="POST",
        url="https://x.example/h",
        headers={"Typeform-Signature": "sha256=abc"},
        body=CANARIES[0].encode(),
        path_token="jf-token-2b9c7e1f0a6d4e8b",
    )
    text = repr(req)
    assert CANARIES[0] not in text
    assert "sha256=abc" not in text
    assert "jf-token" not in text


def test_a_request_body_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="raw bytes"):
        InboundRequest(method="POST", url="u", headers={}, body="text")  # type: ignore[arg-type]


def test_verified_events_validate_their_fields() -> None:
    with pytest.raises(ValueError, match="event_id"):
        VerifiedEvent(source_type="typeform", event_id="x" * 201, event_type="t", payload={})
    with pytest.raises(ValueError, match="unknown source type"):
        VerifiedEvent(source_type="stripe", event_id="x", event_type="t", payload={})
    with pytest.raises(ValueError, match="aware"):
        VerifiedEvent(
            source_type="typeform", event_id="x", event_type="t", payload={}, occurred_at=datetime(2026, 1, 1)
        )


def test_the_fallback_event_id_is_the_sha256_of_source_type_and_body() -> None:
    body = b'{"triggerEvent":"BOOKING_CREATED"}'
    event = verify("calcom", request(sign_calcom(SECRETS["calcom"], body), body), secret=SECRETS["calcom"], now=NOW)
    assert event.event_id == hashlib.sha256(b"calcom" + body).hexdigest()


def test_an_escaped_surrogate_pair_is_ordinary_json() -> None:
    body = b'{"triggerEvent": "BOOKING_CREATED", "note": "\\ud83d\\ude00"}'
    event = verify("calcom", request(sign_calcom(SECRETS["calcom"], body), body), secret=SECRETS["calcom"], now=NOW)
    assert event.payload["note"] == "\U0001f600"

"""HubSpot signature v3, cross-checked against the SDK's own ``hubspot.utils.signature.Signature``.

The SDK reads the real clock (``datetime.now``) to judge the timestamp, so these tests sign with the
real current time and pass the same instant to ``verify``. The SDK takes the URI as given, while
HubSpot signs it with twelve escapes decoded: the SDK is handed the decoded URI, we the raw one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from hubspot.exceptions import InvalidSignatureTimestampError
from hubspot.utils.signature import Signature

from connectors.inbound import WebhookRejected, verify
from connectors.inbound.hubspot_v3 import sign_hubspot_v3, signed_uri
from tests.connectors.inbound.helpers import HUBSPOT_BODY, NOW, SECRETS, request

SECRET = SECRETS["hubspot_v3"]
PLAIN_URL = "https://hub.clinic.example/webhooks/hubspot?portal=62515"
ENCODED_URL = "https://hub.clinic.example/webhooks/hub%3Aspot?next=%2Fa%2Fb%3Fc%3D1&who=%40x%21%24%27%28%29%2a%2C%3b&sp=a%20b&pct=%25"
DECODED_URL = "https://hub.clinic.example/webhooks/hub:spot?next=/a/b?c%3D1&who=@x!$'()*,;&sp=a%20b&pct=%25"


def sdk_says(*, signature: str, method: str, uri: str, body: bytes, timestamp: str) -> bool | str:
    """The SDK's verdict: True, False, or "stale" when it raises on the timestamp."""
    try:
        return bool(
            Signature.is_valid(
                signature=signature,
                client_secret=SECRET,
                request_body=body.decode("utf-8"),
                http_uri=uri,
                http_method=method,
                signature_version="v3",
                timestamp=timestamp,
            )
        )
    except InvalidSignatureTimestampError:
        return "stale"


def we_say(headers: dict[str, str], *, method: str, url: str, body: bytes, now: datetime) -> bool | str:
    """Our verdict in the SDK's terms: True, False (signature mismatch), "stale", or another code."""
    try:
        verify("hubspot_v3", request(headers, body, method=method, url=url), secret=SECRET, now=now)
    except WebhookRejected as exc:
        verdicts: dict[str, bool | str] = {"stale_timestamp": "stale", "signature_mismatch": False}
        return verdicts.get(exc.code, exc.code)
    return True


def real_now() -> tuple[datetime, int]:
    now = datetime.now(UTC)
    return now, int(now.timestamp() * 1000)


def test_the_signed_uri_decodes_exactly_the_twelve_listed_escapes() -> None:
    assert signed_uri(ENCODED_URL) == DECODED_URL
    assert signed_uri("https://x.example/a%2Fb%2fc") == "https://x.example/a/b/c"
    assert signed_uri("https://x.example/%253A") == "https://x.example/%253A"  # one pass, no double decoding


def test_signature_is_base64_hmac_of_method_uri_body_and_millisecond_timestamp() -> None:
    ms = 1772463840123
    source = b"POST" + PLAIN_URL.encode() + HUBSPOT_BODY + str(ms).encode()
    expected = base64.b64encode(hmac.new(SECRET.encode(), source, hashlib.sha256).digest()).decode()
    assert sign_hubspot_v3(SECRET, "POST", PLAIN_URL, HUBSPOT_BODY, ms) == {
        "X-HubSpot-Signature-v3": expected,
        "X-HubSpot-Request-Timestamp": str(ms),
    }


@pytest.mark.parametrize(("url", "sdk_uri"), [(PLAIN_URL, PLAIN_URL), (ENCODED_URL, DECODED_URL)])
@pytest.mark.parametrize(
    "tamper",
    ["none", "body", "method", "url", "timestamp", "secret"],
)
def test_our_verdict_matches_the_sdk(url: str, sdk_uri: str, tamper: str) -> None:
    now, ms = real_now()
    headers = sign_hubspot_v3(SECRET if tamper != "secret" else "not-the-secret", "POST", url, HUBSPOT_BODY, ms)
    method, body = "POST", HUBSPOT_BODY
    if tamper == "body":
        body = HUBSPOT_BODY.replace(b'"lead"', b'"customer"')
    if tamper == "method":
        method = "PUT"
    if tamper == "url":
        url, sdk_uri = url + "&extra=1", sdk_uri + "&extra=1"
    if tamper == "timestamp":
        headers["X-HubSpot-Request-Timestamp"] = str(ms + 1)
    ours = we_say(headers, method=method, url=url, body=body, now=now)
    theirs = sdk_says(
        signature=headers["X-HubSpot-Signature-v3"],
        method=method,
        uri=sdk_uri,
        body=body,
        timestamp=headers["X-HubSpot-Request-Timestamp"],
    )
    assert ours == theirs
    assert ours is (tamper == "none")


def test_a_request_older_than_five_minutes_is_stale_for_both() -> None:
    now, ms = real_now()
    old = ms - 301_000
    headers = sign_hubspot_v3(SECRET, "POST", PLAIN_URL, HUBSPOT_BODY, old)
    assert we_say(headers, method="POST", url=PLAIN_URL, body=HUBSPOT_BODY, now=now) == "stale"
    assert (
        sdk_says(
            signature=headers["X-HubSpot-Signature-v3"],
            method="POST",
            uri=PLAIN_URL,
            body=HUBSPOT_BODY,
            timestamp=str(old),
        )
        == "stale"
    )


def test_a_batch_gets_its_joined_event_ids_type_and_first_occurrence() -> None:
    ms = int(NOW.timestamp() * 1000)
    headers = sign_hubspot_v3(SECRET, "POST", PLAIN_URL, HUBSPOT_BODY, ms)
    event = verify("hubspot_v3", request(headers, HUBSPOT_BODY, url=PLAIN_URL), secret=SECRET, now=NOW)
    assert event.event_id == "100,101"
    assert event.event_type == "contact.propertyChange"
    assert event.occurred_at == datetime(2026, 3, 2, 15, 3, 58, tzinfo=UTC)
    assert [e["objectId"] for e in event.payload] == [123, 124]


def test_a_retry_of_the_same_events_keeps_the_event_id() -> None:
    ms = int(NOW.timestamp() * 1000)
    retry = json.dumps([{**e, "attemptNumber": 1} for e in json.loads(HUBSPOT_BODY)]).encode()
    headers = sign_hubspot_v3(SECRET, "POST", PLAIN_URL, retry, ms)
    assert verify("hubspot_v3", request(headers, retry, url=PLAIN_URL), secret=SECRET, now=NOW).event_id == "100,101"


def test_a_large_batch_id_is_hashed_to_fit_the_inbox() -> None:
    ms = int(NOW.timestamp() * 1000)
    body = json.dumps([{"eventId": 10**12 + i, "subscriptionType": "contact.creation"} for i in range(100)]).encode()
    headers = sign_hubspot_v3(SECRET, "POST", PLAIN_URL, body, ms)
    event_id = verify("hubspot_v3", request(headers, body, url=PLAIN_URL), secret=SECRET, now=NOW).event_id
    assert event_id.startswith("ids-sha256:")
    assert len(event_id) <= 200


def test_events_without_ids_fall_back_to_the_body_digest() -> None:
    ms = int(NOW.timestamp() * 1000)
    body = b'[{"subscriptionType":"contact.creation"}]'
    headers = sign_hubspot_v3(SECRET, "POST", PLAIN_URL, body, ms)
    event = verify("hubspot_v3", request(headers, body, url=PLAIN_URL), secret=SECRET, now=NOW)
    assert event.event_id == hashlib.sha256(b"hubspot_v3" + body).hexdigest()


def rejection(headers: dict[str, str], body: bytes = HUBSPOT_BODY, now: datetime = NOW) -> tuple[str, int]:
    with pytest.raises(WebhookRejected) as excinfo:
        verify("hubspot_v3", request(headers, body, url=PLAIN_URL), secret=SECRET, now=now)
    return excinfo.value.code, excinfo.value.status


def test_a_timestamp_more_than_five_minutes_ahead_is_from_the_future() -> None:
    ms = int((NOW + timedelta(minutes=5, seconds=1)).timestamp() * 1000)
    assert rejection(sign_hubspot_v3(SECRET, "POST", PLAIN_URL, HUBSPOT_BODY, ms)) == (
        "future_timestamp",
        401,
    )


def test_missing_headers_are_reported_by_name() -> None:
    ms = int(NOW.timestamp() * 1000)
    headers = sign_hubspot_v3(SECRET, "POST", PLAIN_URL, HUBSPOT_BODY, ms)
    assert rejection({"X-HubSpot-Request-Timestamp": str(ms)}) == ("missing_signature", 401)
    assert rejection({"X-HubSpot-Signature-v3": headers["X-HubSpot-Signature-v3"]}) == (
        "missing_timestamp",
        400,
    )


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [("not base64!", "1772463845000"), ("c2ln", "1772463845.000"), ("c2ln", "soon")],
)
def test_malformed_headers_are_rejected(signature: str, timestamp: str) -> None:
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}
    assert rejection(headers) == ("bad_signature_format", 400)


@pytest.mark.parametrize("body", [b"{}", b"[]", b"[1]", b'{"eventId": 1}'])
def test_a_signed_body_that_is_not_an_array_of_events_is_invalid(body: bytes) -> None:
    ms = int(NOW.timestamp() * 1000)
    assert rejection(sign_hubspot_v3(SECRET, "POST", PLAIN_URL, body, ms), body) == ("invalid_body", 400)

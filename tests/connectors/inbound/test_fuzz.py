"""Whatever arrives, ``verify`` answers with a VerifiedEvent or a 4xx WebhookRejected, nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.inbound import (
    SOURCE_TYPES,
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    sign_request,
    verify,
)
from connectors.inbound.jotform import encode_jotform_submission
from tests.connectors.inbound.helpers import BODIES, JOTFORM_CONTENT_TYPE, NOW, SECRETS, URL

HEADER_NAMES = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "Typeform-Signature",
    "X-Cal-Signature-256",
    "Calendly-Webhook-Signature",
    "X-HubSpot-Signature-v3",
    "X-HubSpot-Request-Timestamp",
    "Content-Type",
]

MULTIPART_TYPES = [JOTFORM_CONTENT_TYPE, "multipart/form-data; boundary=fuzzBoundary", "multipart/form-data"]
HEADER_VALUES = [
    *MULTIPART_TYPES,
    "t=1772463845,v1=" + "0" * 64,
    "v1,AAAA v1a,BBBB",
    "1772463845",
    "sha256=AAAA",
]

# Any code point, lone surrogates included: header values and tokens come from outside.
anything = st.text(st.characters(exclude_categories=()), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | anything,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(anything, inner, max_size=4),
    max_leaves=12,
)
envelope_keys = st.sampled_from(
    [
        "event_id",
        "event_type",
        "form_response",
        "submitted_at",
        "triggerEvent",
        "createdAt",
        "event",
        "payload",
        "uri",
        "created_at",
        "type",
        "timestamp",
        "eventId",
        "subscriptionType",
        "occurredAt",
    ]
)
envelopes = st.dictionaries(envelope_keys, json_values, max_size=6)


@st.composite
def bodies(draw: st.DrawFn, source_type: str) -> bytes:
    genuine = BODIES[source_type]
    kinds = ["bytes", "json", "envelope", "events", "flipped", "multipart", "genuine"]
    if source_type == "jotform":
        kinds = ["bytes", "flipped", "multipart", "multipart", "multipart", "genuine"]
    kind = draw(st.sampled_from(kinds))
    if kind == "bytes":
        return draw(st.binary(max_size=512))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "envelope":
        return json.dumps(draw(envelopes)).encode()
    if kind == "events":
        return json.dumps(draw(st.lists(envelopes, max_size=4))).encode()
    if kind == "flipped":
        at = draw(st.integers(0, len(genuine) - 1))
        return genuine[:at] + bytes([draw(st.integers(0, 255))]) + genuine[at + 1 :]
    if kind == "multipart":
        fields: dict[str, Any] = draw(
            st.dictionaries(
                st.sampled_from(["formID", "submissionID", "rawRequest", "x"]),
                st.text(max_size=40),
                max_size=4,
            )
        )
        if draw(st.booleans()):
            fields["rawRequest"] = json.dumps(draw(json_values))
        body, _ = encode_jotform_submission(fields, boundary="fuzzBoundary")
        cut = draw(st.integers(0, len(body)))
        return body if draw(st.booleans()) else body[:cut]
    return genuine


@st.composite
def requests(draw: st.DrawFn, source_type: str) -> tuple[InboundRequest, datetime]:
    body = draw(bodies(source_type))
    now = NOW + timedelta(seconds=draw(st.integers(-400, 400)))
    url = draw(st.sampled_from([URL, URL + "?a=%3A%2f%zz", "https://x.example/%E2%82%AC?q=é"]) | anything)
    method = draw(st.sampled_from(["POST", "post", "PUT"]) | anything)
    headers: dict[str, str] = {}
    if source_type == "jotform":
        headers["Content-Type"] = draw(
            st.sampled_from(MULTIPART_TYPES) | anything.map(lambda tail: "multipart/form-data; " + tail) | anything
        )
    elif draw(st.booleans()):
        headers.update(sign_request(source_type, body, secret=SECRETS[source_type], now=NOW, url=url, method=method))
        headers["Content-Type"] = draw(st.sampled_from(["application/json", "application/json; charset=utf-8"]))
    for name in draw(st.lists(st.sampled_from(HEADER_NAMES) | anything, max_size=4)):
        name = draw(st.sampled_from([name, name.upper(), name.lower()]))
        headers[name] = draw(anything | st.sampled_from(HEADER_VALUES))
    token = draw(st.sampled_from([SECRETS["jotform"], SECRETS["jotform"], None]) | anything)
    return InboundRequest(method=method, url=url, headers=headers, body=body, path_token=token), now


@pytest.mark.parametrize("source_type", sorted(SOURCE_TYPES))
def test_verify_only_ever_returns_an_event_or_raises_a_4xx_rejection(source_type: str) -> None:
    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=requests(source_type), max_body=st.sampled_from([256 * 1024, 64]))
    def check(case: tuple[InboundRequest, datetime], max_body: int) -> None:
        request, now = case
        outcome: VerifiedEvent | WebhookRejected
        try:
            outcome = verify(source_type, request, secret=SECRETS[source_type], now=now, max_body=max_body)
        except WebhookRejected as rejected:
            outcome = rejected
        if isinstance(outcome, WebhookRejected):
            assert 400 <= outcome.status < 500
            assert outcome.detail
            return
        event = outcome
        assert isinstance(event, VerifiedEvent)
        assert event.source_type == source_type
        assert 0 < len(event.event_id) <= 200
        assert event.occurred_at is None or event.occurred_at.tzinfo is UTC

    check()

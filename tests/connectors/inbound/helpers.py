"""Builders shared by the signature suites: requests, vendor-shaped bodies, secrets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from connectors.inbound import InboundRequest, WebhookRejected, sign_request
from connectors.inbound.jotform import encode_jotform_submission
from tests.canary import CANARY_EMAIL, CANARY_FIRST, CANARY_TEXT

NOW = datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC)
URL = "https://hub.clinic.example/webhooks/inbound"

SECRETS = {
    "standard_webhook": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "typeform": "tf-secret-9d1c0a7b5e",
    "calcom": "cal-secret-4f2e8a",
    "calendly": "calendly-signing-key-71c3",
    "jotform": "jf-token-2b9c7e1f0a6d4e8b",
    "hubspot_v3": "hs-client-secret-0c8d-4a7f",
}

TYPEFORM_BODY = json.dumps(
    {
        "event_id": "01HQ2Z8X9KJ5Y7T3M4N6P8R0S2",
        "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j",
            "token": "a3a12ec67a1365927098a606107fac15",
            "submitted_at": "2026-03-02T15:03:58Z",
            "definition": {"id": "lT4Z3j", "title": "New patient inquiry", "fields": []},
            "answers": [
                {
                    "type": "email",
                    "email": CANARY_EMAIL,
                    "field": {"id": "Xy1", "type": "email", "ref": "email"},
                },
                {
                    "type": "text",
                    "text": CANARY_TEXT,
                    "field": {"id": "Xy2", "type": "long_text", "ref": "note"},
                },
            ],
            "hidden": {},
        },
    }
).encode()

CALCOM_BODY = json.dumps(
    {
        "triggerEvent": "BOOKING_CREATED",
        "createdAt": "2026-03-02T15:03:59.538Z",
        "payload": {
            "uid": "bk_8f2d",
            "title": "New patient consult",
            "startTime": "2026-03-09T16:00:00Z",
            "endTime": "2026-03-09T16:30:00Z",
            "attendees": [{"name": CANARY_FIRST, "email": CANARY_EMAIL, "timeZone": "America/Chicago"}],
            "responses": {"notes": {"value": CANARY_TEXT}},
            "status": "ACCEPTED",
        },
    }
).encode()

CALENDLY_INVITEE = "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/AAAAAAAAAAAAAAAA"
CALENDLY_BODY = json.dumps(
    {
        "created_at": "2026-03-02T15:03:57.000000Z",
        "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
        "event": "invitee.created",
        "payload": {
            "uri": CALENDLY_INVITEE,
            "email": CANARY_EMAIL,
            "name": CANARY_FIRST,
            "timezone": "America/Chicago",
            "scheduled_event": {
                "uri": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
                "start_time": "2026-03-09T16:00:00.000000Z",
                "end_time": "2026-03-09T16:30:00.000000Z",
                "location": {"type": "physical", "location": "Suite 200"},
            },
        },
    }
).encode()

HUBSPOT_BODY = json.dumps(
    [
        {
            "eventId": 100,
            "subscriptionId": 12345,
            "portalId": 62515,
            "appId": 54321,
            "occurredAt": 1772463838000,
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": 123,
            "propertyName": "lifecyclestage",
            "propertyValue": "lead",
            "changeSource": "CRM",
        },
        {
            "eventId": 101,
            "subscriptionId": 12345,
            "portalId": 62515,
            "appId": 54321,
            "occurredAt": 1772463839000,
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": 124,
            "propertyName": "hs_lead_status",
            "propertyValue": "NEW",
            "changeSource": "CRM",
        },
    ],
    separators=(",", ":"),
).encode()

STANDARD_BODY = json.dumps(
    {"type": "inquiry.created", "timestamp": "2026-03-02T15:03:56Z", "data": {"note": CANARY_TEXT}}
).encode()

JOTFORM_ANSWERS = {
    "slug": "submit/241234567890123",
    "q3_fullName": {"first": CANARY_FIRST, "last": "Doe"},
    "q4_email": CANARY_EMAIL,
    "q5_reason": CANARY_TEXT,
}
JOTFORM_FIELDS = {
    "formID": "241234567890123",
    "submissionID": "5912345678901234567",
    "formTitle": "New patient inquiry",
    "ip": "203.0.113.7",
    "pretty": f"Name:{CANARY_FIRST} Doe, Email:{CANARY_EMAIL}",
    "rawRequest": json.dumps(JOTFORM_ANSWERS),
    "type": "WEB",
}
JOTFORM_BODY, JOTFORM_CONTENT_TYPE = encode_jotform_submission(JOTFORM_FIELDS, boundary="----jotformBoundary7MA4YWxk")

BODIES = {
    "standard_webhook": STANDARD_BODY,
    "typeform": TYPEFORM_BODY,
    "calcom": CALCOM_BODY,
    "calendly": CALENDLY_BODY,
    "jotform": JOTFORM_BODY,
    "hubspot_v3": HUBSPOT_BODY,
}


def request(
    headers: Mapping[str, str],
    body: bytes,
    *,
    url: str = URL,
    method: str = "POST",
    path_token: str | None = None,
) -> InboundRequest:
    sent = dict(headers)
    if not any(name.lower() == "content-type" for name in sent):
        sent["Content-Type"] = "application/json"  # as every JSON sender labels its body
    return InboundRequest(method=method, url=url, headers=sent, body=body, path_token=path_token)


def signed(source_type: str, body: bytes | None = None, *, at: datetime = NOW, url: str = URL) -> InboundRequest:
    """A request exactly as the vendor would send it: right secret, right time, right headers."""
    body = BODIES[source_type] if body is None else body
    if source_type == "jotform":
        return request({"Content-Type": JOTFORM_CONTENT_TYPE}, body, url=url, path_token=SECRETS["jotform"])
    headers = sign_request(source_type, body, secret=SECRETS[source_type], now=at, url=url)
    return request({**headers, "Content-Type": "application/json"}, body, url=url)


def rejected(excinfo: pytest.ExceptionInfo[WebhookRejected]) -> tuple[str, int]:
    return excinfo.value.code, excinfo.value.status

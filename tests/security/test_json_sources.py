"""JSON sources answer 415 to other content types, and refuse numbers that are not finite
(issue 18: JSON sources accepted any Content-Type, and ``1e999999`` parsed to infinity)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from connectors.inbound.verify import WebhookRejected, parse_json
from hub.app.bootstrap import Hub
from tests.fixtures.clock import ManualClock
from tests.webapp.conftest import signed

JSON_SOURCES = ["landing_page", "website_form", "booking", "intro_call"]
INQUIRY = {"channel": "paid_search", "first_name": "Ana", "phone": "+15125550188", "text": "book me"}


@pytest.mark.parametrize("source", JSON_SOURCES)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "json"]
)
def test_a_json_source_answers_415_to_another_content_type(
    client: FlaskClient, clock: ManualClock, source: str, content_type: str
) -> None:
    response = signed(client, source, INQUIRY, now=clock.now, headers={"Content-Type": content_type})
    assert response.status_code == 415
    assert response.json == {
        "error": "unsupported_media_type",
        "detail": "This source sends JSON: the Content-Type must be application/json.",
    }


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_json_with_or_without_a_charset_is_accepted(client: FlaskClient, clock: ManualClock, content_type: str) -> None:
    response = signed(client, "landing_page", INQUIRY, now=clock.now, headers={"Content-Type": content_type})
    assert response.status_code == 202


@pytest.mark.parametrize("number", [b"1e999999", b"-1e999999", b"1E400", b"NaN", b"Infinity", b"-Infinity"])
def test_a_number_that_is_not_finite_is_refused(
    client: FlaskClient, hub: Hub, clock: ManualClock, number: bytes
) -> None:
    body = b'{"channel": "paid_search", "first_name": "Ana", "phone": "+15125550188", "age": ' + number + b"}"
    response = signed(client, "landing_page", body, now=clock.now)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_json"
    with pytest.raises(WebhookRejected):
        parse_json(b"[" + number + b"]")


def test_large_but_finite_numbers_still_parse() -> None:
    assert parse_json(b"[1e308, 123456789012345678901234567890, -0.0]") == [1e308, 123456789012345678901234567890, -0.0]

"""Rate limits, injected faults and authentication, as the real SDK sees them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import hubspot
import pytest
from hubspot.crm.contacts import PublicObjectSearchRequest
from hubspot.crm.contacts.exceptions import ApiException

from sandboxes.common import Faults, SandboxServer
from sandboxes.hubspot import HubSpotSandbox, RateLimits
from tests.fixtures.hubspot_sandbox import no_retry


def _page(client: hubspot.Client) -> Any:
    return client.crm.contacts.basic_api.get_page_with_http_info(limit=1)


def _failure(client: hubspot.Client) -> ApiException:
    with pytest.raises(ApiException) as caught:
        _page(client)
    return caught.value


def _body(error: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.body)
    uuid.UUID(body["correlationId"])
    return body


@pytest.mark.parametrize("hubspot_limits", [RateLimits(burst=3, search_per_second=1000)])
def test_burst_limit_answers_hubspots_429(hubspot_client: hubspot.Client) -> None:
    for _ in range(3):
        _page(hubspot_client)
    error = _failure(hubspot_client)
    assert error.status == 429
    body = _body(error)
    assert {k: v for k, v in body.items() if k != "correlationId"} == {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
    }
    assert int(error.headers["Retry-After"]) >= 1
    assert error.headers["X-HubSpot-RateLimit-Remaining"] == "0"


@pytest.mark.parametrize("hubspot_limits", [RateLimits(burst=1000, search_per_second=5)])
def test_search_is_limited_to_five_a_second(hubspot_client: hubspot.Client) -> None:
    for _ in range(5):
        hubspot_client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1))
    with pytest.raises(ApiException) as caught:
        hubspot_client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1))
    assert caught.value.status == 429
    assert _body(caught.value)["policyName"] == "SECONDLY"
    assert _body(caught.value)["message"] == "You have reached your secondly limit."
    _page(hubspot_client)  # other endpoints are not held back


def test_injected_429_is_the_secondly_body(hubspot_client: hubspot.Client, hubspot_faults: Faults) -> None:
    hubspot_faults.share_429 = 1.0
    hubspot_faults.retry_after_s = 3
    error = _failure(hubspot_client)
    assert (error.status, _body(error)["policyName"], error.headers["Retry-After"]) == (429, "SECONDLY", "3")


def test_spent_daily_budget_is_the_daily_429(
    hubspot_client: hubspot.Client, hubspot_faults: Faults, hubspot_sandbox: HubSpotSandbox
) -> None:
    hubspot_faults.daily_budget = 2
    _page(hubspot_client)
    _, _, headers = _page(hubspot_client)
    assert (headers["X-HubSpot-RateLimit-Daily"], headers["X-HubSpot-RateLimit-Daily-Remaining"]) == (
        "2",
        "0",
    )
    error = _failure(hubspot_client)
    assert error.status == 429
    assert _body(error)["policyName"] == "DAILY"
    assert _body(error)["message"] == "You have reached your daily limit."
    hubspot_sandbox.reset_day()
    _page(hubspot_client)


def test_injected_5xx(hubspot_client: hubspot.Client, hubspot_faults: Faults) -> None:
    hubspot_faults.share_5xx = 1.0
    error = _failure(hubspot_client)
    assert error.status in (502, 503)
    assert _body(error)["status"] == "error"


def test_rate_limit_headers_on_every_call(hubspot_client: hubspot.Client) -> None:
    _, status, headers = _page(hubspot_client)
    assert status == 200
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Max"] == "10000"
    assert int(headers["X-HubSpot-RateLimit-Remaining"]) == 9999
    for name in ("Secondly", "Secondly-Remaining", "Daily", "Daily-Remaining"):
        assert f"X-HubSpot-RateLimit-{name}" in headers


def test_missing_or_unknown_token_is_invalid_authentication(hubspot_server: SandboxServer) -> None:
    client = hubspot.Client.create(access_token="not-a-token", host=hubspot_server.url, retry=no_retry())
    error = _failure(client)
    assert error.status == 401
    body = _body(error)
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found.")


def test_session_expires_after_the_configured_calls(
    hubspot_client: hubspot.Client,
    hubspot_faults: Faults,
    hubspot_sandbox: HubSpotSandbox,
    hubspot_server: SandboxServer,
) -> None:
    hubspot_faults.expire_session_after = 2
    _page(hubspot_client)
    _page(hubspot_client)
    error = _failure(hubspot_client)
    assert error.status == 401
    body = _body(error)
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert body["message"] == "The OAuth token used to make this call expired 0 second(s) ago."
    assert list(body["context"]) == ["expire time"]
    assert _failure(hubspot_client).status == 401  # stays expired
    fresh = hubspot.Client.create(access_token=hubspot_sandbox.issue_token(), host=hubspot_server.url, retry=no_retry())
    _page(fresh)


def test_every_request_is_logged(hubspot_client: hubspot.Client, hubspot_sandbox: HubSpotSandbox) -> None:
    _page(hubspot_client)
    hubspot_client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1))
    log = hubspot_sandbox.log
    assert log.count() == 2
    assert log.count("POST", "/crm/v3/objects/contacts/search", 200) == 1
    assert log.count("GET", "/crm/v3/objects/contacts") == 1
    assert log.count(path_prefix="/crm/v3/objects/contacts") == 2


def test_the_default_sdk_client_waits_out_a_429_that_carries_retry_after(
    hubspot_server: SandboxServer, hubspot_token: str, hubspot_faults: Faults
) -> None:
    hubspot_faults.share_429 = 1.0
    hubspot_faults.retry_after_s = 0
    client = hubspot.Client.create(access_token=hubspot_token, host=hubspot_server.url)
    error = _failure(client)  # urllib3 retried (Retry-After honoured) three times, then gave up
    assert error.status == 429

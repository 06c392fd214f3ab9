"""OAuth (Authlib and the SDK's own oauth api) and state that outlives a restart."""

from __future__ import annotations

import json
from pathlib import Path

import hubspot
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from hubspot.crm.contacts import SimplePublicObjectInputForCreate
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.properties import PropertyCreate
from hubspot.oauth.exceptions import ApiException as OAuthApiException

from sandboxes.common import SandboxServer
from sandboxes.hubspot import HubSpotSandbox, serve_hubspot
from tests.fixtures.clock import ManualClock
from tests.fixtures.hubspot_sandbox import no_retry

REDIRECT = "http://127.0.0.1:9/callback"


@pytest.fixture
def oauth(hubspot_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> OAuth2Session:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    session = OAuth2Session(
        client_id="nurturehub-sandbox",
        client_secret="sandbox-secret",
        scope="oauth crm.objects.contacts.write",
        redirect_uri=REDIRECT,
        token_endpoint_auth_method="client_secret_post",
    )
    session.trust_env = False
    return session


def _authorize(oauth: OAuth2Session, server: SandboxServer) -> str:
    url, _ = oauth.create_authorization_url(f"{server.url}/oauth/authorize", state="xyz")
    with requests.Session() as browser:
        browser.trust_env = False
        answer = browser.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location: str = answer.headers["Location"]
    assert location.startswith(REDIRECT + "?code=")
    assert "state=xyz" in location
    return location


def test_code_flow_then_refresh_with_authlib(oauth: OAuth2Session, hubspot_server: SandboxServer) -> None:
    callback = _authorize(oauth, hubspot_server)
    token = oauth.fetch_token(f"{hubspot_server.url}/oauth/v1/token", authorization_response=callback)
    assert (token["token_type"], token["expires_in"]) == ("bearer", 1800)
    client = hubspot.Client.create(access_token=token["access_token"], host=hubspot_server.url)
    client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "a@example.com"}))

    refreshed = oauth.refresh_token(f"{hubspot_server.url}/oauth/v1/token", refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] == token["refresh_token"]  # HubSpot keeps the refresh token
    info = client.oauth.access_tokens_api.get(refreshed["access_token"])
    assert (info.hub_id, info.token_type) == (1234567, "access")
    assert "crm.objects.contacts.write" in info.scopes
    oauth.close()


def test_sdk_token_exchange_and_bad_code(hubspot_server: SandboxServer, oauth: OAuth2Session) -> None:
    client = hubspot.Client.create(host=hubspot_server.url)
    with pytest.raises(OAuthApiException) as caught:
        client.oauth.tokens_api.create(
            grant_type="authorization_code",
            code="nope",
            redirect_uri=REDIRECT,
            client_id="nurturehub-sandbox",
            client_secret="sandbox-secret",
        )
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert (body["status"], body["message"]) == ("BAD_AUTH_CODE", "missing or unknown auth code")

    code = _authorize(oauth, hubspot_server).split("code=")[1].split("&")[0]
    token = client.oauth.tokens_api.create(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id="nurturehub-sandbox",
        client_secret="sandbox-secret",
    )
    assert token.expires_in == 1800
    with pytest.raises(OAuthApiException) as reused:
        client.oauth.tokens_api.create(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT,
            client_id="nurturehub-sandbox",
            client_secret="sandbox-secret",
        )
    assert json.loads(reused.value.body)["status"] == "BAD_AUTH_CODE"
    with pytest.raises(OAuthApiException) as bad_refresh:
        client.oauth.tokens_api.create(
            grant_type="refresh_token",
            refresh_token="nope",
            client_id="nurturehub-sandbox",
            client_secret="sandbox-secret",
        )
    assert json.loads(bad_refresh.value.body)["status"] == "BAD_REFRESH_TOKEN"


def test_state_survives_a_restart_with_a_file(tmp_path: Path) -> None:
    state = tmp_path / "hubspot.sqlite"
    first = HubSpotSandbox(state_path=state)
    token = first.issue_token()
    with serve_hubspot(first) as server:
        client = hubspot.Client.create(access_token=token, host=server.url)
        client.crm.properties.core_api.create(
            "contacts",
            PropertyCreate(
                name="nurturehub_id", label="id", type="string", field_type="text",
                group_name="contactinformation", has_unique_value=True,
            ),
        )  # fmt: skip
        created = client.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "a@example.com", "nurturehub_id": "lead-1"})
        )
    first.close()

    second = HubSpotSandbox(state_path=state)
    with serve_hubspot(second) as server:
        client = hubspot.Client.create(access_token=token, host=server.url)
        read = client.crm.contacts.basic_api.get_by_id("lead-1", id_property="nurturehub_id")
        assert read.id == created.id
        again = client.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "b@example.com"})
        )
        assert int(again.id) > int(created.id)
    second.close()


def test_oauth_access_token_expires_after_1800_seconds(
    oauth: OAuth2Session, hubspot_server: SandboxServer, hubspot_clock: ManualClock
) -> None:
    callback = _authorize(oauth, hubspot_server)
    token = oauth.fetch_token(f"{hubspot_server.url}/oauth/v1/token", authorization_response=callback)
    client = hubspot.Client.create(access_token=token["access_token"], host=hubspot_server.url, retry=no_retry())
    client.crm.contacts.basic_api.get_page(limit=1)
    hubspot_clock.advance(seconds=1805)
    with pytest.raises(ContactsApiException) as caught:
        client.crm.contacts.basic_api.get_page(limit=1)
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["category"]) == (401, "EXPIRED_AUTHENTICATION")
    assert body["message"] == "The OAuth token used to make this call expired 5 second(s) ago."
    refreshed = oauth.refresh_token(f"{hubspot_server.url}/oauth/v1/token", refresh_token=token["refresh_token"])
    fresh = hubspot.Client.create(access_token=refreshed["access_token"], host=hubspot_server.url)
    assert fresh.crm.contacts.basic_api.get_page(limit=1).results == []
    oauth.close()

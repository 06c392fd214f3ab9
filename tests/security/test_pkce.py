"""OAuth with PKCE (S256) for the CRMs that support it (issue 18): Salesforce and HubSpot both take a
``code_verifier`` at the token endpoint; the local sandboxes verify it like the vendors do, so a
code intercepted on its way back cannot be traded without the verifier the hub kept."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client import OAuthError

from hub.connections.crm import CrmSettings, authorization_url, exchange_code, load_crm_settings
from sandboxes.common import SandboxServer
from tests.fixtures.salesforce_sandbox import SalesforceOrg

REDIRECT = "http://127.0.0.1:9/callback"


def hubspot_settings(server: SandboxServer) -> CrmSettings:
    return load_crm_settings(
        {
            "crm": {
                "hubspot": {
                    "client_id": "nurturehub-sandbox", "api_host": server.url, "redirect_uri": REDIRECT,
                    "authorize_url": f"{server.url}/oauth/authorize", "token_url": f"{server.url}/oauth/v1/token",
                }
            }
        }
    )["hubspot"]  # fmt: skip


def salesforce_settings(org: SalesforceOrg) -> CrmSettings:
    return load_crm_settings(
        {
            "crm": {
                "salesforce": {
                    "client_id": org.sandbox.client_id, "login_url": org.server.url, "redirect_uri": REDIRECT,
                    "ca_bundle": str(org.ca_path),
                }
            }
        }
    )["salesforce"]  # fmt: skip


def follow(url: str, verify: str | bool = True) -> str:
    with requests.Session() as browser:
        browser.trust_env = False
        answer = browser.get(url, allow_redirects=False, timeout=10, verify=verify)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture(autouse=True)
def _loopback_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the redirect URI is http://127.0.0.1


def check_flow(settings: CrmSettings, secret: str, verify: str | bool = True) -> None:
    request = authorization_url(settings, secret)
    query = parse_qs(urlsplit(request.url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [s256(request.code_verifier)]
    assert len(request.code_verifier) >= 43 and request.code_verifier not in request.url

    # A code intercepted on its way back is useless without the verifier …
    stolen = follow(request.url, verify)
    with pytest.raises(OAuthError):
        exchange_code(settings, secret, callback_url=stolen, state=request.state)
    with pytest.raises(OAuthError):
        exchange_code(settings, secret, callback_url=stolen, state=request.state, code_verifier="x" * 64)
    # … and the hub, which kept it, trades its own code.
    again = authorization_url(settings, secret)
    token = exchange_code(
        settings, secret, callback_url=follow(again.url, verify), state=again.state, code_verifier=again.code_verifier
    )
    assert token["access_token"]


def test_hubspot_connects_with_pkce_and_its_sandbox_checks_the_verifier(hubspot_server: SandboxServer) -> None:
    check_flow(hubspot_settings(hubspot_server), "sandbox-secret")


def test_salesforce_connects_with_pkce_and_its_sandbox_checks_the_verifier(sf_org: SalesforceOrg) -> None:
    check_flow(salesforce_settings(sf_org), sf_org.sandbox.client_secret, verify=str(sf_org.ca_path))

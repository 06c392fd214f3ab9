"""A wired hub and its Flask app, on a temporary SQLite store (or PostgreSQL, where marked)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from connectors.inbound import sign_request
from hub.app.bootstrap import Hub, build_hub
from hub.settings.config import HubConfig
from tests.fixtures.clock import ManualClock
from webapp import create_app

#: Secrets for every source of the example config, as a deployment would set them.
SECRETS = {
    "NURTUREHUB_SECRET_WEBSITE_FORM": "typeform-secret-0123456789",
    "NURTUREHUB_SECRET_LANDING_PAGE": "whsec_" + base64.b64encode(b"landing-page-secret-32-bytes-ok!").decode(),
    "NURTUREHUB_SECRET_REFERRAL_PORTAL": "whsec_" + base64.b64encode(b"referral-portal-secret-32-bytes!").decode(),
    "NURTUREHUB_SECRET_CONTACT_FORM": "jotform-path-token-0123456789abcdef",
    "NURTUREHUB_SECRET_BOOKING": "calcom-secret-0123456789",
    "NURTUREHUB_SECRET_INTRO_CALL": "calendly-signing-key-0123456789",
    "NURTUREHUB_SECRET_CRM_EVENTS": "hubspot-client-secret-0123456789",
}


def environ() -> dict[str, str]:
    return {"NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(), **SECRETS}


@pytest.fixture
def hub(tmp_path: Path, config: HubConfig, clock: ManualClock) -> Iterator[Hub]:
    the_hub = build_hub(config, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", environ=environ(), clock=clock)
    yield the_hub
    the_hub.close()


@pytest.fixture
def app(hub: Hub) -> Flask:
    return create_app(hub, TESTING=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def signed(
    client: FlaskClient,
    source: str,
    payload: Any,
    *,
    now: datetime,
    source_type: str | None = None,
    headers: dict[str, str] | None = None,
    event_id: str | None = None,
) -> Any:
    """POST ``payload`` to ``/webhooks/<source>``, signed as that source's sender would sign it."""
    hub: Hub = client.application.extensions["nurturehub"]
    src = hub.config.sources[source]
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    url = f"http://localhost/webhooks/{source}"
    signature = sign_request(
        source_type or src.type, body, secret=SECRETS[src.secret_env], now=now, url=url, event_id=event_id
    )
    return client.post(
        f"/webhooks/{source}",
        data=body,
        headers={"Content-Type": "application/json", **signature, **(headers or {})},
    )

"""Under pressure: concurrent duplicate deliveries, and thousands of malformed requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.inbound import sign_request
from hub.app.bootstrap import Hub, build_hub
from hub.settings.config import HubConfig
from hub.store.models import InboxRow, LeadRow
from sandboxes.common import SandboxServer
from tests.fixtures.clock import ManualClock
from tests.webapp.conftest import SECRETS, environ
from webapp import create_app


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served_hub(
    request: pytest.FixtureRequest, tmp_path: Path, config: HubConfig, clock: ManualClock
) -> Iterator[tuple[Hub, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    hub = build_hub(config, database_url=url, environ=environ(), clock=clock)
    with SandboxServer(create_app(hub)) as server:
        yield hub, server.url
    if request.param == "postgresql":
        with hub.store.engine.begin() as conn:
            from hub.store.models import Base

            conn.exec_driver_sql(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE")
    hub.close()


def count(hub: Hub, model: type) -> int:
    with hub.store.tx() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_the_same_event_delivered_50_times_at_once_makes_one_lead(
    served_hub: tuple[Hub, str], clock: ManualClock
) -> None:
    hub, base = served_hub
    body = json.dumps({"channel": "paid_search", "first_name": "Maya", "phone": "(512) 555-0101"}).encode()
    headers = sign_request(
        "standard_webhook",
        body,
        secret=SECRETS["NURTUREHUB_SECRET_LANDING_PAGE"],
        now=clock.now,
        event_id="msg_dup",
    )
    headers["Content-Type"] = "application/json"
    statuses: list[int] = []
    barrier = threading.Barrier(50)

    def deliver() -> None:
        with requests.Session() as session:
            session.trust_env = False
            barrier.wait()
            response = session.post(f"{base}/webhooks/landing_page", data=body, headers=headers, timeout=30)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=deliver) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(statuses)) == [200, 202]
    assert statuses.count(202) == 1
    assert count(hub, InboxRow) == 1
    hub.inbox.process(now=clock.now)
    hub.inbox.process(now=clock.now)
    assert count(hub, LeadRow) == 1


HEADER_NAMES = st.sampled_from(
    ["webhook-id", "webhook-timestamp", "webhook-signature", "Typeform-Signature", "X-Cal-Signature-256",
     "Calendly-Webhook-Signature", "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "Content-Type"]
)  # fmt: skip
HEADER_VALUES = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    st.sampled_from(["v1,", "v1,AAAA", "sha256=", "t=1,v1=zz", "multipart/form-data; boundary=x", "0", "-1", "9" * 30]),
)
SOURCES = st.sampled_from(["website_form", "landing_page", "contact_form", "booking", "intro_call", "crm_events", "x"])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    source=SOURCES,
    token=st.one_of(st.none(), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=40)),
    headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=5),
    body=st.one_of(
        st.binary(max_size=600),
        st.text(max_size=300).map(str.encode),
        st.sampled_from([b"{}", b"[]", b"null"]),
    ),
)
def test_malformed_requests_get_4xx_json_and_write_nothing(
    client: FlaskClient, hub: Hub, source: str, token: str | None, headers: dict[str, str], body: bytes
) -> None:
    path = f"/webhooks/{source}" + (f"/{token}" if token else "")
    response = client.post(path, data=body, headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:200])
    assert response.is_json
    assert set(response.json or {}) >= {"error", "detail"}
    assert count(hub, InboxRow) == 0

"""Connections (OAuth with the HubSpot sandbox), sync errors, leads and users."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from hub.accounts import users
from hub.app.bootstrap import Hub, build_hub
from hub.connections.crm import load_crm_settings
from hub.settings.config import HubConfig
from hub.store.models import AuditRow, ConnectionRow, InboxRow, OutboxRow
from nurture.inquiry import Inquiry
from nurture.vocab import Channel
from sandboxes.common import SandboxServer
from tests.canary import CANARY_EMAIL, CANARY_FIRST, CANARY_LAST, CANARY_PHONE
from tests.fixtures.clock import ManualClock
from tests.webapp.admin_support import PASSWORD, form_values, post, sign_in, signed_in, text_of
from tests.webapp.conftest import environ

SANDBOX_ID, SANDBOX_SECRET = "nurturehub-sandbox", "sandbox-secret"


def audits(hub: Hub, action: str) -> list[AuditRow]:
    with hub.store.tx() as s:
        return list(s.scalars(select(AuditRow).where(AuditRow.action == action)))


# --- connections -----------------------------------------------------------------------------------


@pytest.fixture
def hub(tmp_path: Path, config: HubConfig, clock: ManualClock, hubspot_server: SandboxServer) -> Iterator[Hub]:
    """A hub whose HubSpot connection points at the sandbox (the sandbox's published test app)."""
    hs = hubspot_server.url
    crm = load_crm_settings(
        {
            "crm": {
                "hubspot": {
                    "enabled": True,
                    "client_id": SANDBOX_ID,
                    "api_host": hs,
                    "authorize_url": f"{hs}/oauth/authorize",
                    "token_url": f"{hs}/oauth/v1/token",
                    "redirect_uri": "http://localhost/connections/hubspot/callback",
                }
            }
        }
    )
    env = {**environ(), "NURTUREHUB_HUBSPOT_CLIENT_SECRET": SANDBOX_SECRET}
    the_hub = build_hub(config, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", environ=env, clock=clock, crm=crm)
    yield the_hub
    the_hub.close()


@pytest.fixture
def admin(app: Flask, hub: Hub) -> FlaskClient:
    return signed_in(app, hub, "admin", "ada")


def consent(location: str) -> str:
    """Play the browser at the CRM's consent page (the sandbox approves at once): where it sends us back."""
    response = requests.get(location, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    back = urlsplit(response.headers["Location"])
    return f"{back.path}?{back.query}"


def test_connecting_hubspot_by_oauth_stores_tokens_and_shows_it_connected(admin: FlaskClient, hub: Hub) -> None:
    start = post(admin, "/connections/hubspot/connect")
    assert start.status_code == 303  # type: ignore[attr-defined]
    location = start.headers["Location"]  # type: ignore[attr-defined]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(hub.crm["hubspot"].authorize_url)
    assert query["client_id"] == [SANDBOX_ID] and query["state"]
    done = admin.get(consent(location))
    assert done.status_code == 303
    page = text_of(admin.get("/connections").text)
    assert "HubSpot is connected." in page and "Status connected" in page
    assert hub.tokens("hubspot").token().access_token
    with hub.store.tx() as s:
        row = s.get(ConnectionRow, "hubspot")
        assert row is not None and row.tokens is not None and b"access_token" not in row.tokens  # encrypted
    assert [a.actor for a in audits(hub, "connection.connect")] == ["user:1:ada"]


def test_a_callback_with_another_state_is_refused(admin: FlaskClient, hub: Hub) -> None:
    location = post(admin, "/connections/hubspot/connect").headers["Location"]  # type: ignore[attr-defined]
    back = consent(location).replace("state=", "state=forged")
    response = admin.get(back)
    assert response.status_code == 400
    assert "does not belong to a connection started here" in text_of(response.text)
    with hub.store.tx() as s:
        assert s.get(ConnectionRow, "hubspot") is None


def test_a_callback_that_was_never_started_is_refused(admin: FlaskClient) -> None:
    assert admin.get("/connections/hubspot/callback?code=abc&state=xyz").status_code == 400


def test_a_refusal_at_the_crm_is_reported(admin: FlaskClient) -> None:
    post(admin, "/connections/hubspot/connect")
    admin.get("/connections/hubspot/callback?error=access_denied&state=x")
    assert "HubSpot did not grant access (access_denied)." in text_of(admin.get("/connections").text)


def test_disconnecting_forgets_the_tokens(admin: FlaskClient, hub: Hub) -> None:
    admin.get(consent(post(admin, "/connections/hubspot/connect").headers["Location"]))  # type: ignore[attr-defined]
    assert post(admin, "/connections/hubspot/disconnect").status_code == 303  # type: ignore[attr-defined]
    with hub.store.tx() as s:
        row = s.get(ConnectionRow, "hubspot")
        assert row is not None and row.tokens is None and row.status == "disconnected"
    assert "Status disconnected" in text_of(admin.get("/connections").text)


def test_the_page_shows_the_api_budget_and_last_sync(admin: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    with hub.store.tx() as s:
        s.add(
            ConnectionRow(
                name="hubspot",
                status="connected",
                updated_at=clock.now,
                last_push_at=clock.now,
                api_used=1200,
                api_limit=15000,
            )
        )
    page = text_of(admin.get("/connections").text)
    assert "1200 of 15000 calls today (8%)" in page
    assert "Last push today, 10:00 AM" in page  # 16:00 UTC is 10 in the morning at the clinic
    assert "UTC" not in page


def test_a_coordinator_cannot_connect_or_disconnect(app: Flask, hub: Hub) -> None:
    coordinator = signed_in(app, hub, "coordinator")
    assert post(coordinator, "/connections/hubspot/connect").status_code == 403  # type: ignore[attr-defined]
    assert post(coordinator, "/connections/hubspot/disconnect").status_code == 403  # type: ignore[attr-defined]
    assert "Connect HubSpot" not in coordinator.get("/connections").text


def test_an_unknown_crm_is_a_404(admin: FlaskClient) -> None:
    assert post(admin, "/connections/pipedrive/connect").status_code == 404  # type: ignore[attr-defined]


# --- sync errors ------------------------------------------------------------------------------------


def lead(hub: Hub, clock: ManualClock) -> str:
    result = hub.intake.submit(
        Inquiry(
            channel=Channel.WEBSITE_FORM,
            received_at=clock.now,
            first_name=CANARY_FIRST,
            last_name=CANARY_LAST,
            phone=CANARY_PHONE,
            email=CANARY_EMAIL,
            text="I'd like to book an appointment",
        ),
        actor="test",
    )
    assert result.lead is not None
    return result.lead.id


def seed_errors(hub: Hub, clock: ManualClock) -> tuple[str, str]:
    first, second = lead(hub, clock), lead(hub, clock)
    with hub.store.tx() as s:
        for lead_id in (first, second):
            s.add(
                OutboxRow(
                    destination="salesforce",
                    kind="upsert_lead",
                    key=lead_id,
                    lead_id=lead_id,
                    created_at=clock.now,
                    status="failed",
                    attempts=1,
                    next_attempt_at=clock.now,
                    last_error="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: bad value for restricted picklist field "
                    f"[field Intent__c] (lead {lead_id})",
                    error_code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",  # as hub.sync.Problem stores them
                    error_field="Intent__c",
                )
            )
        s.add(
            OutboxRow(
                destination="salesforce",
                kind="upsert_task",
                key=f"{first}:day0_call",
                lead_id=first,
                created_at=clock.now,
                status="dead",
                attempts=8,
                next_attempt_at=clock.now,
                last_error="retry_later: Salesforce answered 503",
                error_code="retry_later",
            )
        )
    hub.inbox.accept(
        source="website_form", event_id="evt_1", event_type="form_response", payload={}, received_at=clock.now
    )
    with hub.store.tx() as s:
        s.execute(
            update(InboxRow).values(
                status="parked",
                error="unmappable: phone: e164: not a valid phone number",
                error_code="unmappable",
                error_field="phone",
            )
        )
    return first, second


def test_sync_errors_are_grouped_by_kind_and_field_with_lead_links_and_no_phi(
    app: Flask, hub: Hub, clock: ManualClock
) -> None:
    first, second = seed_errors(hub, clock)
    page = signed_in(app, hub, "viewer").get("/sync-errors").text
    text = text_of(page)
    assert "CRM write to salesforce INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST Intent__c 2 (2 failed)" in text
    assert "CRM write to salesforce retry_later — 1 (1 dead)" in text
    assert "Inbound from website_form unmappable phone 1 (1 parked)" in text
    assert f'href="/leads/{first}"' in page and f'href="/leads/{second}"' in page
    for phi in (CANARY_FIRST, CANARY_LAST, CANARY_EMAIL, CANARY_PHONE):
        assert phi not in page
    assert 'href="/mappings/salesforce_lead_default"' in page and 'href="/mappings/typeform_default"' in page


def test_a_coordinator_retries_the_selected_group(app: Flask, hub: Hub, clock: ManualClock) -> None:
    seed_errors(hub, clock)
    coordinator = signed_in(app, hub, "coordinator")
    values = form_values(coordinator.get("/sync-errors").text)
    keys = [v for k, v in values.items() if k == "group"]
    assert keys == []  # nothing is selected until the coordinator ticks a box
    response = post(
        coordinator,
        "/sync-errors/retry",
        {"group": "outbox|salesforce|INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST|Intent__c"},
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    with hub.store.tx() as s:
        statuses = dict(
            s.execute(select(OutboxRow.kind, OutboxRow.status).where(OutboxRow.destination == "salesforce")).all()
        )
    assert statuses == {"upsert_lead": "pending", "upsert_task": "dead"}
    assert "Sent again: 2 CRM write(s) and 0 inbound event(s)." in text_of(coordinator.get("/sync-errors").text)
    [audit] = audits(hub, "sync_errors.retry")
    assert len(audit.detail["outbox"]) == 2


def test_sending_everything_again_replays_parked_events_too(app: Flask, hub: Hub, clock: ManualClock) -> None:
    seed_errors(hub, clock)
    coordinator = signed_in(app, hub, "coordinator")
    post(coordinator, "/sync-errors/retry", {"group": "all"})
    with hub.store.tx() as s:
        assert set(s.scalars(select(InboxRow.status))) == {"pending"}
        assert set(s.scalars(select(OutboxRow.status))) == {"pending"}
    assert "Nothing has failed." in text_of(coordinator.get("/sync-errors").text)


def test_a_viewer_cannot_retry_or_export(app: Flask, hub: Hub, clock: ManualClock) -> None:
    seed_errors(hub, clock)
    viewer = signed_in(app, hub, "viewer")
    assert post(viewer, "/sync-errors/retry", {"group": "all"}).status_code == 403  # type: ignore[attr-defined]
    assert viewer.get("/sync-errors/export.csv").status_code == 403


def test_sync_errors_export_as_csv_and_the_export_is_audited(app: Flask, hub: Hub, clock: ManualClock) -> None:
    first, _ = seed_errors(hub, clock)
    response = signed_in(app, hub, "coordinator").get("/sync-errors/export.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 4
    assert {r["kind"] for r in rows} == {"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "retry_later", "unmappable"}
    assert any(r["lead_id"] == first and r["field"] == "Intent__c" for r in rows)
    assert CANARY_EMAIL not in response.text
    assert [a.detail for a in audits(hub, "sync_errors.export")] == [{"rows": 4}]


# --- leads ------------------------------------------------------------------------------------------


def test_the_lead_list_shows_ids_and_status_but_no_patient_details(app: Flask, hub: Hub, clock: ManualClock) -> None:
    lead_id = lead(hub, clock)
    page = signed_in(app, hub, "viewer").get("/leads").text
    assert lead_id in page and "website_form" in page
    assert f'href="/leads/{lead_id}"' not in page  # a viewer cannot open the details
    for phi in (CANARY_FIRST, CANARY_LAST, CANARY_EMAIL, CANARY_PHONE):
        assert phi not in page


def test_opening_a_lead_shows_its_details_and_is_audited(app: Flask, hub: Hub, clock: ManualClock) -> None:
    lead_id = lead(hub, clock)
    page = text_of(signed_in(app, hub, "coordinator", "cora").get(f"/leads/{lead_id}").text)
    assert f"{CANARY_FIRST} {CANARY_LAST}" in page and CANARY_EMAIL in page
    [audit] = audits(hub, "lead.view")
    assert (audit.actor, audit.subject_type, audit.subject_id) == ("user:1:cora", "lead", lead_id)


def test_a_coordinator_records_referral_documents_and_the_lead_moves_on(
    app: Flask, hub: Hub, clock: ManualClock
) -> None:
    result = hub.intake.submit(
        Inquiry(channel=Channel.WEBSITE_FORM, received_at=clock.now, phone=CANARY_PHONE, service="physical_therapy",
                text="I'd like to book physical therapy"),
        actor="test",
    )  # fmt: skip
    assert result.lead is not None and result.lead.next_action is not None
    assert result.lead.next_action.kind.value == "request_referral_documents"
    lead_id = result.lead.id
    coordinator = signed_in(app, hub, "coordinator", "cora")
    page = text_of(coordinator.get(f"/leads/{lead_id}").text)
    assert "Physical therapy needs referral documents before any appointment is offered." in page

    response = post(coordinator, f"/leads/{lead_id}/clearance", {"referral_documents": "yes"}, follow_redirects=True)

    assert "Saved. Next action: Book an appointment." in text_of(response.text)  # type: ignore[attr-defined]
    assert 'id="referral_documents" name="referral_documents" value="yes" checked' in response.text  # type: ignore[attr-defined]
    [audit] = audits(hub, "lead.clearance")
    assert (audit.actor, audit.subject_id) == ("user:1:cora", lead_id)
    assert audit.detail == {"referral_documents": True, "insurance": False, "authorization": False}


def test_clearance_needs_a_coordinator_and_a_csrf_token(app: Flask, hub: Hub, clock: ManualClock) -> None:
    lead_id = lead(hub, clock)
    assert post(signed_in(app, hub, "viewer"), f"/leads/{lead_id}/clearance", {"insurance": "yes"}).status_code == 403  # type: ignore[attr-defined]
    coordinator = signed_in(app, hub, "coordinator")
    assert coordinator.post(f"/leads/{lead_id}/clearance", data={"insurance": "yes"}).status_code == 400
    assert post(coordinator, "/leads/nh_nope/clearance", {"insurance": "yes"}).status_code == 404  # type: ignore[attr-defined]
    assert audits(hub, "lead.clearance") == []


def test_a_viewer_cannot_open_a_lead(app: Flask, hub: Hub, clock: ManualClock) -> None:
    lead_id = lead(hub, clock)
    assert signed_in(app, hub, "viewer").get(f"/leads/{lead_id}").status_code == 403
    assert audits(hub, "lead.view") == []


def test_an_unknown_lead_is_a_404_page(app: Flask, hub: Hub) -> None:
    response = signed_in(app, hub, "coordinator").get("/leads/nh_nope")
    assert response.status_code == 404 and "There is no such lead." in text_of(response.text)


# --- users -------------------------------------------------------------------------------------------


def test_an_admin_adds_a_user_who_can_then_sign_in(admin: FlaskClient, app: Flask, hub: Hub) -> None:
    response = post(
        admin, "/users", {"username": "cora", "display_name": "Cora", "password": PASSWORD, "role": "coordinator"}
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert sign_in(app.test_client(), "cora").status_code == 303  # type: ignore[attr-defined]
    assert [a.actor for a in audits(hub, "user.add")][-1] == "user:1:ada"


def test_a_short_password_is_refused_next_to_the_password_field(admin: FlaskClient) -> None:
    response = post(admin, "/users", {"username": "cora", "password": "short", "role": "coordinator"})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert '<span class="field-error" id="f-password-error"><span>must be at least 12 characters' in response.text  # type: ignore[attr-defined]


def test_roles_change_and_the_last_admin_stays(admin: FlaskClient, hub: Hub) -> None:
    cora = users.add_user(hub.store, username="cora", password=PASSWORD, role="viewer", now=hub.clock())
    post(admin, f"/users/{cora.id}", {"action": "role", "role": "coordinator"})
    changed = users.get_user(hub.store, user_id=cora.id)
    assert changed is not None and changed.role == "coordinator"
    post(admin, "/users/1", {"action": "role", "role": "viewer"})
    assert "this is the last active admin" in text_of(admin.get("/users").text)
    post(admin, "/users/1", {"action": "deactivate"})
    assert "you cannot switch off your own account" in text_of(admin.get("/users").text)


def test_a_coordinator_cannot_manage_users(app: Flask, hub: Hub) -> None:
    coordinator = signed_in(app, hub, "coordinator")
    assert coordinator.get("/users").status_code == 403
    assert "Users</a>" not in coordinator.get("/").text


def test_a_new_password_ends_the_accounts_other_sessions_but_not_the_changers(app: Flask, hub: Hub) -> None:
    admin = signed_in(app, hub, "admin", "ada")
    elsewhere = app.test_client()
    sign_in(elsewhere, "ada")
    new_password = "another long passphrase"
    assert post(admin, "/users/1", {"action": "password", "password": new_password}).status_code == 303  # type: ignore[attr-defined]
    assert admin.get("/users").status_code == 200
    assert elsewhere.get("/users").status_code == 303
    assert sign_in(app.test_client(), "ada", new_password).status_code == 303  # type: ignore[attr-defined]

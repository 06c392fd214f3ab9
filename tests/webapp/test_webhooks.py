"""Inbound webhooks: verify, store durably, answer; then a worker turns them into leads."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connectors.inbound.jotform import encode_jotform_submission
from hub.app.bootstrap import Hub
from hub.app.metrics import REGISTRY
from hub.store import repo
from hub.store.models import InboxRow, LeadRow
from nurture.vocab import Intent, NextActionKind
from tests.canary import CANARY_EMAIL, canary_inquiry_json
from tests.fixtures.clock import ManualClock
from tests.webapp.conftest import SECRETS, signed

PAYLOADS = Path(__file__).resolve().parents[2] / "mapping" / "samples"


def rows(hub: Hub) -> list[InboxRow]:
    with hub.store.tx() as s:
        return list(s.scalars(select(InboxRow)))


def leads(hub: Hub) -> int:
    with hub.store.tx() as s:
        return int(s.scalar(select(func.count()).select_from(LeadRow)) or 0)


def inquiry() -> dict[str, object]:
    return {"channel": "paid_search", "first_name": "Maya", "phone": "(512) 555-0101", "text": "book me in"}


def test_a_signed_event_is_stored_and_acknowledged_with_202(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    response = signed(client, "landing_page", inquiry(), now=clock.now, event_id="msg_1")
    assert response.status_code == 202
    assert response.json == {"status": "accepted", "event_id": "msg_1"}
    [row] = rows(hub)
    assert (row.source, row.event_id, row.status) == ("landing_page", "msg_1", "pending")
    assert leads(hub) == 0  # nothing else happens in the request


def test_the_raw_payload_is_encrypted_at_rest(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    signed(client, "landing_page", canary_inquiry_json(), now=clock.now)
    [row] = rows(hub)
    assert row.payload is not None
    assert CANARY_EMAIL.encode() not in row.payload
    assert CANARY_EMAIL.encode() in hub.vault.decrypt(row.payload)


def test_a_duplicate_delivery_answers_200_and_changes_nothing(
    client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    first = signed(client, "landing_page", inquiry(), now=clock.now, event_id="msg_1")
    again = signed(client, "landing_page", inquiry(), now=clock.now + timedelta(seconds=30), event_id="msg_1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json == {"status": "duplicate", "event_id": "msg_1"}
    assert len(rows(hub)) == 1


def test_a_forged_signature_is_refused_and_nothing_is_written(
    client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    body = json.dumps(inquiry()).encode()
    response = client.post(
        "/webhooks/landing_page",
        data=body,
        headers={
            "webhook-id": "msg_x",
            "webhook-timestamp": str(int(clock.now.timestamp())),
            "webhook-signature": "v1,AAAA",
        },
    )
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["error"] == "signature_mismatch"
    assert rows(hub) == []


def test_a_stale_timestamp_is_refused(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    response = signed(client, "landing_page", inquiry(), now=clock.now - timedelta(minutes=10))
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["error"] == "stale_timestamp"


def test_unknown_sources_and_oversized_bodies_are_refused(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    assert client.post("/webhooks/nope", data=b"{}").status_code == 404
    big = b"{" + b" " * (300 * 1024) + b"}"
    response = client.post("/webhooks/landing_page", data=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json is not None
    assert response.json["error"] == "body_too_large"
    assert rows(hub) == []


def test_a_source_without_its_secret_answers_503(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    hub.environ = {k: v for k, v in hub.environ.items() if k != "NURTUREHUB_SECRET_LANDING_PAGE"}
    response = client.post("/webhooks/landing_page", data=b"{}")
    assert response.status_code == 503
    assert response.json is not None
    assert response.json["error"] == "source_not_configured"


@pytest.mark.parametrize(
    ("source", "env", "bad"),
    [
        ("landing_page", "NURTUREHUB_SECRET_LANDING_PAGE", "whsec_not*base64!"),
        ("contact_form", "NURTUREHUB_SECRET_CONTACT_FORM", "short"),
    ],
)
def test_an_unusable_secret_is_a_counted_503_not_a_crash(
    client: FlaskClient, hub: Hub, source: str, env: str, bad: str
) -> None:
    before = (
        REGISTRY.get_sample_value(
            "nurturehub_webhooks_rejected_total", {"source": source, "code": "source_misconfigured"}
        )
        or 0.0
    )
    hub.environ = {**hub.environ, env: bad}
    response = client.post(f"/webhooks/{source}/{bad}", data=b"{}")
    assert response.status_code == 503
    assert response.json == {
        "error": "source_misconfigured",
        "detail": "this source's secret is not usable; see the hub's log",
    }
    assert (
        REGISTRY.get_sample_value(
            "nurturehub_webhooks_rejected_total", {"source": source, "code": "source_misconfigured"}
        )
        == before + 1
    )
    assert rows(hub) == []


def test_jotform_authenticates_by_its_secret_path_token(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    raw = {"q3_fullName": {"first": "Ana", "last": "Ruiz"}, "q5_phoneNumber": {"full": "(512) 555-0142"}}
    body, content_type = encode_jotform_submission(
        {"formID": "2401", "submissionID": "5801", "rawRequest": json.dumps(raw)}
    )
    token = SECRETS["NURTUREHUB_SECRET_CONTACT_FORM"]
    bad = client.post("/webhooks/contact_form/not-the-token-xxxxxxxx", data=body, content_type=content_type)
    good = client.post(f"/webhooks/contact_form/{token}", data=body, content_type=content_type)
    assert bad.status_code == 401
    assert good.status_code == 202
    assert [r.event_id for r in rows(hub)] == ["5801"]


def test_the_worker_turns_a_typeform_submission_into_a_routed_lead(
    client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    payload = json.loads((PAYLOADS / "typeform_insurance_es.json").read_text(encoding="utf-8"))
    assert signed(client, "website_form", payload, now=clock.now).status_code == 202
    report = hub.inbox.process(now=clock.now)
    assert report.done == 1
    with hub.store.tx() as s:
        lead = repo.load_lead(s, report.lead_ids[0])
    assert lead is not None
    assert lead[0].intent is Intent.INSURANCE_AUTHORIZATION
    assert lead[0].next_action is not None
    assert lead[0].next_action.kind is NextActionKind.VERIFY_INSURANCE
    assert lead[0].preferred_language == "es"
    [row] = rows(hub)
    assert (row.status, row.lead_id) == ("done", lead[0].id)


def test_an_unmappable_event_is_parked_with_a_reason_and_replayed_after_the_fix(
    client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    signed(
        client,
        "landing_page",
        {"first_name": "Ana", "channel": "fax", "phone": "(512) 555-0142"},
        now=clock.now,
    )
    report = hub.inbox.process(now=clock.now)
    assert report.parked == 1
    [row] = rows(hub)
    assert row.status == "parked"
    assert row.error is not None
    assert "channel" in row.error or "invalid_inquiry" in row.error
    # "fix and replay from the start": here the fix is upstream; replay re-runs the whole path
    assert hub.inbox.replay(source="landing_page", now=clock.now) == 1
    assert hub.inbox.process(now=clock.now).parked == 1


def test_processed_payloads_are_purged_after_the_retention_period(
    client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    signed(client, "landing_page", inquiry(), now=clock.now)
    hub.inbox.process(now=clock.now)
    assert hub.inbox.purge(now=clock.now + timedelta(days=29)) == 0
    assert hub.inbox.purge(now=clock.now + timedelta(days=31)) == 1
    [row] = rows(hub)
    assert row.payload is None


def test_rejections_are_counted_per_source_and_reason(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    client.post("/webhooks/landing_page", data=b"{}")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'nurturehub_webhooks_rejected_total{code="missing_signature",source="landing_page"}' in metrics


def test_every_source_types_sample_becomes_a_lead(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    """One realistic sample per source, end to end: signed, stored, processed, sorted."""
    samples = {
        "website_form": "typeform_appointment_en.json",
        "referral_portal": "standard_webhook_referral.json",
        "booking": "calcom_form_submitted_no_event.json",
        "intro_call": "calendly_invitee_created.json",
    }
    for source, name in samples.items():
        payload = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
        assert signed(client, source, payload, now=clock.now).status_code == 202, source
    raw = json.loads((PAYLOADS / "jotform_referral.json").read_text(encoding="utf-8"))
    submission = raw.pop("submissionID")
    body, content_type = encode_jotform_submission(
        {"formID": "243345678901234", "submissionID": submission, "rawRequest": json.dumps(raw)}
    )
    token = SECRETS["NURTUREHUB_SECRET_CONTACT_FORM"]
    assert client.post(f"/webhooks/contact_form/{token}", data=body, content_type=content_type).status_code == 202
    report = hub.inbox.process(now=clock.now)
    assert (report.done, report.parked) == (5, 0), [(r.source, r.status, r.error) for r in rows(hub)]
    assert leads(hub) == 5
    with hub.store.tx() as s:
        by_source = {r.source: r.lead_id for r in s.scalars(select(InboxRow))}
        referral = repo.load_lead(s, str(by_source["contact_form"]))
    assert referral is not None
    assert referral[0].intent is Intent.REFERRAL_COORDINATION
    assert referral[0].external_ids["jotform"] == submission


def test_a_payload_under_a_lost_key_is_parked_and_the_inbox_moves_on(
    client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    assert signed(client, "landing_page", inquiry(), now=clock.now, event_id="msg_lost").status_code == 202
    assert signed(client, "landing_page", inquiry() | {"phone": "(512) 555-0102"}, now=clock.now,
                  event_id="msg_fine").status_code == 202  # fmt: skip
    with hub.store.tx() as s:  # the first was stored under a key this hub no longer has
        row = s.scalars(select(InboxRow).where(InboxRow.event_id == "msg_lost")).one()
        row.payload = Fernet(Fernet.generate_key()).encrypt(b"{}")

    report = hub.inbox.process(now=clock.now)

    assert (report.done, report.parked) == (1, 1)
    parked = {r.event_id: r.error for r in rows(hub) if r.status == "parked"}
    assert list(parked) == ["msg_lost"]
    assert str(parked["msg_lost"]).startswith("payload_undecryptable: stored data cannot be decrypted")

"""Intake and identity on both stores: who is the same person, households, inquiries recorded on
their lead, no lead without a way back, merges and the backfill of leads made before."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from alembic import command
from sqlalchemy import func, select, text

from hub.inbound.identity import MergeRefused, keep_apart, links_of, merge_leads
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.engine import _alembic_config
from hub.store.models import AuditRow, IdentityKeyRow, InboxRow, LeadRow, OutboxRow
from nurture.consent import ConsentEntry
from nurture.errors import SkipRecord
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, ConsentState, ContactChannel, Stage, TouchOutcome
from tests.factories import T0


@pytest.fixture
def intake(store: Store, config: HubConfig) -> Intake:
    ids = count(1)
    return Intake(store, config, destinations=("hubspot",), id_factory=lambda _: f"nh_id{next(ids):04d}")


def inquiry(minutes: int = 0, **kw: object) -> Inquiry:
    values: dict[str, object] = {
        "channel": Channel.WEBSITE_FORM,
        "received_at": T0 + timedelta(minutes=minutes),
        "first_name": "Maria",
        "last_name": "Lopez",
        "phone": "(512) 555-0142",
        "email": "maria.lopez@example.org",
        "text": "I'd like to book an appointment",
    }
    values.update(kw)
    return Inquiry(**values)  # type: ignore[arg-type]


def sms_grant(minutes: int) -> tuple[ConsentEntry, ...]:
    at = T0 + timedelta(minutes=minutes)
    return (ConsentEntry(channel=ContactChannel.SMS, state=ConsentState.GRANTED, at=at, source="form:sms",
                         wording="Text me about my inquiry."),)  # fmt: skip


def leads(store: Store) -> list[LeadRow]:
    with store.tx() as s:
        return list(s.scalars(select(LeadRow).order_by(LeadRow.id)))


def test_another_name_and_email_on_a_known_phone_is_a_new_lead_linked_as_a_household(
    intake: Intake, store: Store
) -> None:
    """Finding 4: the submitter's own name and email are kept, and nothing of theirs (text, SMS
    consent) lands on the first lead."""
    first = intake.submit(inquiry(), actor="test").lead
    second = intake.submit(
        inquiry(5, first_name="Juan", email="juan.lopez@example.org", text="Quiero una cita", consents=sms_grant(5)),
        actor="test",
    ).lead
    assert first is not None
    assert second is not None
    assert second.id != first.id
    assert (second.first_name, second.email, second.phone) == ("Juan", "juan.lopez@example.org", "+15125550142")
    with store.tx() as s:
        maria = repo.load_lead(s, first.id)
        links = links_of(s, second.id)
    assert maria is not None
    assert maria[0].consent.state(ContactChannel.SMS) is ConsentState.UNKNOWN
    assert "Quiero" not in maria[0].inquiry_text
    assert [(v.other_lead_id, v.reason, v.status) for v in links] == [(first.id, "phone_other_name", "open")]


def test_the_same_phone_with_a_compatible_name_is_the_same_lead_and_its_new_email_finds_it_later(
    intake: Intake, store: Store
) -> None:
    first = intake.submit(inquiry(first_name="Robert", last_name="Smith", email=None), actor="test").lead
    again = intake.submit(inquiry(5, first_name="Bob", last_name="Smith", email="bob@example.org"), actor="test").lead
    by_email = intake.submit(inquiry(9, first_name="", last_name="", phone=None, email="BOB@example.org"), actor="t")
    assert first is not None
    assert again is not None
    assert by_email.lead is not None
    assert again.id == first.id == by_email.lead.id
    assert len(leads(store)) == 1


def test_every_inquiry_is_an_inquired_touch_that_does_not_stop_the_cadence(intake: Intake, store: Store) -> None:
    first = intake.submit(inquiry(), actor="test").lead
    assert first is not None
    intake.submit(inquiry(30, channel=Channel.PAID_SEARCH, email=None), actor="test")
    intake.submit(inquiry(60, channel=Channel.GBP_CALL, email=None, first_name="", last_name=""), actor="test")
    with store.tx() as s:
        touches = repo.load_touches(s, first.id)
        lead = repo.load_lead(s, first.id)
        follow = {f.step_key: f.status for f in repo.follow_ups(s, first.id)}
    assert [(t.outcome, t.inquiry_channel, t.channel, t.outbound) for t in touches] == [
        (TouchOutcome.INQUIRED, Channel.WEBSITE_FORM, None, False),
        (TouchOutcome.INQUIRED, Channel.PAID_SEARCH, None, False),
        (TouchOutcome.INQUIRED, Channel.GBP_CALL, ContactChannel.CALL, False),
    ]
    assert not any(t.made_contact for t in touches)
    assert lead is not None
    assert lead[0].stage is Stage.NEW
    assert follow["day0_call"] in ("task_requested", "task_created")


def test_an_inquiry_with_no_phone_or_email_makes_no_lead_and_sends_nothing(intake: Intake, store: Store) -> None:
    """Finding 2: a Typeform whose refs were renamed maps to nothing but the submission's token."""
    renamed = inquiry(phone=None, email=None, first_name="", last_name="", text="", external_ids={"typeform": "tok1"})
    with pytest.raises(SkipRecord) as refused:
        intake.submit(renamed, actor="test")
    assert refused.value.code == "no_contact_fields"
    with store.tx() as s:
        assert s.scalar(select(func.count()).select_from(LeadRow)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 0


def test_an_id_alone_still_finds_the_lead_it_belongs_to(intake: Intake, store: Store) -> None:
    first = intake.submit(inquiry(external_ids={"calcom": "bk_1"}), actor="test").lead
    later = intake.submit(inquiry(5, phone=None, email=None, first_name="", external_ids={"calcom": "bk_1"}), actor="t")
    assert first is not None
    assert later.lead is not None
    assert later.lead.id == first.id


def test_a_merge_moves_inquiries_touches_and_ids_keeps_the_strictest_consent_and_closes_the_other(
    intake: Intake, store: Store, config: HubConfig
) -> None:
    maria = intake.submit(inquiry(consents=sms_grant(0)), actor="test").lead
    juan = intake.submit(
        inquiry(5, first_name="Juan", email="juan@example.org", external_ids={"calcom": "bk_9"},
                consents=(ConsentEntry(channel=ContactChannel.SMS, state=ConsentState.DENIED,
                                       at=T0 - timedelta(days=1), source="form:sms"),)),
        actor="test",
    ).lead  # fmt: skip
    assert maria is not None
    assert juan is not None
    with store.tx() as s:
        s.add(InboxRow(source="landing_page", event_id="e1", event_type="", received_at=T0, payload=b"x",
                       status="done", attempts=1, lead_id=juan.id))  # fmt: skip
    at = T0 + timedelta(hours=1)
    with store.tx() as s:
        kept = merge_leads(s, keep_id=maria.id, absorb_id=juan.id, config=config, now=at, actor="user:coord",
                           destinations=("hubspot",))  # fmt: skip
    assert kept.lead is not None
    with store.tx() as s:
        survivor = repo.load_lead(s, maria.id)
        gone = repo.load_lead(s, juan.id)
        touches = repo.load_touches(s, maria.id)
        inbox = s.scalar(select(InboxRow.lead_id).where(InboxRow.event_id == "e1"))
        keys = {r.value: r.lead_id for r in s.execute(select(IdentityKeyRow.value, IdentityKeyRow.lead_id))}
        merged_into = s.scalar(select(LeadRow.merged_into).where(LeadRow.id == juan.id))
        audits = s.execute(select(AuditRow.subject_id, AuditRow.action).where(AuditRow.action == "leads_merged")).all()
        outbox = {
            (r.kind, r.key)
            for r in s.execute(select(OutboxRow.kind, OutboxRow.key).where(OutboxRow.lead_id == juan.id))
        }
        links = links_of(s, maria.id)
    assert survivor is not None
    assert gone is not None
    assert survivor[0].consent.state(ContactChannel.SMS) is ConsentState.DENIED  # the strictest
    assert survivor[0].external_ids["calcom"] == "bk_9"
    assert len([t for t in touches if t.outcome is TouchOutcome.INQUIRED]) == 2
    assert inbox == maria.id
    assert keys["juan@example.org"] == maria.id
    assert (gone[0].stage, gone[0].close_reason, merged_into) == (Stage.DUPLICATE, f"merged into {maria.id}", maria.id)
    assert sorted(audits) == sorted([(maria.id, "leads_merged"), (juan.id, "leads_merged")])
    assert ("upsert_lead", juan.id) in outbox  # its CRM record is marked closed, stage "duplicate"
    assert ("cancel_task", f"{juan.id}:day0_call") in outbox  # its open call task is withdrawn
    assert [(v.other_lead_id, v.status, v.decided_by) for v in links] == [(juan.id, "merged", "user:coord")]
    # A later inquiry by the absorbed lead's email or booking id reaches the lead that stayed.
    again = intake.submit(inquiry(90, phone=None, first_name="Juan", email="juan@example.org"), actor="t").lead
    by_id = intake.submit(inquiry(95, phone=None, email=None, external_ids={"calcom": "bk_9"}), actor="t").lead
    assert again is not None
    assert by_id is not None
    assert again.id == by_id.id == maria.id


def test_a_merge_that_would_bury_a_booking_is_refused(intake: Intake, store: Store, config: HubConfig) -> None:
    maria = intake.submit(inquiry(), actor="test").lead
    juan = intake.submit(inquiry(5, first_name="Juan", email="juan@example.org"), actor="test").lead
    assert maria is not None
    assert juan is not None
    with store.tx() as s:
        s.execute(text("UPDATE leads SET stage = 'scheduled' WHERE id = :id"), {"id": juan.id})
    with store.tx() as s, pytest.raises(MergeRefused, match=f"keep lead {juan.id}"):
        merge_leads(s, keep_id=maria.id, absorb_id=juan.id, config=config, now=T0, actor="u", destinations=())


def test_kept_apart_is_recorded_and_audited(intake: Intake, store: Store) -> None:
    maria = intake.submit(inquiry(), actor="test").lead
    juan = intake.submit(inquiry(5, first_name="Juan", email="juan@example.org"), actor="test").lead
    assert maria is not None
    assert juan is not None
    with store.tx() as s:
        assert keep_apart(s, juan.id, maria.id, actor="user:coord", now=T0)
        assert not keep_apart(s, juan.id, maria.id, actor="user:coord", now=T0)  # decided already
    with store.tx() as s:
        assert [(v.status, v.decided_by) for v in links_of(s, maria.id)] == [("kept_apart", "user:coord")]
        assert s.scalar(select(AuditRow.action).where(AuditRow.action == "leads_kept_apart")) is not None


def test_the_migration_claims_existing_leads_keys_and_links_the_duplicates_made_before(store: Store) -> None:
    cfg = _alembic_config(store.engine)
    command.downgrade(cfg, "0012-1")  # the schema just before identity keys
    insert = text(
        "INSERT INTO leads (id, version, first_name, last_name, phone, email, preferred_language, timezone, channel,"
        " inquiry_text, created_at, updated_at, stage, needs, urgent, triage_keywords)"
        " VALUES (:id, 1, 'Ana', 'Ruiz', :phone, :email, 'en', 'America/Chicago', 'website_form', '', :at, :at,"
        " :stage, '[]', false, '[]')"
    )
    with store.engine.begin() as conn:
        for n, (stage, email) in enumerate([("new", "ana@example.org"), ("new", "ana@example.org"),
                                            ("declined", "ana@example.org"), ("new", None)]):  # fmt: skip
            conn.execute(insert, {"id": f"nh_old{n}", "phone": "+15125550142", "email": email, "stage": stage,
                                  "at": (T0 + timedelta(hours=n)).replace(tzinfo=None)})  # fmt: skip
    command.upgrade(cfg, "head")
    with store.tx() as s:
        keys = {tuple(r) for r in s.execute(select(IdentityKeyRow.kind, IdentityKeyRow.value, IdentityKeyRow.lead_id))}
        linked = {(v.other_lead_id, v.reason) for v in links_of(s, "nh_old3")} | {
            (v.other_lead_id, v.reason) for v in links_of(s, "nh_old1")
        }
    # The newest open lead holds the keys; every other lead is linked to it for a coordinator.
    assert keys == {("email", "ana@example.org", "nh_old1"), ("phone", "+15125550142", "nh_old3")}
    assert {("nh_old0", "same_email"), ("nh_old2", "same_email"), ("nh_old1", "same_phone")} <= linked

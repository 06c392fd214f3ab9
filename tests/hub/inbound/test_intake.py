from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import func, select

from hub.inbound.inquiry_schema import inquiry_from_json
from hub.inbound.intake import Intake
from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.store.models import AuditRow, LeadRow, OutboxRow
from nurture.consent import ConsentEntry
from nurture.errors import SkipRecord
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, ConsentState, ContactChannel, Intent, NextActionKind, Score, Stage
from tests.factories import T0


@pytest.fixture
def intake(store: Store, config: HubConfig) -> Intake:
    ids = count(1)
    return Intake(store, config, destinations=("hubspot",), id_factory=lambda _: f"nh_{next(ids):04d}")


def inquiry(**kw: object) -> Inquiry:
    values: dict[str, object] = {
        "channel": Channel.WEBSITE_FORM,
        "received_at": T0,
        "first_name": "Ana",
        "last_name": "Ruiz",
        "phone": "(512) 555-0142",
        "email": "Ana.Ruiz@Example.org",
        "text": "I'd like to book an appointment",
    }
    values.update(kw)
    return Inquiry(**values)  # type: ignore[arg-type]


def test_an_inquiry_becomes_a_sorted_planned_and_queued_lead(intake: Intake, store: Store) -> None:
    result = intake.submit(inquiry(), actor="test")
    assert result.ok
    assert result.lead is not None
    assert (result.lead.id, result.lead.phone, result.lead.email) == (
        "nh_0001",
        "+15125550142",
        "ana.ruiz@example.org",
    )
    assert result.lead.intent is Intent.READY_TO_SCHEDULE
    assert result.lead.score is Score.A
    with store.tx() as s:
        follow = {f.step_key: f.status for f in repo.follow_ups(s, "nh_0001")}
        outbox = s.execute(select(OutboxRow.kind, OutboxRow.key)).all()
        audit = s.scalars(select(AuditRow.action)).all()
    assert follow["day0_call"] == "task_requested"
    assert follow["day1_call"] == "planned"
    assert sorted(outbox) == [("upsert_lead", "nh_0001"), ("upsert_task", "nh_0001:day0_call")]
    assert audit == ["lead_created"]


def test_a_second_inquiry_from_the_same_person_updates_the_same_lead(intake: Intake, store: Store) -> None:
    intake.submit(inquiry(), actor="test")
    later = inquiry(
        received_at=T0 + timedelta(hours=1),
        phone="512-555-0142",
        email=None,
        text="Also, do you take Medicaid?",
        consents=(
            ConsentEntry(
                channel=ContactChannel.SMS,
                state=ConsentState.GRANTED,
                at=T0 + timedelta(hours=1),
                source="form:sms_opt_in",
                wording="I agree to receive texts.",
            ),
        ),
    )
    result = intake.submit(later, actor="test")
    assert result.lead is not None
    assert result.lead.id == "nh_0001"
    # Re-triaged with the new words: the insurance question now stands between them and a booking.
    assert result.lead.intent is Intent.INSURANCE_AUTHORIZATION
    assert "insurance" in {n.value for n in result.lead.needs}
    assert result.lead.consent.state(ContactChannel.SMS) is ConsentState.GRANTED
    with store.tx() as s:
        assert s.scalar(select(func.count()).select_from(LeadRow)) == 1
        assert s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.kind == "upsert_lead")) == 1


def test_a_red_flag_in_a_later_message_makes_the_lead_urgent(intake: Intake) -> None:
    intake.submit(inquiry(), actor="test")
    result = intake.submit(inquiry(received_at=T0 + timedelta(minutes=5), text="now I have chest pain"), actor="test")
    assert result.lead is not None
    assert result.lead.urgent
    assert result.lead.next_action is not None
    assert result.lead.next_action.kind is NextActionKind.ROUTE_CLINICAL_QUESTION
    assert result.lead.next_action.owner_queue == "Clinical Triage"


def test_a_closed_lead_that_writes_again_is_reopened(intake: Intake, store: Store, config: HubConfig) -> None:
    first = intake.submit(inquiry(), actor="test")
    assert first.lead is not None
    from hub.lifecycle.leads import commit_lead

    with store.tx() as s:
        found = repo.load_lead(s, "nh_0001")
        assert found is not None
        before, version = found
        closed = commit_lead(
            s, before=before, version=version,
            proposed=before.evolve(stage=Stage.UNREACHABLE, next_action=None, close_reason="no answer"),
            config=config, now=T0 + timedelta(days=9), actor="test", action="closed", destinations=(),
        )  # fmt: skip
        assert closed.ok
    result = intake.submit(inquiry(received_at=T0 + timedelta(days=30)), actor="test")
    assert result.lead is not None
    assert (result.lead.id, result.lead.stage) == ("nh_0001", Stage.NEW)
    assert result.lead.next_action is not None


def test_an_unusable_phone_is_skipped_naming_the_field_not_the_value(intake: Intake) -> None:
    with pytest.raises(SkipRecord) as info:
        intake.submit(inquiry(phone="555-CALL-NOW"), actor="test")
    assert info.value.field == "phone"
    assert "555" not in str(info.value)


def test_json_inquiries_are_validated_field_by_field(config: HubConfig) -> None:
    bad = {
        "channel": "fax",
        "email": "x@example.org",
        "intent": "buy",
        "callback_at": "2026-12-01T10:00:00",
        "service": "x",
    }
    with pytest.raises(SkipRecord) as info:
        inquiry_from_json(bad, config=config, received_at=T0)
    message = str(info.value)
    for field in ("channel:", "intent:", "callback_at:"):
        assert field in message


def test_json_inquiries_need_a_way_to_follow_up(config: HubConfig) -> None:
    with pytest.raises(SkipRecord, match="phone: give a phone, an email or an external id"):
        inquiry_from_json({"first_name": "Ana"}, config=config, received_at=T0)


def test_json_consent_lands_in_the_ledger_with_its_wording(config: HubConfig) -> None:
    data = {
        "phone": "5125550142",
        "consent": {"sms": {"granted": True, "wording": "Text me about my inquiry."}},
    }
    item = inquiry_from_json(data, config=config, received_at=T0, source="typeform")
    assert item.consents[0].wording == "Text me about my inquiry."
    assert item.consents[0].source == "typeform:consent.sms"


def test_unknown_locations_and_services_name_the_known_ones(config: HubConfig) -> None:
    with pytest.raises(SkipRecord, match="location: unknown location id; known: downtown, eastside, telehealth"):
        inquiry_from_json({"phone": "5125550142", "location": "uptown"}, config=config, received_at=T0)


def test_the_day0_call_uses_the_channels_first_response_script(intake: Intake, store: Store) -> None:
    intake.submit(inquiry(channel=Channel.PAID_SEARCH), actor="test")
    with store.tx() as s:
        steps = {f.step_key: f.template for f in repo.follow_ups(s, "nh_0001")}
    assert steps["day0_call"] == "paid_search"
    assert steps["day1_call"] == "first_response"

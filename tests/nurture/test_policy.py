from __future__ import annotations

from datetime import timedelta

import pytest

from nurture.actions import propose_next_action, score_for
from nurture.lead import Lead, NextAction
from nurture.policy import Accepted, Rejected, enforce
from nurture.settings import NurtureSettings
from nurture.vocab import Channel, ContactChannel, Intent, Need, NextActionKind, Score, Stage
from tests.factories import T0, consent, lead


def accept(before: Lead | None, proposed: Lead, settings: NurtureSettings) -> Lead:
    result = enforce(before, proposed, settings, now=T0)
    assert isinstance(result, Accepted), result
    return result.lead


def reject(before: Lead | None, proposed: Lead, settings: NurtureSettings) -> set[tuple[str, str]]:
    result = enforce(before, proposed, settings, now=T0)
    assert isinstance(result, Rejected), result
    return {(v.field, v.rule) for v in result.violations}


def action(kind: NextActionKind, queue: str = "Front Desk") -> NextAction:
    return NextAction(kind=kind, due_at=T0 + timedelta(minutes=15), owner_queue=queue)


def test_a_new_lead_is_sorted_at_once(settings: NurtureSettings) -> None:
    accepted = accept(None, lead(intent=Intent.READY_TO_SCHEDULE), settings)
    assert accepted.next_action is not None
    assert accepted.next_action.kind is NextActionKind.BOOK_APPOINTMENT
    assert accepted.next_action.owner_queue == "Front Desk"
    assert accepted.score is Score.A


def test_a_lead_with_no_intent_never_passes_silently(settings: NurtureSettings) -> None:
    accepted = accept(None, lead(intent=None), settings)
    assert accepted.next_action is not None
    assert accepted.next_action.kind is NextActionKind.TRIAGE
    assert accepted.next_action.owner_queue == settings.channel(Channel.WEBSITE_FORM).owner_queue
    assert accepted.score is Score.C  # we know they reached out, not what they need
    # ... and once past "new", a missing intent without a triage action is a violation.
    before = accepted
    proposed = before.evolve(stage=Stage.ATTEMPTING, next_action=action(NextActionKind.BOOK_APPOINTMENT))
    assert ("intent", "intent_required") in reject(before, proposed, settings)


def test_a_contacted_lead_without_a_next_action_is_rejected_naming_both(settings: NurtureSettings) -> None:
    before = accept(None, lead(intent=Intent.READY_TO_SCHEDULE), settings)
    for stage in (Stage.ATTEMPTING, Stage.REACHED):
        violations = reject(before, before.evolve(stage=stage, next_action=None), settings)
        assert ("stage,next_action", "contact_requires_next_action") in violations


def test_an_open_lead_needs_a_next_action(settings: NurtureSettings) -> None:
    before = accept(None, lead(intent=Intent.READY_TO_SCHEDULE), settings)
    proposed = before.evolve(stage=Stage.SCHEDULED, next_action=None)
    assert ("next_action", "next_action_required") in reject(before, proposed, settings)


def test_nurture_requires_consent(settings: NurtureSettings) -> None:
    before = accept(None, lead(intent=Intent.NOT_READY_YET), settings)
    proposed = before.evolve(next_action=action(NextActionKind.ADD_TO_NURTURE))
    assert ("next_action", "nurture_requires_consent") in reject(before, proposed, settings)
    with_consent = proposed.evolve(consent=consent(ContactChannel.EMAIL))
    assert accept(before, with_consent, settings).score is Score.D


def test_clinical_questions_never_enter_a_marketing_sequence(settings: NurtureSettings) -> None:
    for clinical in (
        {"intent": Intent.CLINICAL_QUESTION},
        {"intent": Intent.NOT_READY_YET, "needs": frozenset({Need.CLINICAL_CONCERN})},
    ):
        before = accept(None, lead(consent=consent(ContactChannel.EMAIL), **clinical), settings)
        proposed = before.evolve(next_action=action(NextActionKind.ADD_TO_NURTURE))
        assert ("next_action", "clinical_never_nurtured") in reject(before, proposed, settings)


def test_closing_needs_a_reason(settings: NurtureSettings) -> None:
    before = accept(None, lead(intent=Intent.READY_TO_SCHEDULE), settings)
    assert ("close_reason", "close_requires_reason") in reject(
        before, before.evolve(stage=Stage.DECLINED, next_action=None), settings
    )
    closed = accept(
        before,
        before.evolve(stage=Stage.DECLINED, next_action=None, close_reason="chose another clinic"),
        settings,
    )
    assert closed.score is Score.E


def test_a_closed_lead_has_no_open_next_action(settings: NurtureSettings) -> None:
    before = accept(None, lead(intent=Intent.READY_TO_SCHEDULE), settings)
    proposed = before.evolve(stage=Stage.NOT_A_FIT, close_reason="service not offered")
    assert ("next_action", "closed_has_no_next_action") in reject(before, proposed, settings)


def test_stages_move_only_along_allowed_transitions(settings: NurtureSettings) -> None:
    before = accept(None, lead(intent=Intent.READY_TO_SCHEDULE), settings)
    proposed = before.evolve(stage=Stage.KEPT)
    assert ("stage", "stage_transition") in reject(before, proposed, settings)


def test_an_urgent_lead_goes_to_the_clinical_queue_now(settings: NurtureSettings) -> None:
    accepted = accept(None, lead(intent=Intent.CLINICAL_QUESTION, urgent=True), settings)
    assert accepted.next_action == NextAction(
        kind=NextActionKind.ROUTE_CLINICAL_QUESTION,
        due_at=T0,
        owner_queue="Clinical Triage",
        reason="urgent_red_flag",
    )
    proposed = accepted.evolve(next_action=action(NextActionKind.BOOK_APPOINTMENT))
    assert ("next_action", "urgent_goes_to_clinical") in reject(accepted, proposed, settings)


def test_every_violation_is_reported_at_once(settings: NurtureSettings) -> None:
    before = accept(None, lead(intent=Intent.CLINICAL_QUESTION), settings)
    proposed = before.evolve(intent=None, next_action=action(NextActionKind.ADD_TO_NURTURE))
    rules = {rule for _, rule in reject(before, proposed, settings)}
    assert {"intent_required", "nurture_requires_consent"} <= rules


@pytest.mark.parametrize(
    ("intent", "kind", "queue"),
    [
        (Intent.CLINICAL_QUESTION, NextActionKind.ROUTE_CLINICAL_QUESTION, "Clinical Triage"),
        (Intent.INSURANCE_AUTHORIZATION, NextActionKind.VERIFY_INSURANCE, "Insurance Desk"),
        (Intent.REFERRAL_COORDINATION, NextActionKind.REQUEST_REFERRAL_DOCUMENTS, "Referral Coordinators"),
        (Intent.SERVICE_FIT, NextActionKind.BOOK_APPOINTMENT, "Front Desk"),
        (Intent.READY_TO_SCHEDULE, NextActionKind.BOOK_APPOINTMENT, "Front Desk"),
        (Intent.NOT_READY_YET, NextActionKind.BOOK_APPOINTMENT, "Front Desk"),
    ],
)
def test_intent_routes_to_the_right_people(
    settings: NurtureSettings, intent: Intent, kind: NextActionKind, queue: str
) -> None:
    proposed = propose_next_action(lead(intent=intent), settings, now=T0)
    assert (proposed.kind, proposed.owner_queue) == (kind, queue)


def test_spanish_speakers_are_routed_to_bilingual_staff(settings: NurtureSettings) -> None:
    proposed = propose_next_action(
        lead(intent=Intent.READY_TO_SCHEDULE, preferred_language="es", needs=frozenset({Need.LANGUAGE})),
        settings,
        now=T0,
    )
    assert proposed.owner_queue == "Bilingual Team"


def test_a_requested_callback_time_becomes_the_next_action(settings: NurtureSettings) -> None:
    at = T0 + timedelta(days=1, hours=1)  # Wednesday 11:00 in Austin
    proposed = propose_next_action(lead(intent=Intent.READY_TO_SCHEDULE, requested_callback_at=at), settings, now=T0)
    assert (proposed.kind, proposed.due_at) == (NextActionKind.CALL_BACK_REQUESTED_TIME, at)


def test_a_requested_time_when_the_clinic_is_closed_moves_to_its_next_opening(
    settings: NurtureSettings,
) -> None:
    lunch = T0 + timedelta(days=1, hours=2)  # Wednesday 12:00, the lunch closure
    proposed = propose_next_action(lead(intent=Intent.READY_TO_SCHEDULE, requested_callback_at=lunch), settings, now=T0)
    assert proposed.due_at == lunch + timedelta(hours=1)


def test_not_ready_with_consent_joins_the_nurture_sequence(settings: NurtureSettings) -> None:
    proposed = propose_next_action(
        lead(intent=Intent.NOT_READY_YET, consent=consent(ContactChannel.EMAIL)), settings, now=T0
    )
    assert proposed.kind is NextActionKind.ADD_TO_NURTURE


@pytest.mark.parametrize(
    ("kind", "intent", "score"),
    [
        (NextActionKind.BOOK_APPOINTMENT, Intent.READY_TO_SCHEDULE, Score.A),
        (NextActionKind.CALL_BACK_REQUESTED_TIME, Intent.LANGUAGE_SUPPORT, Score.A),
        (NextActionKind.BOOK_APPOINTMENT, Intent.SERVICE_FIT, Score.B),
        (NextActionKind.ROUTE_CLINICAL_QUESTION, Intent.CLINICAL_QUESTION, Score.B),
        (NextActionKind.TRIAGE, None, Score.C),  # unknown intent: not overstated (docs/design-notes.md)
        (NextActionKind.VERIFY_INSURANCE, Intent.INSURANCE_AUTHORIZATION, Score.C),
        (NextActionKind.REQUEST_REFERRAL_DOCUMENTS, Intent.REFERRAL_COORDINATION, Score.C),
        (NextActionKind.ADD_TO_NURTURE, Intent.NOT_READY_YET, Score.D),
        (NextActionKind.BOOK_APPOINTMENT, Intent.NOT_READY_YET, Score.D),
        (NextActionKind.CLOSE_DECLINED, Intent.READY_TO_SCHEDULE, Score.E),
        (NextActionKind.CLOSE_NOT_A_FIT, Intent.SERVICE_FIT, Score.E),
    ],
)
def test_the_score_derives_from_the_next_action(kind: NextActionKind, intent: Intent | None, score: Score) -> None:
    assert score_for(action(kind), intent) is score

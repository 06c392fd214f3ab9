"""A Cal.com booking closes the loop: the calls the hub makes, end to end on values and an in-memory
CRM. (The hub's inbox, store and outbox do the same with these very calls; see docs/scheduling.md.)"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from connectors.base import TaskKind, TaskState, TaskWrite
from connectors.fake import FakeCrm
from connectors.scheduling import AvailabilityQuery
from connectors.scheduling.calcom import CalcomScheduling, CalcomSettings, booking_event
from nurture.cadence import CadencePlan, PlannedStep, plan_cadence
from nurture.capacity import Clearance, ServiceInfo
from nurture.lead import Lead
from nurture.policy import Accepted, enforce
from nurture.prep import lead_after_appointment, plan_appointment_follow_ups
from nurture.settings import NurtureSettings
from nurture.vocab import ConsentState, ContactChannel, Intent, Stage
from sandboxes.calcom import CalcomSandbox
from tests.factories import T0, consent, lead
from tests.fixtures.clock import ManualClock
from tests.scheduling.conftest import CalcomDesk

KIND = {"call": TaskKind.CALL, "email": TaskKind.EMAIL, "sms": TaskKind.SMS}


def task(person: Lead, step: PlannedStep, crm_id: str, *, cancelled: bool = False) -> TaskWrite:
    """The CRM task the hub's sync engine writes for a planned step (as ``hub.sync`` does)."""
    return TaskWrite(
        key=f"{person.id}:{step.key}",
        lead_crm_id=crm_id,
        subject=f"{step.label} — lead {person.id}",
        body=f"nurturehub follow-up ({step.key}) by {step.channel}. Approved script/template: {step.template}.",
        kind=KIND.get(str(step.channel), TaskKind.TODO),
        due_at=step.due_at,
        owner_queue=person.next_action.owner_queue if person.next_action else "Front Desk",
        state=TaskState.CANCELLED if cancelled else TaskState.OPEN,
    )


def cadence_of(person: Lead, settings: NurtureSettings) -> CadencePlan:
    return plan_cadence(
        person,
        [],
        cadence=settings.cadence,
        hours=settings.hours,
        rules=settings.contact,
        response_target=settings.channel(person.channel).response_target,
        now=T0,
    )


def test_a_calcom_booking_stops_the_cadence_and_creates_the_preparation_tasks(
    settings: NurtureSettings,
    calcom_sandbox: CalcomSandbox,
    calcom_connector: CalcomScheduling,
    calcom_settings: CalcomSettings,
    fhir_clock: ManualClock,
    calcom_desk: CalcomDesk,
) -> None:
    crm = FakeCrm(clock=fhir_clock)
    crm_id = crm.create(LastName="Ruiz")
    # A new lead, its cadence planned and its first tasks in the CRM.
    new = lead(
        intent=Intent.READY_TO_SCHEDULE,
        service="primary_care",
        location="downtown",
        consent=consent(ContactChannel.EMAIL),
    )
    accepted = enforce(None, new, settings, now=T0)
    assert isinstance(accepted, Accepted)
    person = accepted.lead
    cadence = cadence_of(person, settings)
    crm.upsert_tasks([task(person, s, crm_id) for s in cadence.steps if s.channel is not None])
    # The patient books on Cal.com's page (through the sandbox's API here), two hours later.
    fhir_clock.advance(hours=2)
    slot = next(
        iter(calcom_connector.find_slots(AvailabilityQuery(start=T0 + timedelta(days=5), end=T0 + timedelta(days=9))))
    )
    made = calcom_desk.book(slot, person.id, name="Ana Ruiz", email="ana.ruiz@example.org", timezone=person.timezone)
    now = fhir_clock.now

    # The hub: read the verified webhook, move the lead, re-plan, write the tasks.
    event = booking_event(calcom_sandbox.webhook(made.id), calcom_settings)
    assert event is not None and event.booking is not None and event.booking.lead_id == person.id
    appointment = event.booking.appointment()
    decided = enforce(person, lead_after_appointment(person, appointment, settings, now=now), settings, now=now)
    assert isinstance(decided, Accepted), decided
    scheduled = decided.lead
    prep = plan_appointment_follow_ups(
        scheduled,
        [],
        appointment,
        service=ServiceInfo(id="primary_care"),
        clearance=Clearance(),
        settings=settings,
        now=now,
    )
    stale = [s for s in cadence.steps if s.channel is not None and s.key not in {p.key for p in prep.steps}]
    crm.upsert_tasks([task(scheduled, s, crm_id, cancelled=True) for s in stale])
    crm.upsert_tasks([task(scheduled, s, crm_id) for s in prep.steps])

    assert scheduled.stage is Stage.SCHEDULED
    assert cadence_of(scheduled, settings).stopped == "booked"
    cadence_keys = {f"{person.id}:{s.key}" for s in stale}
    assert cadence_keys and all(crm.tasks[k]["state"] is TaskState.CANCELLED for k in cadence_keys)
    prep_tasks = {k: t for k, t in crm.tasks.items() if ":prep_" in k}
    assert set(prep_tasks) >= {f"{person.id}:prep_confirmation", f"{person.id}:prep_documents"}
    patient_tz = ZoneInfo(person.timezone)
    for key, row in prep_tasks.items():
        assert row["state"] is TaskState.OPEN
        assert now <= row["due_at"] <= appointment.start, key
        assert 8 <= row["due_at"].astimezone(patient_tz).hour < 21, key  # never in quiet hours
        assert row["kind"] is not TaskKind.SMS  # no text consent: no texts
        assert "Ruiz" not in row["subject"] and "Ana" not in row["body"]  # no PHI in tasks
    assert person.consent.state(ContactChannel.SMS) is ConsentState.UNKNOWN
    documents = prep_tasks[f"{person.id}:prep_documents"]["due_at"]
    assert documents == appointment.start - timedelta(days=3)

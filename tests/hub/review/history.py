"""A small stored history for the query and report tests: a few hundred leads around ISO week
2026-W48 (Chicago), with touches crossing hour boundaries and the fall-back change of 1 November."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from hub.review.measures.funnel import READY_INTENTS, FunnelCell
from hub.review.measures.stalled import StalledFact
from hub.review.measures.touches import TouchFact
from hub.store import Store, repo
from hub.store.models import LeadRow, TouchRow
from tests.canary import CANARY_EMAIL, CANARY_FIRST, CANARY_LAST, CANARY_PHONE, CANARY_TEXT

WEEK = "2026-W48"
#: Monday 30 November 2026, 14:00 in Chicago: the Monday-morning job's "now".
NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
WEEK_START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday 00:00 local
CHANNELS = ("website_form", "paid_search", "referral_partner", "gbp_call")
STAGES = ("new", "attempting", "reached", "scheduled", "prepared", "kept", "declined", "unreachable", "no_show", "kept")
INTENTS = ("ready_to_schedule", "insurance_authorization", "referral_coordination", None, "service_fit")
SERVICES = ("primary_care", "physical_therapy", "sleep_study", None)
WEEK_LEADS = 200


@dataclass
class History:
    leads: list[dict[str, Any]] = field(default_factory=list)
    touches: list[dict[str, Any]] = field(default_factory=list)

    def lead(self, number: int, created: datetime, **values: Any) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": f"nh_h{number:04d}",
            "version": 1,
            "first_name": CANARY_FIRST,
            "last_name": CANARY_LAST,
            "phone": CANARY_PHONE,
            "email": CANARY_EMAIL,
            "preferred_language": "en",
            "timezone": "America/Chicago",
            "channel": "website_form",
            "campaign": None,
            "location": "downtown",
            "service": "primary_care",
            "inquiry_text": f"I have a question about my {CANARY_TEXT}",
            "created_at": created,
            "updated_at": created,
            "stage": "new",
            "intent": None,
            "needs": [],
            "urgent": False,
            "triage_keywords": [],
            "next_action_kind": None,
            "next_action_due_at": None,
            "next_action_queue": None,
            "next_action_reason": None,
            "first_attempt_at": None,
            "first_contact_at": None,
            "booked_at": None,
        }
        row.update(values)
        self.leads.append(row)
        return row

    def touch(self, lead: dict[str, Any], at: datetime, outcome: str, *, step: str | None = None) -> None:
        self.touches.append(
            {
                "lead_id": lead["id"],
                "channel": "call" if outcome != "replied" else "sms",
                "outcome": outcome,
                "at": at,
                "step": step,
                "outbound": outcome != "replied",
            }
        )

    # --- what the queries should find, worked out from the rows ----------------------------------

    def cohort(self, start: datetime, end: datetime, **filters: str) -> list[dict[str, Any]]:
        return [
            r
            for r in self.leads
            if start <= r["created_at"] < end
            and r["stage"] != "duplicate"
            and all(r[k] == v for k, v in filters.items())
        ]

    def funnel_cells(self, start: datetime, end: datetime, **filters: str) -> list[FunnelCell]:
        return [
            FunnelCell(
                channel=r["channel"],
                campaign=r["campaign"],
                location=r["location"],
                service=r["service"],
                language=r["preferred_language"],
                ready=r["intent"] in READY_INTENTS,
                stage=r["stage"],
                contacted=r["first_contact_at"] is not None,
                booked=r["booked_at"] is not None,
            )
            for r in self.cohort(start, end, **filters)
        ]

    def touch_facts(self, start: datetime, end: datetime, **filters: str) -> list[TouchFact]:
        ids = {r["id"] for r in self.cohort(start, end, **filters)}
        # insertion order is id order, the queries' tie-break for equal times
        order = {id(t): n for n, t in enumerate(self.touches)}
        rows = sorted(
            (t for t in self.touches if t["lead_id"] in ids), key=lambda t: (t["lead_id"], t["at"], order[id(t)])
        )
        return [TouchFact(t["lead_id"], t["at"], t["outcome"], t["outbound"], t["step"]) for t in rows]

    def stalled(self, as_of: datetime) -> list[str]:
        closed = {"declined", "not_a_fit", "unreachable", "duplicate"}
        return sorted(
            r["id"]
            for r in self.leads
            if r["next_action_kind"] and r["next_action_due_at"] < as_of and r["stage"] not in closed
        )

    def stalled_attempts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.touches:
            if t["outbound"]:
                out[t["lead_id"]] = out.get(t["lead_id"], 0) + 1
        return out


def build() -> History:
    h = History()
    number = 0
    for i in range(WEEK_LEADS):
        number += 1
        day, slot = i % 7, i % 11
        # Every day of the week, at 07:00 + slot hours local (07:00 is before opening: after hours).
        created = WEEK_START + timedelta(days=day, hours=7 + slot, minutes=i % 60)
        stage = STAGES[i % len(STAGES)]
        if i % 50 == 49:
            stage = "duplicate"
        intent = INTENTS[i % len(INTENTS)]
        contacted = stage in {"reached", "scheduled", "prepared", "kept", "no_show"} or (stage == "declined" and i % 4)
        first_attempt = created + timedelta(minutes=3 + 7 * (i % 13)) if stage != "new" else None
        lead = h.lead(
            number,
            created,
            channel=CHANNELS[i % len(CHANNELS)],
            campaign=("fall_promo", None)[i % 2],
            location=("downtown", "eastside", "telehealth")[i % 3],
            service=SERVICES[i % len(SERVICES)],
            preferred_language="es" if i % 5 == 0 else "en",
            stage=stage,
            intent=intent,
            needs=sorted({"insurance"} if intent == "insurance_authorization" else set())
            + (["language"] if i % 5 == 0 else []),
            triage_keywords=["insurance_authorization:en:insurance"] if intent == "insurance_authorization" else [],
            first_attempt_at=first_attempt,
            first_contact_at=first_attempt + timedelta(hours=2) if contacted and first_attempt else None,
            booked_at=created + timedelta(days=1) if stage in {"scheduled", "prepared", "kept", "no_show"} else None,
        )
        if stage in {"new", "attempting", "reached", "scheduled", "no_show"}:
            lead["next_action_kind"] = {"new": "book_appointment", "attempting": "verify_insurance"}.get(
                stage, "send_prep_info"
            )
            lead["next_action_queue"] = "Front Desk" if stage != "attempting" else "Insurance Desk"
            lead["next_action_reason"] = "booked_out" if i % 20 == 1 else f"intent_{intent}"
            # three in four are overdue at NOW; the others come due within the next hours
            lead["next_action_due_at"] = NOW - timedelta(hours=1 + i % 30) if i % 4 else NOW + timedelta(hours=1)
        if first_attempt is not None:
            # Calls at first_attempt and then every 20 h 59 min 59.9999 s: hours ticked over at odd
            # instants; a reply right after the text of every third lead.
            at = first_attempt
            for k in range(1 + i % 6):
                step = ("day0_call", "day0_text", "day1_call", "day3_followup", "day7_final", None)[k]
                outcome = "reached" if (k == 1 and stage == "reached") else ("texted" if k == 1 else "missed")
                h.touch(lead, at, outcome, step=step)
                if k == 1 and i % 3 == 0:
                    h.touch(lead, at + timedelta(minutes=30), "replied")
                at += timedelta(hours=20, minutes=59, seconds=59, microseconds=999_900)
    # The week's edges, in local time.
    number += 1
    h.lead(number, datetime(2026, 11, 30, 5, 30, tzinfo=UTC), channel="gbp_call")  # Sun 23:30: in W48
    number += 1
    h.lead(number, datetime(2026, 11, 30, 6, 30, tzinfo=UTC), channel="gbp_call")  # Mon 00:30: W49
    number += 1
    h.lead(number, datetime(2026, 11, 23, 5, 59, tzinfo=UTC), channel="gbp_call")  # Sun 23:59: W47
    # Earlier weeks for the trend, touched around the fall-back change (1 November, 07:00 UTC).
    for w, count in ((1, 9), (2, 7), (4, 5)):
        for j in range(count):
            number += 1
            created = WEEK_START - timedelta(weeks=w) + timedelta(days=j % 5, hours=9)
            lead = h.lead(
                number,
                created,
                channel=CHANNELS[j % len(CHANNELS)],
                stage="kept" if j % 2 else "unreachable",
                intent="ready_to_schedule" if j % 3 == 0 else None,
                booked_at=created + timedelta(days=2) if j % 2 else None,
                first_attempt_at=created + timedelta(minutes=5),
            )
            h.touch(lead, datetime(2026, 11, 1, 6, 30, tzinfo=UTC) + timedelta(hours=j % 3), "missed")
    # A closed lead with a stale next action: never stalled.
    number += 1
    h.lead(
        number,
        WEEK_START + timedelta(hours=10),
        stage="declined",
        next_action_kind="book_appointment",
        next_action_due_at=NOW - timedelta(days=2),
        next_action_queue="Front Desk",
    )
    return h


def store_history(store: Store, history: History) -> None:
    with store.tx() as session:
        session.execute(insert(LeadRow), history.leads)
        session.execute(insert(TouchRow), history.touches)
        repo.renumber_all_touches(session)  # as repo.add_touch keeps them, one touch at a time


def stalled_fact_ids(facts: list[StalledFact]) -> list[str]:
    return sorted(f.id for f in facts)

"""Demo inquiries: a realistic morning at a clinic, from every kind of channel, in English and
Spanish. Used by the embedded default (`nurturehub run`) and by tests. All people are fictional;
phone numbers are in the 555-01xx range reserved for fiction.

Everything is dated from the moment the demo runs (callbacks tomorrow, bookings the day after), and
every run sends new deliveries: a restarted demo says it found the earlier one and sends inquiries
from new demo people (``nurturehub run --reset`` starts over with an empty store).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DEMO_INQUIRIES: tuple[dict[str, Any], ...] = (
    {
        "channel": "paid_search", "first_name": "Maya", "last_name": "Thompson", "phone": "(512) 555-0101",
        "email": "maya.thompson@example.org", "campaign": "knee-pain-search-q4", "service": "physical_therapy",
        "text": "I'd like to book an appointment for my knee, any time next week works.",
        "consent": {"sms": {"granted": True, "wording": "I agree to receive text messages about my inquiry."}},
    },
    {
        "channel": "website_form", "first_name": "Luis", "last_name": "Hernández", "phone": "512-555-0102",
        "language": "es", "location": "eastside",
        "text": "Hola, quiero hacer una cita para mi mamá. ¿Aceptan Medicaid?",
    },
    {
        "channel": "referral_partner", "first_name": "Grace", "last_name": "Okafor", "phone": "5125550103",
        "email": "grace.okafor@example.org", "referral_source": "Dr. Patel, Lakeside Orthopedics",
        "service": "sleep_study", "text": "Dr. Patel referred me for a sleep study.",
    },
    {
        "channel": "appointment_request", "first_name": "Ethan", "last_name": "Brooks", "phone": "(512) 555-0104",
        "email": "ethan.brooks@example.org", "intent": "ready_to_schedule", "contact_window": "evening",
        "consent": {"email": {"granted": True, "wording": "Email me about my appointment request."}},
    },
    {
        "channel": "website_form", "first_name": "Priya", "last_name": "Shah", "email": "priya.shah@example.org",
        "phone": "512 555 0105", "text": "Is it normal to still have pain two weeks after starting the new medication?",
    },
    {
        "channel": "social_message", "first_name": "Carmen", "last_name": "Díaz", "phone": "+1 512 555 0106",
        "text": "¿Hablan español?",
    },
    {
        "channel": "webinar", "first_name": "Noah", "last_name": "Fischer", "email": "noah.fischer@example.org",
        "phone": "512-555-0107", "text": "Just researching options for now, maybe later in the spring.",
        "consent": {"email": {"granted": True, "wording": "Send me the webinar follow-up and clinic news."}},
    },
    {
        "channel": "gbp_call", "first_name": "Olivia", "last_name": "Nguyen", "phone": "(512) 555-0108",
        "text": "Caller asked whether the clinic is in network with Blue Cross and how much a visit costs.",
    },
    {
        "channel": "website_form", "first_name": "James", "last_name": "Walker", "phone": "512-555-0109",
        "text": "I've had chest pain since this morning, can someone see me today?",
    },
    {
        "channel": "review_platform", "first_name": "Sofia", "last_name": "Rossi", "email": "sofia.rossi@example.org",
        "phone": "512-555-0110", "text": "Do you treat sleep apnea? My husband snores terribly.",
    },
    {
        "channel": "newsletter_reply", "first_name": "Daniel", "last_name": "Kim", "email": "daniel.kim@example.org",
        "phone": "512-555-0111", "text": "please call me back",
    },
    {
        "channel": "phone_call", "first_name": "Ana", "last_name": "Morales", "phone": "512-555-0112",
        "language": "es", "callback_at": "tomorrow 17:30",
        "text": "Quiere una cita, prefiere que le llamen por la tarde.",
    },
)  # fmt: skip


# --- the demo, run after run -----------------------------------------------------------------------

#: Where a run of the demo is remembered (the instance folder).
STATE_FILE = "demo-state.json"
#: The samples sent after the inquiries: one per source type (a form, a Jotform, two bookings).
SAMPLE_SOURCES = ("website_form", "contact_form", "booking", "intro_call")
_PHONE = re.compile(r"(555[-\s.)]*)01(\d\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%-]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoRun:
    """One start of the demo.

    Attributes:
        number: 1 for the first run on an empty store, then 2, 3 …
        earlier_leads: the leads already in the store (from earlier runs).
    """

    number: int
    earlier_leads: int

    @property
    def message(self) -> str:
        """What the banner says about this run."""
        if self.number == 1:
            return "demo inquiries arrive over the next two minutes; watch them with:"
        return (
            f"found the demo of an earlier run ({self.earlier_leads} leads in the store): run {self.number} sends "
            "fresh inquiries from new demo people, dated now, over the next two minutes (nurturehub run --reset "
            "starts over with an empty store); watch them with:"
        )


def begin_run(instance: Path, earlier_leads: int) -> DemoRun:
    """Count this run (the first on an empty store is 1) and remember it in the instance folder."""
    path = instance / STATE_FILE
    runs = 0
    if earlier_leads and path.exists():
        try:
            runs = int(json.loads(path.read_text(encoding="utf-8")).get("runs", 0))
        except (ValueError, AttributeError):
            runs = 0
    run = DemoRun(number=runs + 1 if earlier_leads else 1, earlier_leads=earlier_leads)
    path.write_text(json.dumps({"runs": run.number}), encoding="utf-8")
    return run


def _person(text: str, run: int) -> str:
    """The demo people of run ``run``: the same voices with other fictional numbers (555-01xx,
    never the clinic's 0100) and addresses, so each run's inquiries are new people."""
    if run <= 1:
        return text
    text = _PHONE.sub(lambda m: f"{m.group(1)}01{(int(m.group(2)) - 1 + 12 * (run - 1)) % 99 + 1:02d}", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}+demo{run}@{m.group(2)}", text)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def demo_events(now: datetime, run: int, *, timezone: str) -> list[tuple[str, dict[str, Any] | list[Any]]]:
    """The demo's deliveries for this run, dated from ``now``: ``(source, payload)`` pairs — the
    inquiries (landing page and referral portal), then a Typeform, a Jotform and two bookings two
    days ahead at 10:00 and 14:00 clinic time. Every id is new in every run, so a restarted demo is
    processed again instead of being taken for duplicate deliveries."""
    tz = ZoneInfo(timezone)
    tomorrow = (now.astimezone(tz) + timedelta(days=1)).date()
    later = tomorrow + timedelta(days=1)
    while later.weekday() >= 5:  # a weekday: the clinic's bookings
        later += timedelta(days=1)
    stamp = f"{run}-{int(now.timestamp())}"
    events: list[tuple[str, dict[str, Any] | list[Any]]] = []
    for inquiry in DEMO_INQUIRIES:
        body = json.loads(_person(json.dumps(inquiry), run))
        if "callback_at" in body:  # "call me tomorrow at 17:30"
            body["callback_at"] = datetime.combine(tomorrow, time(17, 30), tz).isoformat()
        source = "referral_portal" if body.get("channel") == "referral_partner" else "landing_page"
        events.append((source, body))
    for source, name in zip(SAMPLE_SOURCES, ("typeform_appointment_en", "jotform_referral",
                                             "calcom_booking_created", "calendly_invitee_created"), strict=True):  # fmt: skip
        raw = resources.files("mapping").joinpath("samples", f"{name}.json").read_text(encoding="utf-8")
        sample: dict[str, Any] = json.loads(_person(raw, run))
        if name.startswith("typeform"):
            sample["event_id"] = f"{sample['event_id']}-{stamp}"
            response = sample["form_response"]
            response["token"] = f"{response['token']}-{stamp}"
            response["landed_at"] = _iso(now - timedelta(minutes=4))
            response["submitted_at"] = _iso(now)
        elif name.startswith("jotform"):
            sample["submissionID"] = f"{sample['submissionID']}{run}{int(now.timestamp())}"
            sample["event_id"] = f"{sample['event_id']}-{stamp}"
        elif name.startswith("calcom"):
            start = datetime.combine(later, time(10, 0), tz)
            payload = sample["payload"]
            sample["createdAt"] = _iso(now)
            payload["uid"] = f"{payload.get('uid', 'demo')}-{stamp}"
            payload["startTime"], payload["endTime"] = _iso(start), _iso(start + timedelta(hours=1))
        else:
            start = datetime.combine(later, time(14, 0), tz)
            payload = sample["payload"]
            sample["created_at"] = payload["created_at"] = _iso(now)
            payload["uri"] = f"{payload['uri']}-{stamp}"
            event = payload.get("scheduled_event") or {}
            event["uri"] = f"{event.get('uri', 'https://api.calendly.com/scheduled_events/demo')}-{stamp}"
            event["start_time"], event["end_time"] = _iso(start), _iso(start + timedelta(minutes=45))
            event["created_at"] = event["updated_at"] = _iso(now)
            payload["scheduled_event"] = event
        events.append((source, sample))
    return events

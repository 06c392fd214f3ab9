"""Demo inquiries: a realistic morning at a clinic, from every kind of channel, in English and
Spanish. Used by the embedded default (`nurturehub run`) and by tests. All people are fictional;
phone numbers are in the 555-01xx range reserved for fiction.
"""

from __future__ import annotations

from typing import Any

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
        "language": "es", "callback_at": "2026-12-02T17:30:00-06:00",
        "text": "Quiere una cita, prefiere que le llamen por la tarde.",
    },
)  # fmt: skip

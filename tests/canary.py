"""Canary PHI: values tests plant in leads and payloads; none may ever reach a log line.

``tests/conftest.py`` records every log record of the whole run (before any masking) and fails the
session if one of these appears.
"""

from __future__ import annotations

CANARY_FIRST = "Zebulon"
CANARY_LAST = "Quarkwright"
CANARY_EMAIL = "zebulon.quarkwright@canary.example"
CANARY_PHONE_RAW = "(512) 555-0199"
CANARY_PHONE = "+15125550199"
CANARY_TEXT = "xyzzy-canary-plover"

CANARIES = (
    CANARY_FIRST,
    CANARY_LAST,
    CANARY_EMAIL,
    CANARY_PHONE,
    CANARY_PHONE_RAW,
    "5125550199",
    CANARY_TEXT,
)


def canary_inquiry_json() -> dict[str, object]:
    return {
        "channel": "website_form",
        "first_name": CANARY_FIRST,
        "last_name": CANARY_LAST,
        "phone": CANARY_PHONE_RAW,
        "email": CANARY_EMAIL,
        "text": f"I need an appointment about my {CANARY_TEXT}",
    }

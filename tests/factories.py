"""Builders for domain values in tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nurture.consent import ConsentEntry, ConsentLedger
from nurture.lead import Lead
from nurture.vocab import Channel, ConsentState, ContactChannel

T0 = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # Tuesday 10:00 in Austin


def consent(*granted: ContactChannel, denied: tuple[ContactChannel, ...] = (), at: datetime = T0) -> ConsentLedger:
    entries = [
        ConsentEntry(channel=c, state=ConsentState.GRANTED, at=at, source="form:consent", wording="You may text me.")
        for c in granted
    ]
    entries += [ConsentEntry(channel=c, state=ConsentState.DENIED, at=at, source="form:consent") for c in denied]
    return ConsentLedger(tuple(entries))


def lead(**overrides: Any) -> Lead:
    values: dict[str, Any] = {
        "id": "nh_test0001",
        "first_name": "Ana",
        "last_name": "Ruiz",
        "phone": "+15125550142",
        "email": "ana.ruiz@example.org",
        "timezone": "America/Chicago",
        "channel": Channel.WEBSITE_FORM,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return Lead(**values)

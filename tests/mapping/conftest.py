"""Fixtures for the mapping tests: the sample webhook payloads and a real lead view."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.coordinator.views import lead_view
from nurture.lead import NextAction
from nurture.vocab import ContactChannel, Intent, NextActionKind, Score, Stage
from tests.factories import T0, consent, lead

PAYLOADS = Path(__file__).resolve().parents[2] / "mapping" / "samples"


def load_payload(name: str) -> Any:
    """The sample payload ``mapping/samples/<name>.json``."""
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def view() -> dict[str, Any]:
    """The plain view of a lead that is being worked: SMS granted, email denied, a callback due."""
    worked = lead(
        stage=Stage.ATTEMPTING,
        intent=Intent.INSURANCE_AUTHORIZATION,
        score=Score.C,
        preferred_language="es",
        urgent=False,
        next_action=NextAction(
            kind=NextActionKind.VERIFY_INSURANCE,
            due_at=T0 + timedelta(hours=4),
            owner_queue="Billing",
            reason="intent_insurance",
        ),
        consent=consent(ContactChannel.SMS, denied=(ContactChannel.EMAIL,)),
        external_ids={"salesforce": "00Q5g00000A1b2cEAB"},
    )
    return lead_view(worked)

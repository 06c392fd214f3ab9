"""Plain-data views of hub objects, with stable snake_case names: what ``--json`` prints and what
the web UI renders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hub.store.models import FollowUpRow
from nurture.lead import Lead
from nurture.touches import Touch
from nurture.vocab import ContactChannel


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def lead_view(lead: Lead, *, follow_ups: Sequence[FollowUpRow] = (), touches: Sequence[Touch] = ()) -> dict[str, Any]:
    """Everything about one lead (PHI included: callers audit the view)."""
    action = lead.next_action
    return {
        "id": lead.id,
        "stage": lead.stage.value,
        "intent": lead.intent.value if lead.intent else None,
        "needs": sorted(n.value for n in lead.needs),
        "urgent": lead.urgent,
        "score": lead.score.value if lead.score else None,
        "next_action": None
        if action is None
        else {
            "kind": action.kind.value,
            "due_at": _iso(action.due_at),
            "owner_queue": action.owner_queue,
            "reason": action.reason,
        },
        "channel": lead.channel.value,
        "campaign": lead.campaign,
        "referral_source": lead.referral_source,
        "location": lead.location,
        "service": lead.service,
        "preferred_language": lead.preferred_language,
        "contact_window": lead.contact_window.value if lead.contact_window else None,
        "requested_callback_at": _iso(lead.requested_callback_at),
        "timezone": lead.timezone,
        "region": lead.region,
        "created_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
        "close_reason": lead.close_reason,
        "triage_keywords": list(lead.triage_keywords),
        "consent": {
            c.value: {
                "state": lead.consent.state(c).value,
                "source": (entry.source if (entry := lead.consent.latest(c)) else None),
                "at": _iso(entry.at) if entry else None,
                "wording": entry.wording if entry else None,
            }
            for c in ContactChannel
        },
        "external_ids": dict(lead.external_ids),
        "contact": {
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "phone": lead.phone,
            "email": lead.email,
        },
        "follow_ups": [
            {
                "step": f.step_key,
                "label": f.label,
                "channel": f.channel,
                "template": f.template,
                "due_at": _iso(f.due_at),
                "owner_queue": f.owner_queue,
                "status": f.status,
            }
            for f in follow_ups
        ],
        "touches": [
            {
                "channel": t.channel.value if t.channel else None,
                "inquiry_channel": t.inquiry_channel.value if t.inquiry_channel else None,
                "outcome": t.outcome.value,
                "at": _iso(t.at),
                "step": t.step,
            }
            for t in touches
        ],
    }

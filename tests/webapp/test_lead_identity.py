"""The lead page shows leads that may be the same person or household; a coordinator merges them
or keeps them apart (audited), and a viewer can do neither."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from hub.app.bootstrap import Hub
from hub.store.models import AuditRow, LeadRow
from nurture.inquiry import Inquiry
from nurture.vocab import Channel
from tests.fixtures.clock import ManualClock
from tests.webapp.admin_support import post, signed_in, text_of


def household(hub: Hub, clock: ManualClock) -> tuple[str, str]:
    ids = []
    for first, email in (("Maria", "maria@example.org"), ("Juan", "juan@example.org")):
        made = hub.intake.submit(
            Inquiry(channel=Channel.WEBSITE_FORM, received_at=clock.now, first_name=first, last_name="Lopez",
                    phone="(512) 555-0142", email=email, text="Una cita, por favor"),
            actor="test",
        )  # fmt: skip
        assert made.lead is not None
        ids.append(made.lead.id)
    return ids[0], ids[1]


def test_the_lead_page_offers_merge_or_keep_apart_and_a_merge_is_made_and_audited(
    app: Flask, hub: Hub, clock: ManualClock
) -> None:
    maria, juan = household(hub, clock)
    coordinator = signed_in(app, hub, "coordinator")
    text = text_of(coordinator.get(f"/leads/{juan}").text)
    assert "Possibly the same person or household" in text
    assert f"{maria} New same phone, another name Merge it into this lead" in text
    response = post(coordinator, f"/leads/{juan}/merge", {"other_lead_id": maria, "keep": "other"})
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["Location"].endswith(f"/leads/{maria}")  # type: ignore[attr-defined]
    page = text_of(coordinator.get(f"/leads/{maria}").text)
    assert f"Lead {juan} was merged into this lead" in page
    assert "merged by user:" in page
    with hub.store.tx() as s:
        gone = s.get(LeadRow, juan)
        audits = s.scalars(select(AuditRow.subject_id).where(AuditRow.action == "leads_merged")).all()
    assert gone is not None
    assert (gone.stage, gone.merged_into) == ("duplicate", maria)
    assert sorted(audits) == sorted([maria, juan])


def test_keeping_apart_is_recorded_and_a_second_merge_is_refused_in_words(
    app: Flask, hub: Hub, clock: ManualClock
) -> None:
    maria, juan = household(hub, clock)
    coordinator = signed_in(app, hub, "coordinator")
    post(coordinator, f"/leads/{juan}/keep-apart", {"other_lead_id": maria})
    assert "kept apart by user:" in text_of(coordinator.get(f"/leads/{juan}").text)
    post(coordinator, f"/leads/{juan}/merge", {"other_lead_id": maria, "keep": "this"})
    post(coordinator, f"/leads/{maria}/merge", {"other_lead_id": juan, "keep": "this"})
    assert f"Not merged: lead {maria} was already merged into another lead" in text_of(
        coordinator.get(f"/leads/{maria}").text
    )


def test_a_viewer_can_neither_merge_nor_keep_apart(app: Flask, hub: Hub, clock: ManualClock) -> None:
    maria, juan = household(hub, clock)
    viewer = signed_in(app, hub, "viewer")
    assert post(viewer, f"/leads/{juan}/merge", {"other_lead_id": maria}).status_code == 403  # type: ignore[attr-defined]
    assert post(viewer, f"/leads/{juan}/keep-apart", {"other_lead_id": maria}).status_code == 403  # type: ignore[attr-defined]

"""Leads: a minimal list (ids, channel, stage, score, next action: no patient details) and one lead's
details (name, phone, email, consent, follow-ups) for coordinators, every view audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.clearance import record_clearance
from hub.identity import links_of
from hub.store import repo
from hub.store.models import LeadRow, ViolationRow
from hub.users import Role
from hub.views import lead_view
from webapp import current_hub
from webapp.admin.common import actor, now, page, tx
from webapp.auth import require

bp = page("leads", __name__, url_prefix="/leads")

PAGE_SIZE = 50


@bp.get("")
@require(Role.VIEWER)
def index() -> Any:
    before = request.args.get("before", "")
    with tx() as session:
        query = select(
            LeadRow.id,
            LeadRow.channel,
            LeadRow.stage,
            LeadRow.score,
            LeadRow.intent,
            LeadRow.next_action_kind,
            LeadRow.next_action_due_at,
            LeadRow.next_action_queue,
            LeadRow.created_at,
        ).order_by(LeadRow.created_at.desc(), LeadRow.id.desc())
        if before:
            try:
                cursor = datetime.fromisoformat(before)
            except ValueError:
                abort(400, description="The page link is malformed.")
            if cursor.tzinfo is None:
                abort(400, description="The page link is malformed: its time has no time zone.")
            query = query.where(LeadRow.created_at < cursor)
        rows = session.execute(query.limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template(
        "leads/list.html",
        rows=rows,
        next_before=rows[-1].created_at.isoformat() if more and rows else None,
    )


@bp.get("/<lead_id>")
@require(Role.COORDINATOR)
def show(lead_id: str) -> Any:
    with tx() as session:
        loaded = repo.load_lead(session, lead_id)
        if loaded is None:
            abort(404, description=f"There is no lead {lead_id}.")
        lead, version = loaded
        view = lead_view(
            lead, follow_ups=repo.follow_ups(session, lead_id), touches=repo.load_touches(session, lead_id)
        )
        violations = list(
            session.scalars(
                select(ViolationRow).where(ViolationRow.lead_id == lead_id, ViolationRow.resolved_at.is_(None))
            )
        )
        clearance = repo.load_clearance(session, lead_id)
        links = links_of(session, lead_id)
        repo.audit(
            session,
            actor=actor(),
            action="lead.view",
            subject_type="lead",
            subject_id=lead_id,
            now=now(),
            detail={"page": "lead"},
        )
    service = current_hub().config.services.get(lead.service or "")
    return render_template(
        "leads/detail.html",
        lead=view,
        version=version,
        violations=violations,
        clearance=clearance,
        service=service,
        links=links,
    )


@bp.post("/<lead_id>/clearance")
@require(Role.COORDINATOR)
def clearance(lead_id: str) -> Any:
    """Record what the patient provided (referral documents, insurance) or the payer approved."""
    hub = current_hub()
    with tx() as session:
        result = record_clearance(
            session, lead_id,
            referral_documents=request.form.get("referral_documents") == "yes",
            insurance=request.form.get("insurance") == "yes",
            authorization=request.form.get("authorization") == "yes",
            config=hub.config, now=now(), actor=actor(), destinations=hub.intake.destinations,
        )  # fmt: skip
    if result is None:
        abort(404, description=f"There is no lead {lead_id}.")
    if not result.ok:
        flash("Not saved: " + "; ".join(v.message for v in result.violations), "error")
    else:
        action = result.lead.next_action if result.lead else None
        flash(f"Saved. Next action: {action.kind.value if action else 'none'}.", "info")
    return redirect(url_for(".show", lead_id=lead_id), code=303)

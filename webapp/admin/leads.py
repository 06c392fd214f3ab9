"""Leads: the list (search by name, phone or email; filters; stable paging by creation time and id)
and one lead's story (the patient's own words, the timeline, the appointment, the next action),
for coordinators, every view of patient details audited. A viewer's list shows no patient details
and cannot search by them.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from hub.accounts.users import Role
from hub.coordinator.story import lead_story
from hub.coordinator.views import lead_view
from hub.coordinator.worklist import FilterError, LeadFilters, audit_search, known_queues, search_leads
from hub.inbound.identity import links_of
from hub.lifecycle.clearance import record_clearance
from hub.store import repo
from nurture.vocab import Channel, Intent, Stage
from webapp import current_hub
from webapp.admin.common import actor, effective, now, page, tx, user
from webapp.auth import require

bp = page("leads", __name__, url_prefix="/leads")

PAGE_SIZE = 50


def _filters() -> LeadFilters:
    args = request.args
    try:
        return LeadFilters(
            search=(args.get("q") or "").strip() if user().can(Role.COORDINATOR) else "",
            urgent=args.get("urgent") == "1",
            overdue=args.get("overdue") == "1",
            intent=args.get("intent") or None,
            channel=args.get("channel") or None,
            queue=args.get("queue") or None,
            stage=args.get("stage") or None,
        )
    except FilterError as exc:
        abort(400, description=f"This list cannot be shown: {exc}. Clear the filters and choose again.")


def safe_back(target: str | None) -> str | None:
    """A link back to where the user came from: a path on this site, or None."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.get("")
@require(Role.VIEWER)
def index() -> Any:
    filters = _filters()
    cursor = request.args.get("after") or None
    with tx() as session:
        config, _ = effective(session)
        try:
            found = search_leads(
                session, filters, now=now(), cursor=cursor, page_size=PAGE_SIZE, phone_region=config.phone_region
            )
        except FilterError as exc:
            abort(400, description=f"This page link cannot be followed: {exc}. Go back to the first page.")
        if filters.search:
            audit_search(session, found, actor=actor(), now=now())
        queues = known_queues(config, session)
    kept: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after" and v}
    return render_template(
        "leads/list.html",
        page=found,
        filters=filters,
        kept=kept,
        first_page=not cursor,
        next_url=url_for(".index", after=found.next_cursor, **kept) if found.next_cursor else None,
        intents=[i.value for i in Intent],
        channels=[c.value for c in Channel],
        stages=[s.value for s in Stage],
        queues=queues,
    )


@bp.get("/<lead_id>")
@require(Role.COORDINATOR)
def show(lead_id: str) -> Any:
    hub = current_hub()
    with tx() as session:
        loaded = repo.load_lead(session, lead_id)
        if loaded is None:
            abort(
                404, description="There is no such lead. It may have been merged into another; search for the patient."
            )
        lead, version = loaded
        follow_ups = repo.follow_ups(session, lead_id)
        view = lead_view(lead, follow_ups=follow_ups, touches=repo.load_touches(session, lead_id))
        config, _ = effective(session)
        story = lead_story(
            session, lead_id, config=config, crm_options={name: s.options for name, s in hub.crm.items()}
        )
        violations = repo.open_violations(session, lead_id)
        clearance = repo.load_clearance(session, lead_id)
        links = links_of(session, lead_id)
        repo.audit(
            session,
            actor=actor(),
            action="lead.view",
            subject_type="lead",
            subject_id=lead_id,
            now=now(),
            detail={"page": "lead", "shown": ["contact", "message", "timeline"]},
        )
    service = config.services.get(lead.service or "")
    location = config.locations.get(lead.location or "")
    steps = {f.step_key: f.label for f in follow_ups}
    return render_template(
        "leads/detail.html",
        lead=view,
        message=lead.inquiry_text,
        story=story,
        steps=steps,
        version=version,
        violations=violations,
        clearance=clearance,
        service=service,
        links=links,
        location=location,
        back=safe_back(request.args.get("back")),
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
        abort(404, description="There is no such lead. It may have been merged into another; search for the patient.")
    if not result.ok:
        flash("Not saved: " + "; ".join(v.message for v in result.violations), "error")
    else:
        from hub.coordinator.words import label

        action = result.lead.next_action if result.lead else None
        flash(f"Saved. Next action: {label('next_action', action.kind) if action else 'none (closed)'}.", "info")
    back = safe_back(request.form.get("back"))
    return redirect(url_for(".show", lead_id=lead_id, back=back), code=303)

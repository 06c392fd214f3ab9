"""Same person, or same household? A coordinator merges two linked leads or keeps them apart, from
the lead page (``hub.inbound.identity``). Both are audited; a merge reaches the CRMs with the next push."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for

from hub.accounts.users import Role
from hub.inbound.identity import MergeRefused, keep_apart, merge_leads
from webapp import current_hub
from webapp.admin.common import actor, now, page, tx
from webapp.auth import require

bp = page("lead_identity", __name__, url_prefix="/leads")


def _other() -> str:
    other = request.form.get("other_lead_id", "").strip()
    if not other or len(other) > 40:
        abort(400, description="Say which lead: other_lead_id is missing.")
    return other


@bp.post("/<lead_id>/merge")
@require(Role.COORDINATOR)
def merge(lead_id: str) -> Any:
    """Merge two leads found to be one person. ``keep``: ``this`` (the page's lead stays) or
    ``other``."""
    other = _other()
    keep = request.form.get("keep", "this")
    if keep not in ("this", "other"):
        abort(400, description="keep must be 'this' or 'other'.")
    keep_id, absorb_id = (lead_id, other) if keep == "this" else (other, lead_id)
    hub = current_hub()
    try:
        with tx() as session:
            merge_leads(
                session, keep_id=keep_id, absorb_id=absorb_id, config=hub.config, now=now(), actor=actor(),
                destinations=hub.intake.destinations,
            )  # fmt: skip
    except MergeRefused as exc:
        flash(f"Not merged: {exc}.", "error")
        return redirect(url_for("leads.show", lead_id=lead_id), code=303)
    flash(f"Lead {absorb_id} was merged into this lead; its CRM records are closed as duplicates.", "info")
    return redirect(url_for("leads.show", lead_id=keep_id), code=303)


@bp.post("/<lead_id>/keep-apart")
@require(Role.COORDINATOR)
def apart(lead_id: str) -> Any:
    """The two leads are different people (a household sharing a phone, say)."""
    other = _other()
    with tx() as session:
        done = keep_apart(session, lead_id, other, actor=actor(), now=now())
    if not done:
        abort(404, description=f"Lead {lead_id} has no open link to lead {other}.")
    flash(f"Kept apart from lead {other}.", "info")
    return redirect(url_for("leads.show", lead_id=lead_id), code=303)

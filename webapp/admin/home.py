"""The first page: My queue for coordinators (what is due now and overdue in their queues, urgent
first), the overview for everyone (sync errors, CRM connections, where each page is)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from hub.accounts.users import Role
from hub.coordinator.worklist import DUE_SOON, known_queues, my_queue, queue_counts, set_user_queues, user_queues
from hub.store.connections import connection_states
from hub.store.sync_errors import sync_error_count
from webapp import current_hub
from webapp.admin.common import actor, effective, now, page, tx, user
from webapp.auth import require

bp = page("home", __name__)


@bp.get("/")
@require(Role.VIEWER)
def index() -> Any:
    """My queue (a viewer, who sees no patient details, gets the overview)."""
    if not user().can(Role.COORDINATOR):
        return overview()
    me = user()
    with tx() as session:
        mine = user_queues(session, me.id)
        work = my_queue(session, mine, now=now())
        config, _ = effective(session)
        queues = known_queues(config, session)
    return render_template(
        "queue.html",
        work=work,
        mine=mine,
        queues=sorted(set(queues) | set(mine)),
        soon_minutes=int(DUE_SOON.total_seconds() // 60),
    )


@bp.post("/my-queues")
@require(Role.COORDINATOR)
def choose_queues() -> Any:
    """The signed-in person chooses the queues they work."""
    me = user()
    with tx() as session:
        config, _ = effective(session)
        allowed = set(known_queues(config, session))
        wanted = request.form.getlist("queue")
        unknown = [q for q in wanted if q not in allowed]
        if unknown:
            flash("That queue is not one the hub knows any more: choose again from the list.", "error")
            return redirect(url_for(".index"), code=303)
        chosen = set_user_queues(session, me.id, wanted, actor=actor(), now=now())
    if chosen:
        flash(f"Your queue now shows {', '.join(chosen)}.", "info")
    else:
        flash("Your queue now shows every queue.", "info")
    return redirect(url_for(".index"), code=303)


@bp.get("/overview")
@require(Role.VIEWER)
def overview() -> Any:
    hub = current_hub()
    with tx() as session:
        sync_errors = sync_error_count(session)
        states = connection_states(session)
        waiting = queue_counts(session, [], now=now())
    connections = [
        {
            "name": name,
            "enabled": settings.enabled,
            "status": states[name].status if name in states else "not connected",
        }
        for name, settings in hub.crm.items()
    ]
    return render_template("home.html", sync_errors=sync_errors, connections=connections, waiting=waiting)

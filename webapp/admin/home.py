"""The overview: what needs attention (sync errors, CRM connections) and where each page is."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import func, select

from hub.store.models import ConnectionRow, InboxRow, OutboxRow
from hub.users import Role
from webapp import current_hub
from webapp.admin.common import page, tx
from webapp.auth import require

bp = page("home", __name__)


@bp.get("/")
@require(Role.VIEWER)
def index() -> Any:
    hub = current_hub()
    with tx() as session:
        outbox = int(
            session.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status.in_(("failed", "dead"))))
            or 0
        )
        inbox = int(
            session.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.status.in_(("parked", "dead"))))
            or 0
        )
        rows = {r.name: r for r in session.scalars(select(ConnectionRow))}
    connections = [
        {
            "name": name,
            "enabled": settings.enabled,
            "status": rows[name].status if name in rows else "not connected",
        }
        for name, settings in hub.crm.items()
    ]
    return render_template("home.html", sync_errors=outbox + inbox, connections=connections)

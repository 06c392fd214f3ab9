"""The admin UI: one blueprint per page, server-rendered, usable with the keyboard alone.

=================  ==============================  ===========================================
page               URL                             who
=================  ==============================  ===========================================
overview           ``/``                           every role
dashboard          ``/dashboard``, ``/reviews``    coordinator
connections        ``/connections``                read: every role; connect, disconnect: admin
mappings           ``/mappings``                   read: every role; preview, save, roll back: admin
channel map        ``/channels``                   read: every role; change: admin
cadence            ``/cadence``                    read: every role; change: admin
templates          ``/templates``                  read: every role; change: admin
settings history   ``/settings/<section>/history`` read: every role; roll back, import: admin
sync errors        ``/sync-errors``                read: every role; replay, retry, CSV: coordinator
leads              ``/leads``                      list: every role; a lead's details: coordinator
lead identity      ``/leads/<id>/merge``, ``…/keep-apart``  coordinator
users              ``/users``                      admin
=================  ==============================  ===========================================
"""

from __future__ import annotations

from flask import Blueprint, Flask

from webapp.admin import (
    cadence,
    channels,
    connections,
    dashboard,
    history,
    home,
    lead_identity,
    leads,
    mappings,
    sync_errors,
    templates,
    users,
)

__all__ = ["BLUEPRINTS", "register"]

BLUEPRINTS: tuple[Blueprint, ...] = (
    home.bp,
    dashboard.bp,
    connections.bp,
    mappings.bp,
    channels.bp,
    cadence.bp,
    templates.bp,
    history.bp,
    sync_errors.bp,
    leads.bp,
    lead_identity.bp,
    users.bp,
)

#: The navigation: endpoint, label, and the least role that sees the page.
NAV = (
    ("home.index", "Overview"),
    ("dashboard.index", "Dashboard"),
    ("connections.index", "Connections"),
    ("mappings.index", "Mappings"),
    ("channels.index", "Channel map"),
    ("cadence.index", "Cadence"),
    ("templates.index", "Templates"),
    ("sync_errors.index", "Sync errors"),
    ("leads.index", "Leads"),
    ("users.index", "Users"),
)


def register(app: Flask) -> None:
    """Register every page's blueprint."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.jinja_env.globals["NAV"] = NAV

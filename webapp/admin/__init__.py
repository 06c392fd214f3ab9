"""The admin UI: one blueprint per page, server-rendered, usable with the keyboard alone.

=================  ==============================  ===========================================
page               URL                             who
=================  ==============================  ===========================================
my queue           ``/``                           coordinator (a viewer sees the overview)
overview           ``/overview``                   every role
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

#: The navigation: endpoint and label, in the order a coordinator's day goes.
NAV = (
    ("home.index", "My queue"),
    ("leads.index", "Leads"),
    ("dashboard.index", "Dashboard"),
    ("sync_errors.index", "Sync errors"),
    ("home.overview", "Overview"),
    ("connections.index", "Connections"),
    ("mappings.index", "Mappings"),
    ("channels.index", "Channel map"),
    ("cadence.index", "Cadence"),
    ("templates.index", "Templates"),
    ("users.index", "Users"),
)
#: Pages only coordinators and admins see in the navigation.
COORDINATOR_PAGES = frozenset({"home.index", "dashboard.index"})


def register(app: Flask) -> None:
    """Register every page's blueprint, the words-and-clock filters and the HTML error pages."""
    from webapp import present

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.jinja_env.globals["NAV"] = NAV
    app.jinja_env.globals["COORDINATOR_PAGES"] = COORDINATOR_PAGES
    present.install(app)

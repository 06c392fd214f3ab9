"""Connections: connect Salesforce or HubSpot by OAuth, see each connection's status, API budget and
last sync, and disconnect (the tokens are forgotten).

``POST /connections/<crm>/connect`` sends the admin to the CRM's consent page with a fresh ``state``
kept in the session; the CRM sends the browser back to ``GET /connections/<crm>/callback``, which
checks the state, trades the code for tokens (Authlib), stores them encrypted and rebuilds the sync.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for

from hub.accounts.users import Role
from hub.connections.crm import authorization_url, exchange_code
from hub.store import repo
from hub.store.connections import connection_states, forget_tokens, record_check
from nurture.errors import ConfigError
from webapp import current_hub
from webapp.admin.common import actor, now, page, tx, user
from webapp.auth import require

log = logging.getLogger(__name__)

bp = page("connections", __name__, url_prefix="/connections")

LABELS = {"salesforce": "Salesforce", "hubspot": "HubSpot"}
_STATE = "oauth_state_{}"
_VERIFIER = "oauth_pkce_{}"


def _crm(name: str) -> str:
    if name not in current_hub().crm:
        abort(404, description=f"There is no CRM called {name!r}.")
    return name


@bp.get("")
@require(Role.VIEWER)
def index() -> Any:
    hub = current_hub()
    with tx() as session:
        rows = connection_states(session)
    cards = []
    for name, settings in hub.crm.items():
        row = rows.get(name)
        used, limit = (row.api_used, row.api_limit) if row else (None, None)
        cards.append(
            {
                "name": name,
                "label": LABELS.get(name, name),
                "enabled": settings.enabled,
                "configured": bool(settings.client_id),
                "secret_set": hub.secret(settings.client_secret_env) is not None,
                "secret_env": settings.client_secret_env,
                "connected": bool(row and row.connected),
                "status": row.status if row else "not connected",
                "detail": row.detail if row else None,
                "instance_url": row.instance_url if row else None,
                "connected_at": row.connected_at if row else None,
                "last_push_at": row.last_push_at if row else None,
                "last_pull_at": row.last_pull_at if row else None,
                "paused_until": row.paused_until if row else None,
                "api_used": used,
                "api_limit": limit,
                "api_percent": round(100 * used / limit) if used is not None and limit else None,
            }
        )
    return render_template("connections.html", cards=cards)


@bp.post("/<name>/connect")
@require(Role.ADMIN)
def connect(name: str) -> Any:
    hub = current_hub()
    settings = hub.crm[_crm(name)]
    if not settings.client_id:
        flash(f"Set crm.{name}.client_id in the configuration first.", "error")
        return redirect(url_for(".index"), code=303)
    request_ = authorization_url(settings, hub.secret(settings.client_secret_env))
    url = request_.url
    session[_STATE.format(name)] = request_.state
    session[_VERIFIER.format(name)] = request_.code_verifier  # PKCE: in the signed session, never a URL
    log.info("%s: sending account %d to the consent page", name, user().id)
    return redirect(url, code=303)


@bp.get("/<name>/callback")
@require(Role.ADMIN)
def callback(name: str) -> Any:
    hub = current_hub()
    settings = hub.crm[_crm(name)]
    expected = session.pop(_STATE.format(name), None)
    verifier = session.pop(_VERIFIER.format(name), None)
    label = LABELS.get(name, name)
    if request.args.get("error"):
        flash(f"{label} did not grant access ({request.args['error'][:80]}).", "error")
        return redirect(url_for(".index"), code=303)
    state = request.args.get("state", "")
    if not isinstance(expected, str) or not state or not secrets.compare_digest(state, expected):
        abort(400, description=f"This answer from {label} does not belong to a connection started here. Start again.")
    try:
        token = exchange_code(
            settings,
            hub.secret(settings.client_secret_env),
            callback_url=request.url,
            state=state,
            code_verifier=verifier if isinstance(verifier, str) else None,
        )
    except Exception as exc:  # Authlib's OAuthError, or the CRM unreachable: say so, keep the old tokens
        log.warning("%s: the code exchange failed (%s)", name, type(exc).__name__)
        flash(f"{label} refused the connection ({type(exc).__name__}). Check the client id and secret.", "error")
        return redirect(url_for(".index"), code=303)
    hub.tokens(name).save(token, now=now(), detail="connected from the admin UI")
    with tx() as s:
        repo.audit(s, actor=actor(), action="connection.connect", subject_type="connection", subject_id=name, now=now())
    hub.reset_sync()
    current_app.extensions.pop("nurturehub.describe", None)
    flash(f"{label} is connected.", "info")
    return redirect(url_for(".index"), code=303)


@bp.post("/<name>/disconnect")
@require(Role.ADMIN)
def disconnect(name: str) -> Any:
    hub = current_hub()
    _crm(name)
    with tx() as s:
        forget_tokens(s, name, detail="disconnected from the admin UI", now=now())
        repo.audit(
            s, actor=actor(), action="connection.disconnect", subject_type="connection", subject_id=name, now=now()
        )
    hub.reset_sync()
    current_app.extensions.pop("nurturehub.describe", None)
    flash(f"{LABELS.get(name, name)} is disconnected; its tokens are forgotten.", "info")
    return redirect(url_for(".index"), code=303)


@bp.post("/<name>/check")
@require(Role.ADMIN)
def check(name: str) -> Any:
    """Ask the CRM whether the connection works, and record the API usage it reports."""
    hub = current_hub()
    _crm(name)
    from hub.connections.crm import build_connector

    label = LABELS.get(name, name)
    try:
        status = build_connector(
            hub.crm[name], hub.tokens(name), clinic_timezone=hub.config.settings.hours.timezone
        ).check()
    except ConfigError as exc:
        flash(f"{label}: {exc.problems[0]}", "error")
        return redirect(url_for(".index"), code=303)
    except Exception as exc:  # the CRM unreachable or refusing: show it, change nothing
        flash(f"{label} did not answer ({type(exc).__name__}).", "error")
        return redirect(url_for(".index"), code=303)
    with tx() as s:
        record_check(
            s, name, ok=status.ok, detail=status.detail[:500], api_used=status.api_used, api_limit=status.api_limit,
            now=now(),
        )  # fmt: skip
    flash(f"{label}: {'works' if status.ok else 'does not work'}.", "info" if status.ok else "error")
    return redirect(url_for(".index"), code=303)

"""Users: the accounts that may sign in, their roles, switching them off and on, and new passwords.
Admins only; every change is audited (by :mod:`hub.accounts.users`)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, session, url_for

from hub.accounts import users as accounts
from hub.accounts.users import AccountError, Role
from webapp import current_hub
from webapp.admin import forms
from webapp.admin.common import actor, now, page, user
from webapp.auth import require

bp = page("users", __name__, url_prefix="/users")


def _page(*, errors: forms.Errors | None = None, values: dict[str, str] | None = None, status: int = 200) -> Any:
    return (
        render_template(
            "users.html",
            accounts=accounts.list_users(current_hub().store),
            roles=[r.value for r in Role],
            errors=errors or forms.Errors(),
            values=values or {"role": Role.VIEWER.value},
            field_id=forms.field_id,
            min_password=accounts.MIN_PASSWORD,
        ),
        status,
    )


@bp.get("")
@require(Role.ADMIN)
def index() -> Any:
    return _page()


@bp.post("")
@require(Role.ADMIN)
def add() -> Any:
    values = {k: request.form.get(k, "") for k in ("username", "display_name", "role")}
    try:
        created = accounts.add_user(
            current_hub().store,
            username=values["username"],
            password=request.form.get("password", ""),
            role=values["role"],
            display_name=values["display_name"],
            now=now(),
            actor=actor(),
        )
    except AccountError as exc:
        return _page(errors=forms.Errors(fields={exc.field: [exc.message]}), values=values, status=422)
    flash(f"Added {created.username} as {created.role}.", "info")
    return redirect(url_for(".index"), code=303)


@bp.post("/<int:user_id>")
@require(Role.ADMIN)
def change(user_id: int) -> Any:
    store = current_hub().store
    target = accounts.get_user(store, user_id=user_id)
    if target is None:
        abort(404, description=f"There is no account {user_id}.")
    action = request.form.get("action", "")
    try:
        if action == "role":
            accounts.set_role(store, user_id, request.form.get("role", ""), now=now(), actor=actor())
            message = f"{target.username} is now {request.form.get('role')}."
        elif action in ("deactivate", "activate"):
            if action == "deactivate" and user_id == user().id:
                raise AccountError("active", "you cannot switch off your own account")
            accounts.set_active(store, user_id, action == "activate", now=now(), actor=actor())
            message = f"{target.username} is switched {'on' if action == 'activate' else 'off'}."
        elif action == "password":
            mine = session.get("sid") if user_id == user().id else None
            accounts.set_password(
                store,
                user_id,
                request.form.get("password", ""),
                now=now(),
                actor=actor(),
                keep_session=mine if isinstance(mine, str) else None,
            )
            message = f"{target.username} has a new password; their other sessions ended."
        else:
            abort(400, description="Unknown action.")
    except AccountError as exc:
        flash(f"{target.username}: {exc.message}", "error")
        return redirect(url_for(".index"), code=303)
    flash(message, "info")
    return redirect(url_for(".index"), code=303)

"""What every admin page shares: the hub, the clock, who is acting, the configuration in force, and
the HTML error pages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flask import Blueprint, render_template, request
from werkzeug.exceptions import HTTPException

from hub.accounts.users import User
from hub.app.bootstrap import Hub
from hub.settings import settings_store
from hub.settings.config import HubConfig
from hub.store import Transaction
from nurture.errors import ConfigError
from webapp import current_hub
from webapp.auth import current_user

log = logging.getLogger(__name__)

__all__ = ["actor", "effective", "html_error", "now", "page", "reload_hub", "tx", "user", "wants_fragment"]


def now() -> datetime:
    return current_hub().clock()


def user() -> User:
    """The signed-in account (views are guarded, so there is one)."""
    who = current_user()
    if who is None:  # pragma: no cover - every admin view is guarded by auth.require
        raise RuntimeError("no signed-in user")
    return who


def actor() -> str:
    return user().actor


@contextmanager
def tx() -> Iterator[Transaction]:
    with current_hub().store.tx() as session:
        yield session


def base_config(hub: Hub) -> HubConfig:
    """The configuration as the file says (what stored sections overlay): ``hub.file_config`` when the
    hub keeps the file's apart from the configuration in force, else ``hub.settings.config``."""
    file_config = getattr(hub, "file_config", None)
    return file_config if isinstance(file_config, HubConfig) else hub.config


def effective(session: Transaction) -> tuple[HubConfig, list[str]]:
    """The configuration in force; when the stored settings no longer fit the file, the file's
    configuration and the problems (the page says so)."""
    base = base_config(current_hub())
    try:
        return settings_store.effective_config(base, session), []
    except ConfigError as exc:
        return base, list(exc.problems)


def reload_hub(hub: Hub) -> None:
    """Tell the running hub that stored settings changed (when it knows how to reload them)."""
    reload = getattr(hub, "reload_settings", None)
    if callable(reload):
        reload()


def wants_fragment() -> bool:
    """The request came from the page's own script and wants a piece of HTML back."""
    return request.headers.get("X-Requested-With") == "fetch"


_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed", 409: "Changed meanwhile"}


def html_error(error: HTTPException) -> Any:
    code = error.code or 500
    message = error.description or ""
    if wants_fragment():
        return message, code, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template("error.html", title=_TITLES.get(code, "Error"), message=message), code


def page(name: str, import_name: str, **options: Any) -> Blueprint:
    """A page's blueprint, answering what its views abort with as HTML pages."""
    blueprint = Blueprint(name, import_name, **options)
    for code in (400, 403, 404, 409):
        blueprint.register_error_handler(code, html_error)
    return blueprint

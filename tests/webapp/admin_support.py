"""Helpers for the admin UI's tests: accounts, signing in, CSRF tokens, and reading pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser

from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from hub.accounts import users
from hub.accounts.users import User
from hub.app.bootstrap import Hub

PASSWORD = "correct horse battery staple"

# argon2id with test-sized costs: the production parameters take a few hundred ms per hash on a
# busy two-core machine, and these tests sign in hundreds of times. Still argon2id, still verified.
users._hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_account(hub: Hub, username: str, role: str, *, password: str = PASSWORD) -> User:
    return users.add_user(
        hub.store, username=username, password=password, role=role, now=datetime(2026, 1, 1, tzinfo=UTC)
    )


def token_from(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return unescape(found.group(1))


def token(client: FlaskClient) -> str:
    """A CSRF token valid in ``client``'s session (from the first form of the overview or sign-in)."""
    response = client.get("/")
    if response.status_code != 200:
        response = client.get("/sign-in")
    return token_from(response.text)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> object:
    page = client.get("/sign-in")
    csrf = token_from(page.text) if page.status_code == 200 else token(client)
    return client.post("/sign-in", data={"username": username, "password": password, "csrf_token": csrf})


def signed_in(app: Flask, hub: Hub, role: str, username: str | None = None) -> FlaskClient:
    """A new browser signed in as a new account of ``role``."""
    name = username or f"{role}-user"
    add_account(hub, name, role)
    client = app.test_client()
    response = sign_in(client, name)
    assert getattr(response, "status_code", None) == 303, "sign-in failed"
    return client


def post(client: FlaskClient, url: str, data: dict[str, object] | None = None, **kwargs: object) -> object:
    """POST a form with a valid CSRF token."""
    return client.post(url, data={**(data or {}), "csrf_token": token(client)}, **kwargs)  # type: ignore[arg-type]


def text_of(html: str) -> str:
    """The page's text, tags removed and whitespace collapsed (for readable assertions)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def errors_for(html: str, field_id: str) -> str:
    """The error message shown next to the input with id ``field_id``."""
    found = re.search(rf'<span class="field-error" id="{re.escape(field_id)}-error">(.*?)</span>\s*</span>', html, re.S)
    if not found:
        found = re.search(rf'<span class="field-error" id="{re.escape(field_id)}-error">(.*?)</span>', html, re.S)
    return text_of(found.group(1)) if found else ""


class _FormReader(HTMLParser):
    """Collects what a browser would submit for one form: inputs, checked boxes, selected options,
    textareas (not disabled ones' values are still kept: tests decide what to send)."""

    def __init__(self, form_id: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.depth = 0
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if not self.inside and (self.form_id is None or a.get("id") == self.form_id):
                self.inside = True
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[name] = a.get("value", "on")
            elif kind not in ("submit", "button", "file"):
                self.values[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select, self._select_first = name, None
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
                self.values.setdefault(self._select, value)
            if "selected" in a:
                self.values[self._select] = value
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.inside:
            self.inside = False
            self.form_id = "\0done"
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            self.values[self._textarea] = text[1:] if text.startswith("\n") else text
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)


def form_values(html: str, form_id: str | None = None) -> dict[str, str]:
    """The values a browser would submit for the form with id ``form_id`` (else the first form)."""
    reader = _FormReader(form_id)
    reader.feed(html)
    return reader.values

"""No 500 from input (issue 18): a hypothesis fuzz over every route of the admin UI — each form (as
the pages render it, with fields changed, dropped or added) and each query parameter, with
adversarial values — signed in as each role, finds no 5xx. The run prints its figures.

Outbound calls are kept on this machine: the CRM endpoints point at a closed loopback port.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from hub.accounts import users
from hub.app.bootstrap import Hub, build_hub
from hub.connections.crm import load_crm_settings
from hub.review.reports import generate_weekly, previous_week
from hub.settings.config import HubConfig
from hub.store.models import SignInFailureRow
from nurture.inquiry import Inquiry
from nurture.vocab import Channel
from tests.fixtures.clock import ManualClock
from tests.webapp.admin_support import PASSWORD, add_account, sign_in, token_from
from tests.webapp.conftest import environ
from webapp import create_app

CLOSED = "http://127.0.0.1:9"
ROLES = ("viewer", "coordinator", "admin")
#: Query parameters the views read, and a few they do not.
ARGS = ["next", "before", "weeks", "channel", "location", "service", "state", "error", "expired", "code", "section",
        "page", "q", "format", "id", "index", "version", "kind", "language"]  # fmt: skip
NASTY = [
    "", " ", "0", "-1", "99999999999999999999999", "1e999999", "NaN", "-0", "3.5", "true", "null", "[]", "{}",
    "2026-12-02T16:41:00", "2026-12-02T16:41:00+00:00", "2026-13-45", "2026-W99", "2026-W48", "9999-W01",
    "{first_name:d}", "{first_name:>{clinic_name}}", "{0}", "{", "}", "{{}}", "%s%s%n", "/%09/evil.example",
    "//evil.example", "\\\\evil", "javascript:alert(1)", "a\r\nb", "\x00", "\ud7ff", "\u202e", "é" * 300,
    "x" * 5000, "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "sms", "email", "admin",
    "viewer", "coordinator", "en", "es", "zz", "website_form", "paid_search", "salesforce", "hubspot",
    "typeform_default", "channels", "cadence", "templates", "routing", "delete", "save", "on", "yes",
    '[mapping]\nname = "x"', "=HYPERLINK(1)", "+15125550188", "Ana", "new", "1", "2", "5",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
FIGURES: Counter[str] = Counter()


class _Forms(HTMLParser):
    """Every form of a page: (method, action, fields as a browser would send them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, str, dict[str, str]]] = []
        self._current: dict[str, str] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = {}
            self.forms.append((a.get("method", "get").upper(), a.get("action", ""), self._current))
        elif self._current is None:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self._current[a["name"]] = a.get("value", "on")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select is not None:
            self._current.setdefault(self._select, a.get("value", ""))
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._current[self._textarea] = ""
        elif tag == "button" and a.get("name") and a.get("value"):
            self._current.setdefault(a["name"], a["value"])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self._current is not None:
            self._current[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


@pytest.fixture
def fuzz_hub(tmp_path: Path, config: HubConfig, clock: ManualClock) -> Iterator[Hub]:
    crm = load_crm_settings(
        {
            "crm": {
                "salesforce": {"client_id": "fuzz", "login_url": CLOSED, "redirect_uri": f"{CLOSED}/cb"},
                "hubspot": {
                    "client_id": "fuzz", "api_host": CLOSED, "authorize_url": f"{CLOSED}/authorize",
                    "token_url": f"{CLOSED}/token", "redirect_uri": f"{CLOSED}/cb",
                },
            }
        }
    )  # fmt: skip
    hub = build_hub(
        config, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", environ=environ(), clock=clock, crm=crm
    )
    received = clock.now - timedelta(days=7)
    for n in range(3):
        hub.intake.submit(
            Inquiry(
                channel=Channel.PAID_SEARCH, received_at=received, first_name="Ana", phone=f"+1512555{n:04d}",
                text="book me", campaign="=cmd",
            ),
            actor="test",
            now=received,
        )  # fmt: skip
    generate_weekly(hub.store, hub.config, previous_week(clock.now.date()), now=clock.now)
    yield hub
    hub.close()


class Browsers:
    """One signed-in browser per role, signed in again if the fuzz signs one out."""

    def __init__(self, app: Flask, hub: Hub) -> None:
        self.app, self.hub = app, hub
        self.accounts = {role: add_account(hub, f"fuzz-{role}", role) for role in ROLES}
        self.clients: dict[str, FlaskClient] = {}
        for role in ROLES:
            self.reset(role)

    def reset(self, role: str) -> None:
        account = self.accounts[role]
        now = self.hub.clock()
        users.set_active(self.hub.store, account.id, True, now=now, actor="test")
        users.set_role(self.hub.store, account.id, role, now=now, actor="test")
        users.set_password(self.hub.store, account.id, PASSWORD, now=now, actor="test")
        with self.hub.store.tx() as s:
            s.execute(delete(SignInFailureRow))
        client = self.app.test_client()
        assert getattr(sign_in(client, account.username), "status_code", None) == 303
        self.clients[role] = client

    def client(self, role: str) -> FlaskClient:
        client = self.clients[role]
        if client.get("/").status_code != 200:
            self.reset(role)
        return self.clients[role]


def targets(browsers: Browsers, hub: Hub) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    """The pages to GET (with real ids) and the forms they render (as an admin sees them)."""
    admin = browsers.client("admin")
    with hub.store.read() as s:
        from sqlalchemy import select

        from hub.store.models import LeadRow

        lead = s.scalars(select(LeadRow.id)).first()
    week = previous_week(hub.clock().date())
    mapping = re.search(r'href="/mappings/([a-z0-9_]+)"', admin.get("/mappings").text)
    pages = [
        "/", "/dashboard", "/reviews", f"/reviews/{week}", f"/reviews/{week}.pdf", f"/reviews/{week}.csv",
        "/connections", "/mappings", "/channels", "/cadence", "/templates", "/templates/new", "/templates/0",
        "/sync-errors", "/sync-errors/export.csv", "/leads", f"/leads/{lead}", "/users", "/sign-in",
        "/settings/channels/history", "/settings/cadence/history", "/settings/templates/history",
        "/settings/channels/export.toml", "/connections/salesforce/callback", "/connections/hubspot/callback",
    ]  # fmt: skip
    if mapping:
        name = mapping.group(1)
        pages += [f"/mappings/{name}", f"/mappings/{name}/history", f"/mappings/{name}/export.toml",
                  f"/mappings/{name}/versions/1.toml"]  # fmt: skip
    forms: list[tuple[str, dict[str, str]]] = []
    for page in pages:
        response = admin.get(page)
        if response.mimetype != "text/html":
            continue
        reader = _Forms()
        reader.feed(response.text)
        for method, action, fields in reader.forms:
            if method == "POST" and action and not action.startswith(("/sign-out", "http")):
                forms.append((action, fields))
    return pages, forms


def path_values(app: Flask) -> list[str]:
    """Every rule of the admin UI with nasty values in its path parameters."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "auth.sign_out") or rule.endpoint.startswith(("webhooks.", "health.")):
            continue
        for value in ("0", "99999999999999999999999", "x", "%2e%2e", "salesforce", "channels", "2026-W48", "é"):
            path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", value, rule.rule)
            out.append(path)
    return sorted(set(out))


@pytest.mark.slow
def test_no_input_gets_a_5xx_from_any_route_as_any_role(fuzz_hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(fuzz_hub, TESTING=True)
    browsers = Browsers(app, fuzz_hub)
    pages, forms = targets(browsers, fuzz_hub)
    paths = path_values(app)
    assert len(forms) > 20 and len(paths) > 50
    failures: list[str] = []

    def record(role: str, method: str, url: str, status: int, data: Any = None) -> None:
        FIGURES["requests"] += 1
        FIGURES[f"{status // 100}xx"] += 1
        FIGURES[f"{method} {status}"] += 1
        if status >= 500:
            failures.append(f"{role} {method} {url} {data!r} -> {status}")

    # Every route, every role, without and with nasty path values (a sweep before the random part).
    for role in ROLES:
        client = browsers.client(role)
        for path in pages + paths:
            record(role, "GET", path, client.get(path).status_code)
            home = client.get("/")
            csrf = token_from(home.text) if 'name="csrf_token"' in home.text else ""
            record(role, "POST", path, client.post(path, data={"csrf_token": csrf}).status_code)

    @settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        role = data.draw(st.sampled_from(ROLES))
        client = browsers.client(role) if FIGURES["requests"] % 50 == 0 else browsers.clients[role]
        query = data.draw(st.dictionaries(st.sampled_from(ARGS) | st.text(max_size=8), VALUES, max_size=3))
        if data.draw(st.booleans()):
            url = data.draw(st.sampled_from(pages + paths))
            url = f"{url}?{urlencode(query)}" if query else url
            record(role, "GET", url, client.get(url).status_code)
            return
        action, fields = data.draw(st.sampled_from(forms))
        sent = dict(fields)
        for name in data.draw(st.lists(st.sampled_from(sorted(sent) or ["x"]), max_size=4)):
            if data.draw(st.integers(0, 4)) == 0:
                sent.pop(name, None)
            else:
                sent[name] = data.draw(VALUES)
        for name, value in data.draw(
            st.dictionaries(st.sampled_from(ARGS) | st.text(max_size=12), VALUES, max_size=2)
        ).items():
            sent[name] = value
        home = client.get("/")
        sent["csrf_token"] = token_from(home.text) if 'name="csrf_token"' in home.text else ""
        url = f"{action}?{urlencode(query)}" if query and data.draw(st.booleans()) else action
        if action.startswith("/sign-in"):
            client.environ_base["REMOTE_ADDR"] = "203.0.113.77"  # the fuzz's failures throttle that address only
        response = client.post(
            url, data=sent, headers={"X-Requested-With": "fetch"} if data.draw(st.booleans()) else {}
        )
        client.environ_base.pop("REMOTE_ADDR", None)
        record(role, "POST", url, response.status_code, sent)

    fuzz()
    with capsys.disabled():
        print(f"\nweb fuzz: {FIGURES['requests']} requests, 5xx: {FIGURES['5xx']}, figures: {dict(FIGURES)}")
    assert failures == []
    assert FIGURES["5xx"] == 0 and FIGURES["requests"] > 3500

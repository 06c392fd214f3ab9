"""The admin UI in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), served
by a threaded werkzeug server on a free loopback port, with the CRM sandboxes behind it.

Each page visited leaves a screenshot in ``test-output/screenshots/``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import BaseWSGIServer, make_server

from connectors.inbound import sign_request
from hub.accounts import users
from hub.app.bootstrap import Hub, build_hub
from hub.connections.connect import connect_with_agent
from hub.connections.crm import load_crm_settings
from hub.settings.config import HubConfig
from sandboxes.common import SandboxServer
from tests.fixtures.salesforce_sandbox import SalesforceOrg
from tests.support import skip_or_fail
from tests.webapp.conftest import SECRETS, environ
from webapp import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
SAMPLES = Path(__file__).resolve().parents[2] / "mapping" / "samples"
SANDBOX_ID, SANDBOX_SECRET = "nurturehub-sandbox", "sandbox-secret"
PASSWORD = "correct horse battery staple"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return "needs Debian chromium at /usr/bin/chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs Playwright for Python (pip install playwright; no browser download)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason:
        skip_or_fail(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


@dataclass
class Live:
    """The hub and its web app, served on loopback."""

    hub: Hub
    url: str

    def shot(self, page: Any, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # Whole pages, except the very long mapping editors: there the window (with the sticky preview).
        height = int(page.evaluate("document.documentElement.scrollHeight"))
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=height <= 4000)


@pytest.fixture
def serve(tmp_path: Path, config: HubConfig) -> Iterator[Callable[..., Live]]:
    """Start the app for a hub whose CRM settings are made from the server's own URL."""
    servers: list[tuple[BaseWSGIServer, Hub]] = []

    def start(crm: Callable[[str], dict[str, Any]], *, clock: Callable[[], datetime] | None = None) -> Live:
        server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{server.server_port}"
        raw = {**config.raw, "web": {"secure_cookies": False}}
        env = {
            **environ(),
            "NURTUREHUB_HUBSPOT_CLIENT_SECRET": SANDBOX_SECRET,
            "NURTUREHUB_SALESFORCE_CLIENT_SECRET": SANDBOX_SECRET,
        }
        hub = build_hub(
            replace(config, raw=raw),
            database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
            environ=env,
            crm=load_crm_settings({"crm": crm(url)}),
            **({"clock": clock} if clock is not None else {}),
        )
        hub.base_url = url
        users.add_user(hub.store, username="ada", password=PASSWORD, role="admin", now=hub.clock())
        server.app = create_app(hub, TESTING=True)
        threading.Thread(target=server.serve_forever, name="admin-ui", daemon=True).start()
        servers.append((server, hub))
        return Live(hub=hub, url=url)

    yield start
    for server, hub in servers:
        server.shutdown()
        server.server_close()
        hub.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def sign_in_with_the_keyboard(page: Any, live: Live) -> None:
    page.goto(f"{live.url}/")
    assert "/sign-in" in page.url
    live.shot(page, "sign-in")
    page.keyboard.type("ada")  # the user name field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live.url}/")
    assert page.get_by_role("heading", name="My queue").is_visible()


def open_every_rule(page: Any) -> None:
    """Long rule lists start folded: unfold them (when folded) to reach a rule's fields."""
    toggle = page.get_by_role("button", name="Open every rule")
    if toggle.count():
        toggle.click()


def nav(page: Any, label: str) -> Any:
    return page.get_by_role("navigation", name="Pages").get_by_role("link", name=label)


def post_typeform_event(live: Live) -> None:
    body = (SAMPLES / "typeform_appointment_en.json").read_bytes()
    url = f"{live.url}/webhooks/website_form"
    headers = sign_request(
        "typeform", body, secret=SECRETS["NURTUREHUB_SECRET_WEBSITE_FORM"], now=datetime.now(UTC), url=url
    )
    response = requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=10)
    assert response.status_code == 202, response.text


def hubspot_settings(server: SandboxServer) -> Callable[[str], dict[str, Any]]:
    def settings(url: str) -> dict[str, Any]:
        hs = server.url
        return {
            "hubspot": {
                "enabled": True,
                "client_id": SANDBOX_ID,
                "api_host": hs,
                "authorize_url": f"{hs}/oauth/authorize",
                "token_url": f"{hs}/oauth/v1/token",
                "redirect_uri": f"{url}/connections/hubspot/callback",
            }
        }

    return settings


def test_an_admin_connects_hubspot_and_edits_saves_and_rolls_back_the_typeform_mapping(
    serve: Callable[..., Live], page: Any, hubspot_server: SandboxServer
) -> None:
    from playwright.sync_api import expect

    live = serve(hubspot_settings(hubspot_server))
    sign_in_with_the_keyboard(page, live)
    live.shot(page, "overview")

    # Connect HubSpot: the consent page of the sandbox approves at once and sends the browser back.
    nav(page, "Connections").click()
    page.get_by_role("button", name="Connect HubSpot").click()
    page.wait_for_url(f"{live.url}/connections")
    expect(page.get_by_text("HubSpot is connected.")).to_be_visible()
    expect(page.locator("#crm-hubspot + dl .status")).to_have_text("connected")
    live.shot(page, "connections")
    assert live.hub.tokens("hubspot").token().access_token

    # The Typeform mapping, previewed on a real inbound event.
    post_typeform_event(live)
    nav(page, "Mappings").click()
    live.shot(page, "mappings")
    page.get_by_role("link", name="typeform_default").click()
    first_name = page.locator('td.cell-value[data-target="first_name"]').first
    expect(first_name).to_have_text("Dana")
    live.shot(page, "mapping-editor")

    # Change a rule: the preview follows without a click.
    open_every_rule(page)
    target = page.locator('input[name$=".target"][value="first_name"]')
    rule = re.match(r"rules\[(\d+)\]", target.get_attribute("name") or "")
    assert rule is not None
    transform = page.locator(f'select[name="rules[{rule.group(1)}].transforms[0].name"]')
    transform.focus()
    transform.select_option("upper")
    expect(first_name).to_contain_text("DANA")
    live.shot(page, "mapping-preview-updated")

    page.get_by_role("button", name="Save as version 2").click()
    expect(page.get_by_text("Saved typeform_default as version 2.")).to_be_visible()

    page.get_by_role("link", name="History").click()
    rows = page.locator("table.list tbody tr")
    expect(rows.first).to_contain_text("in force")
    expect(rows.first).to_contain_text("Saved")
    live.shot(page, "mapping-history")
    page.get_by_role("link", name="What changed in version 2").click()
    expect(page.locator("tr.diff-added", has_text="upper")).to_be_visible()
    page.go_back()
    # A roll back first shows what it changes, and asks.
    page.get_by_role("link", name="Roll back to version 1…").click()
    expect(page.get_by_role("heading", name="Roll typeform_default back to version 1?")).to_be_visible()
    expect(page.locator("tr.diff-removed", has_text="upper")).to_be_visible()
    live.shot(page, "mapping-rollback-confirm")
    page.get_by_role("button", name="Roll back to version 1").click()
    expect(page.get_by_text("Version 1 is back in force as version 3.")).to_be_visible()
    expect(rows.first).to_contain_text("Rolled back to version 1")
    live.shot(page, "mapping-history-rolled-back")
    page.get_by_role("link", name="Back to the mapping").click()
    expect(page.locator('td.cell-value[data-target="first_name"]').first).to_have_text("Dana")


def test_every_page_renders_and_is_reachable_by_keyboard(
    serve: Callable[..., Live], page: Any, hubspot_server: SandboxServer
) -> None:
    live = serve(hubspot_settings(hubspot_server))
    post_typeform_event(live)
    live.hub.inbox.process(now=live.hub.clock())
    sign_in_with_the_keyboard(page, live)
    for path, name in [
        ("/connections", "connections"),
        ("/mappings/salesforce_lead_default", "mapping-editor-crm"),
        ("/channels", "channel-map"),
        ("/cadence", "cadence"),
        ("/templates", "templates"),
        ("/templates/2", "template-editor"),
        ("/settings/channels/history", "settings-history"),
        ("/sync-errors", "sync-errors"),
        ("/leads", "leads"),
        ("/users", "users"),
    ]:
        page.goto(f"{live.url}{path}")
        assert page.locator("h1").count() == 1
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)"""
        )
        assert unlabelled == [], f"{path}: fields without a label: {unlabelled}"
        live.shot(page, name)
    # The first lead's details, opened from the list with the keyboard.
    page.goto(f"{live.url}/leads")
    link = page.locator(".lead-list a.work-name").first
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/leads/nh_.*"))
    live.shot(page, "lead")

    # The template editor's privacy check follows the text as it is typed.
    page.goto(f"{live.url}/templates/new")
    page.get_by_label("Template id").fill("reminder")
    page.get_by_label("Kind").select_option("sms")
    page.get_by_label("Text").fill("Hi {first_name}, your {service_name} visit")
    from playwright.sync_api import expect

    expect(page.locator("#verdict")).to_contain_text("The privacy check refuses this template")
    live.shot(page, "template-privacy-check")


def test_a_salesforce_mapping_with_a_value_missing_from_a_restricted_picklist_is_refused(
    serve: Callable[..., Live], page: Any, sf_org: SalesforceOrg
) -> None:
    from playwright.sync_api import expect

    def settings(url: str) -> dict[str, Any]:
        return {
            "salesforce": {
                "enabled": True,
                "client_id": SANDBOX_ID,
                "login_url": sf_org.server.url,
                "ca_bundle": str(sf_org.ca_path),
                "redirect_uri": f"{url}/connections/salesforce/callback",
            }
        }

    live = serve(settings)
    connect_with_agent(live.hub, "salesforce")
    sign_in_with_the_keyboard(page, live)
    page.goto(f"{live.url}/mappings/salesforce_lead_default")
    expect(page.get_by_text("Every field exists in the CRM and every value is one it accepts.")).to_be_visible()
    open_every_rule(page)
    target = page.locator('input[name$=".target"][value="Status"]')
    rule = re.match(r"rules\[(\d+)\]", target.get_attribute("name") or "")
    assert rule is not None
    params = page.locator(f'textarea[name="rules[{rule.group(1)}].transforms[0].params"]')
    params.fill((params.input_value()).replace("Open - Not Contacted", "Brand New"))
    refusal = "Status: 'Brand New' is not an active picklist value"
    expect(page.locator("#preview .preflight.error")).to_contain_text(refusal)
    # The verdict is summarised at the top, shown at the rule it concerns, and Save is off with the reason.
    expect(page.locator("#verdict-top")).to_contain_text(refusal)
    expect(page.locator(f"details.rule[data-rule='{rule.group(1)}'] .preflight-at-rule")).to_contain_text("Brand New")
    save = page.get_by_role("button", name="Save as version 2")
    expect(save).to_be_disabled()
    expect(page.locator("#save-reason")).to_contain_text("the CRM would refuse this mapping")
    live.shot(page, "salesforce-picklist-refused")
    with live.hub.store.tx() as session:
        from hub.settings import settings_store

        assert settings_store.mapping_for(session, "salesforce_lead_default") is None

"""Every page at a laptop's width (1366) and a phone's (390) in a real headless Chromium: no sideways
page scroll, exactly one ``<h1>``, no console error (a stylesheet or script the CSP blocks is one),
and on the pages a coordinator reads all day no raw code and no UTC time in the visible text.

The hub runs on a pinned clock (Tuesday 1 December 2026, 10:00 at the clinic), so the screenshots
of My queue, a lead page and the weekly review (``test-output/screenshots/layout-*.png``) show the
same leads every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.review.period import iso_week_label
from hub.review.reports import generate_weekly
from hub.store import repo
from nurture.consent import ConsentEntry
from nurture.inquiry import Inquiry
from nurture.touches import Touch
from nurture.vocab import Channel, ConsentState, ContactChannel, TouchOutcome
from tests.browser.test_admin_ui import PASSWORD, Live

pytestmark = pytest.mark.browser

NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # Tuesday, 10:00 in Austin
WIDTHS = (1366, 390)

#: A code as the store keeps it (``website_form``, ``route_clinical_question``), not a lead id.
RAW_CODE = re.compile(r"\b(?!nh_)[a-z]+(?:_[a-z0-9]+)+\b")
#: An ISO 8601 instant or a time labelled UTC.
UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\bUTC\b")


def seed(live: Live) -> dict[str, str]:
    """Four inquiries of the morning (one urgent), a touch, and last week's review."""
    hub = live.hub
    ids: dict[str, str] = {}
    consent = ConsentEntry(
        channel=ContactChannel.SMS, state=ConsentState.GRANTED, at=NOW - timedelta(hours=3),
        source="website_form", wording="Text me about my appointment",
    )  # fmt: skip
    for key, minutes, channel, text, extra in [
        ("urgent", 25, Channel.WEBSITE_FORM, "I have chest pain since this morning, should I come in?", {}),
        ("booking", 180, Channel.PAID_SEARCH, "I'd like to book an appointment for physical therapy", {}),
        ("insurance", 90, Channel.GBP_CALL, "Do you take Blue Cross? I need prior authorization.", {}),
        ("spanish", 40, Channel.SOCIAL_MESSAGE, "Quiero hacer una cita para mi hijo", {"preferred_language": "es"}),
    ]:
        result = hub.intake.submit(
            Inquiry(
                channel=channel, received_at=NOW - timedelta(minutes=minutes),
                first_name={"urgent": "Maria", "booking": "Dana", "insurance": "Lee", "spanish": "José"}[key],
                last_name={"urgent": "Okafor", "booking": "Whitfield", "insurance": "Chen", "spanish": "Ramírez"}[key],
                phone=f"+1512555{minutes:04d}", email=f"{key}@example.com", text=text,
                consents=(consent,) if key == "booking" else (), **extra,
            ),
            actor="test",
        )  # fmt: skip
        ids[key] = result.lead.id if result.lead else ""
    with hub.store.tx() as session:
        repo.add_touch(
            session, ids["booking"],
            Touch(channel=ContactChannel.CALL, outcome=TouchOutcome.MISSED, at=NOW - timedelta(hours=2),
                  step="day0_call"),
            source_ref="test:1",
        )  # fmt: skip
    week = iso_week_label(NOW.date())  # this week so far: the review shows the leads above
    generate_weekly(hub.store, hub.config, week, now=NOW)
    ids["week"] = week
    return ids


def sign_in(page: Any, live: Live) -> None:
    page.goto(f"{live.url}/sign-in")
    page.get_by_label("User name").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.url}/")


def test_every_page_fits_both_widths_has_one_heading_no_console_error_and_the_main_pages_speak_words(
    serve: Callable[..., Live], browser: Any
) -> None:
    live = serve(lambda url: {}, clock=lambda: NOW)
    ids = seed(live)
    lead = ids["urgent"]
    main_pages = {
        "/": "queue",
        f"/leads/{lead}?back=/": "lead",
        f"/leads/{ids['booking']}": "lead-booking",
        "/leads": "leads",
        "/leads?q=dana": "leads-search",
        "/dashboard": "dashboard",
        f"/reviews/{ids['week']}": "weekly-review",
        "/overview": "overview",
    }
    other_pages = {
        "/reviews": "reviews",
        "/connections": "connections",
        "/mappings": "mappings",
        "/mappings/typeform_default": "mapping-editor",
        "/mappings/salesforce_lead_default": "mapping-editor-crm",
        "/mappings/typeform_default/history": "mapping-history",
        "/channels": "channel-map",
        "/cadence": "cadence",
        "/templates": "templates",
        "/templates/new": "template-new",
        "/settings/channels/history": "settings-history",
        "/settings/cadence/rollback?version=0": "rollback-confirm",
        "/sync-errors": "sync-errors",
        "/users": "users",
        "/no-such-page": "not-found",
    }
    problems: list[str] = []
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900 if width > 1000 else 844})
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        sign_in(page, live)
        for path, name in {**main_pages, **other_pages}.items():
            errors.clear()
            page.goto(f"{live.url}{path}")
            page.wait_for_load_state("load")
            where = f"{path} at {width}px"
            widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            if widths[0] > widths[1]:
                wide = page.evaluate(
                    """() => [...document.querySelectorAll('body *')]
                         .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                         .filter(e => !e.closest('.scroll, .table-box'))
                         .slice(0, 3).map(e => e.tagName + '.' + e.className)"""
                )
                problems.append(f"{where}: the page is {widths[0]}px wide ({', '.join(wide)})")
            headings = page.locator("h1").count()
            if headings != 1:
                problems.append(f"{where}: {headings} <h1> elements")
            # 404 is the page's answer to a missing page, not an error of the page itself.
            shown = [e for e in errors if not (name == "not-found" and "404" in e)]
            if shown:
                problems.append(f"{where}: console errors {shown[:2]}")
            if path in main_pages:
                text = page.evaluate("document.body.innerText")
                codes = sorted(set(RAW_CODE.findall(text)))
                if codes:
                    problems.append(f"{where}: raw codes in the text: {codes[:6]}")
                times = sorted(set(UTC_TIME.findall(text)))
                if times:
                    problems.append(f"{where}: UTC times in the text: {times[:3]}")
            if name in ("queue", "lead", "weekly-review"):
                live.shot(page, f"layout-{name}-{width}")
        context.close()
    assert problems == [], "\n".join(problems)

"""The dashboard and the weekly review in a real headless Chromium: the charts render, the filters
change the numbers, and a weekly review opens and downloads as a PDF."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from nurture.inquiry import Inquiry
from nurture.vocab import Channel
from tests.browser.test_admin_ui import Live, nav, sign_in_with_the_keyboard

pytestmark = pytest.mark.browser


def seed(live: Live) -> dict[str, int]:
    """Inquiries over the last days from two channels: 6 from paid search, 4 from the website form."""
    now = live.hub.clock()
    counts = {"paid_search": 6, "website_form": 4}
    n = 0
    for channel, count in counts.items():
        for _ in range(count):
            n += 1
            live.hub.intake.submit(
                Inquiry(
                    channel=Channel(channel), received_at=now - timedelta(days=n % 5, hours=1),
                    first_name="Dash", last_name=f"Board{n}", phone=f"+1512555{n:04d}",
                    text="I'd like to book an appointment" if n % 2 else "Do you take Medicaid?",
                ),
                actor="test",
            )  # fmt: skip
    return counts


def test_the_dashboard_charts_filters_and_weekly_review(serve: Callable[..., Live], page: Any) -> None:
    from playwright.sync_api import expect

    live = serve(lambda url: {})
    counts = seed(live)
    sign_in_with_the_keyboard(page, live)
    nav(page, "Dashboard").click()
    page.wait_for_url(f"{live.url}/dashboard")
    expect(page.locator("#inquiries")).to_have_text(str(sum(counts.values())))
    assert page.locator(".charts svg").count() == 5
    assert page.locator(".charts svg rect").count() > 5  # bars were drawn, not empty frames
    live.shot(page, "dashboard")

    page.get_by_label("Channel", exact=True).select_option("paid_search")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**channel=paid_search**")
    expect(page.locator("#inquiries")).to_have_text(str(counts["paid_search"]))
    live.shot(page, "dashboard-filtered")

    page.goto(f"{live.url}/reviews")
    week = page.get_by_label("ISO week").input_value()
    page.get_by_role("button", name="Render").click()
    page.wait_for_url(f"{live.url}/reviews/{week}")
    assert "Weekly review" in page.content()
    live.shot(page, "weekly-review")
    page.goto(f"{live.url}/reviews")
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").click()
    path = download.value.path()
    assert path is not None
    assert Path(path).read_bytes()[:5] == b"%PDF-"

"""The dashboard and weekly reviews through the test client: roles, filters, rendering, downloads."""

from __future__ import annotations

from flask import Flask

from hub.app.bootstrap import Hub
from hub.review.reports import previous_week
from nurture.inquiry import Inquiry
from nurture.vocab import Channel
from tests.webapp.admin_support import post, signed_in, text_of


def add(hub: Hub, channel: Channel, n: int) -> None:
    hub.intake.submit(
        Inquiry(channel=channel, received_at=hub.clock(), first_name="A", phone=f"+1512555{n:04d}", text="book me"),
        actor="test",
    )


def test_viewers_do_not_see_the_dashboard(app: Flask, hub: Hub) -> None:
    client = signed_in(app, hub, "viewer")
    assert client.get("/dashboard").status_code == 403
    assert "Dashboard" not in client.get("/").text


def test_the_dashboard_counts_and_filters(app: Flask, hub: Hub) -> None:
    for n in range(3):
        add(hub, Channel.PAID_SEARCH, n)
    add(hub, Channel.WEBSITE_FORM, 9)
    client = signed_in(app, hub, "coordinator")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert 'id="inquiries">4<' in page.text
    assert page.text.count("<svg") == 5
    filtered = client.get("/dashboard?channel=paid_search&weeks=1")
    assert 'id="inquiries">3<' in filtered.text
    assert "+1512555" not in page.text  # ids, never phone numbers


def test_a_bad_period_is_refused(app: Flask, hub: Hub) -> None:
    client = signed_in(app, hub, "coordinator")
    assert client.get("/dashboard?weeks=3").status_code == 400
    assert client.get("/dashboard?weeks=x").status_code == 400


def test_a_weekly_review_is_rendered_kept_and_downloaded(app: Flask, hub: Hub) -> None:
    add(hub, Channel.PAID_SEARCH, 1)
    client = signed_in(app, hub, "coordinator")
    week = previous_week(hub.clock().date())
    response = post(client, "/reviews", {"week": week})
    assert response.status_code == 302
    html = client.get(f"/reviews/{week}")
    assert html.status_code == 200
    assert "Weekly review" in html.text
    pdf = client.get(f"/reviews/{week}.pdf")
    assert pdf.data.startswith(b"%PDF-")
    csv = client.get(f"/reviews/{week}.csv")
    assert csv.mimetype == "text/csv"
    assert week in text_of(client.get("/reviews").text)


def test_an_unknown_or_malformed_week(app: Flask, hub: Hub) -> None:
    client = signed_in(app, hub, "coordinator")
    assert client.get("/reviews/2020-W01").status_code == 404
    refused = post(client, "/reviews", {"week": "last week"}, follow_redirects=True)
    assert "is not a week the hub knows" in text_of(refused.text)

"""My queue, the leads list (search, filters, paging), the lead's story and the channel map's queue
changes, through the Flask test client on a pinned clock (Tuesday 1 December 2026, 10:00 at the
clinic)."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from hub.app.bootstrap import Hub
from hub.store import repo
from hub.store.models import AuditRow, LeadRow
from nurture.inquiry import Inquiry
from nurture.vocab import Channel
from tests.webapp.admin_support import form_values, post, signed_in, text_of


def submit(hub: Hub, channel: Channel, minutes_ago: int, first: str, last: str, text: str, phone: str) -> str:
    result = hub.intake.submit(
        Inquiry(
            channel=channel, received_at=hub.clock() - timedelta(minutes=minutes_ago), first_name=first,
            last_name=last, phone=phone, email=f"{first.lower()}@example.com", text=text,
        ),
        actor="test",
    )  # fmt: skip
    assert result.lead is not None
    return result.lead.id


INSURANCE = "Do you take Blue Cross? I need prior authorization."


def seed(hub: Hub) -> dict[str, str]:
    return {
        "urgent": submit(hub, Channel.WEBSITE_FORM, 20, "Maria", "Okafor", "I have chest pain", "+15125550101"),
        "booking": submit(hub, Channel.PAID_SEARCH, 180, "Dana", "Whitfield", "I'd like to book", "+15125550102"),
        "insurance": submit(hub, Channel.GBP_CALL, 90, "Lee", "Chen", INSURANCE, "+15125550103"),
    }


def test_my_queue_lists_what_is_due_urgent_first_in_words_and_clinic_time(app: Flask, hub: Hub) -> None:
    ids = seed(hub)
    client = signed_in(app, hub, "coordinator")
    page = client.get("/").text
    text = text_of(page)
    assert "My queue" in text and "3 leads need you now" in text
    names = re.findall(r'class="work-name" href="/leads/(nh_\w+)', page)
    assert names[0] == ids["urgent"]  # urgent first, though it was due last
    assert "Urgent Maria Okafor" in text
    assert "Route to the clinical team" in text and "Website form" in text
    assert "overdue by 20 minutes, due 9:40 AM" in text  # received 9:40 in Austin, due at once
    assert "website_form" not in text and "UTC" not in text
    # The navigation counts them on every page.
    assert re.search(r'My queue <span class="count count-late"[^>]*>3<', client.get("/leads").text)


def test_a_coordinator_chooses_the_queues_they_work(app: Flask, hub: Hub) -> None:
    seed(hub)
    client = signed_in(app, hub, "coordinator")
    response = post(client, "/my-queues", {"queue": ["Insurance Desk"]}, follow_redirects=True)
    text = text_of(response.text)  # type: ignore[attr-defined]
    assert "Your queue now shows Insurance Desk." in text
    assert "1 lead needs you now" in text and "Lee Chen" in text and "Maria Okafor" not in text
    refused = post(client, "/my-queues", {"queue": ["Front Desk East"]}, follow_redirects=True)
    assert "not one the hub knows" in text_of(refused.text)  # type: ignore[attr-defined]


def test_a_viewer_gets_the_overview_and_no_names(app: Flask, hub: Hub) -> None:
    seed(hub)
    client = signed_in(app, hub, "viewer")
    assert "<h1>Overview</h1>" in client.get("/").text
    listing = text_of(client.get("/leads?q=maria").text)
    assert "Maria" not in listing and "sees no patient details" in listing


def test_leads_are_found_by_name_phone_and_email_and_the_search_is_audited_without_its_text(
    app: Flask, hub: Hub
) -> None:
    ids = seed(hub)
    client = signed_in(app, hub, "coordinator")
    for query in ("okafor", "maria oka", "(512) 555-0101", "maria@example.com"):
        page = client.get("/leads", query_string={"q": query}).text
        assert re.findall(r"/leads/(nh_\w+)\?back", page) == [ids["urgent"]], query
    with hub.store.tx() as session:
        searches = session.scalars(select(AuditRow).where(AuditRow.action == "lead.search")).all()
    assert [a.detail["by"] for a in searches] == ["name", "name", "phone", "email"]
    assert all("maria" not in str(a.detail).lower() for a in searches)


def test_the_filters_do_what_they_say(app: Flask, hub: Hub) -> None:
    ids = seed(hub)
    client = signed_in(app, hub, "coordinator")

    def found(**args: str) -> list[str]:
        return re.findall(r"/leads/(nh_\w+)\?back", client.get("/leads", query_string=args).text)

    assert found(urgent="1") == [ids["urgent"]]
    assert found(channel="gbp_call") == [ids["insurance"]]
    assert found(queue="Insurance Desk") == [ids["insurance"]]
    assert found(intent="clinical_question") == [ids["urgent"]]
    assert sorted(found(overdue="1")) == sorted(ids.values())
    assert found(stage="closed") == []
    assert client.get("/leads?channel=fax").status_code == 400


def test_paging_is_stable_by_creation_time_and_id(app: Flask, hub: Hub) -> None:
    made = [
        submit(hub, Channel.WEBSITE_FORM, 5, f"P{n}", "Same", "hello", f"+1512555{n:04d}") for n in range(55)
    ]  # every lead received at the same minute: the id breaks the tie
    client = signed_in(app, hub, "coordinator")
    first = client.get("/leads").text
    ids = re.findall(r"/leads/(nh_\w+)\?back", first)
    older = re.search(r'href="(/leads\?after=[^"]+)">Older leads', first)
    assert len(ids) == 50 and older is not None
    rest = re.findall(r"/leads/(nh_\w+)\?back", client.get(older.group(1).replace("&amp;", "&")).text)
    assert len(rest) == 5 and not set(ids) & set(rest)
    assert sorted(ids + rest) == sorted(made)
    assert client.get("/leads?after=garbage").status_code == 400


def test_the_lead_page_tells_the_story_and_leads_back(app: Flask, hub: Hub) -> None:
    ids = seed(hub)
    client = signed_in(app, hub, "coordinator")
    page = client.get(f"/leads/{ids['urgent']}?back=/").text
    text = text_of(page)
    assert "<h1>Maria Okafor</h1>" in page
    assert "In the patient's words I have chest pain" in text
    assert "First inquiry by website form" in text
    assert "Triage: Clinical question — urgent" in text and "Rules that fired:" in text
    # One line per rule, with every phrasing of it that matched (not one line per phrasing).
    assert "Urgent (red flag): chest pain — “chest pain”, “chest … pain”, “chest … pain…” (English)" in text
    assert text.count("Urgent (red flag): chest pain") == 1
    assert "Not booked yet." in text
    assert "New inquiry by" not in text and "by —" not in text  # the inquiry is told once, as the first
    # The same person writing again a minute later and an hour later (here from the CLI, with no
    # inbound event): two more inquiries in the story, each by its own channel.
    for later, channel in ((timedelta(minutes=1), Channel.PHONE_CALL), (timedelta(hours=1), Channel.PAID_SEARCH)):
        hub.intake.submit(
            Inquiry(channel=channel, received_at=hub.clock() - timedelta(minutes=20) + later, first_name="Maria",
                    last_name="Okafor", phone="+15125550101", text="Me again about the chest pain"),
            actor="test",
        )  # fmt: skip
    again = text_of(client.get(f"/leads/{ids['urgent']}?back=/").text)
    assert again.count("First inquiry by website form") == 1
    assert "Another inquiry by phone call" in again and "Another inquiry by paid search" in again
    assert '<a href="/">← Back to My queue</a>' in page
    assert "website_form" not in text and "UTC" not in text
    # Another site cannot be the way back.
    assert '<a href="/leads">← Back to the leads list</a>' in client.get(f"/leads/{ids['urgent']}?back=//evil").text
    with hub.store.tx() as session:
        views = session.scalars(select(AuditRow).where(AuditRow.action == "lead.view")).all()
    assert views and "message" in views[-1].detail["shown"]


def test_a_new_owner_queue_is_chosen_on_purpose_and_moves_the_open_leads_it_says(app: Flask, hub: Hub) -> None:
    ids = seed(hub)
    client = signed_in(app, hub, "admin")
    values = form_values(client.get("/channels").text, "channel-map-form")
    # A typo is not a queue: it must be chosen from the list.
    values["channels.paid_search.owner_queue"] = "Front Desk East"
    refused = post(client, "/channels", values)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "Choose a queue from the list" in text_of(refused.text)  # type: ignore[attr-defined]
    # A new queue, on purpose: the page says which leads move, and nothing is saved yet.
    values["channels.paid_search.owner_queue"] = "__new__"
    values["channels.paid_search.new_queue"] = "Front Desk East"
    asked = post(client, "/channels", values)
    text = text_of(asked.text)  # type: ignore[attr-defined]
    assert "this change moves open leads" in text
    assert "Paid search : 1 open lead from Front Desk to Front Desk East" in text
    with hub.store.tx() as session:
        assert session.get(LeadRow, ids["booking"]).next_action_queue == "Front Desk"  # type: ignore[union-attr]
    # Confirmed: saved, and exactly that lead moved (its follow-ups too); the others stayed.
    done = post(client, "/channels", {**values, "confirm_moves": "yes"}, follow_redirects=True)
    assert "1 open lead moved" in text_of(done.text)  # type: ignore[attr-defined]
    with hub.store.tx() as session:
        assert session.get(LeadRow, ids["booking"]).next_action_queue == "Front Desk East"  # type: ignore[union-attr]
        assert session.get(LeadRow, ids["urgent"]).next_action_queue == "Clinical Triage"  # type: ignore[union-attr]
        planned = {f.owner_queue for f in repo.follow_ups(session, ids["booking"]) if f.status == "planned"}
        assert planned == {"Front Desk East"}
    # Written the same way again, it is the same queue, not another new one.
    values["channels.webinar.owner_queue"] = "__new__"
    values["channels.webinar.new_queue"] = "front desk east"
    again = post(client, "/channels", values)
    assert "is already a queue: choose it from the list" in text_of(again.text)  # type: ignore[attr-defined]

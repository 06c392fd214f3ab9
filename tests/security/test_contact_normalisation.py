"""Contact data is normalised before matching (issue 18: emails with zero-width, right-to-left
override or Cyrillic look-alike characters were stored as separate leads; Salesforce refused them
later and the lead's Day-0 task stayed pending): NFKC, zero-width and bidi controls stripped,
mixed-script emails refused with a clear reason, the event parked with a reason code, no lead made."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub.app.bootstrap import Hub
from hub.store.models import InboxRow, LeadRow, OutboxRow
from nurture.contact import InvalidContact, clean_text, normalize_email, normalize_phone
from tests.fixtures.clock import ManualClock
from tests.webapp.conftest import signed

PLAIN = "ana.ruiz@example.org"


@pytest.mark.parametrize(
    "written",
    [
        "ana.ruiz\u200b@example.org",  # zero-width space
        "\ufeffana.ruiz@example.org",  # byte-order mark
        "ana.\u200druiz@exam\u200cple.org",  # zero-width joiner and non-joiner
        "\u202aana.ruiz@example.org\u202c",  # left-to-right embedding … pop
        "ana.ruiz@example.org\u202e",  # right-to-left override
        "\u2066ana.ruiz@example.org\u2069",  # isolates
        "ana.ru\u00adiz@example.org",  # soft hyphen
        "ＡＮＡ.ＲＵＩＺ@ｅｘａｍｐｌｅ.ｏｒｇ",  # full-width letters (NFKC)
        "  Ana.Ruiz@Example.ORG ",
    ],
)
def test_invisible_and_compatibility_characters_do_not_make_another_address(written: str) -> None:
    assert normalize_email(written) == PLAIN


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0430na.ruiz@example.org",  # Cyrillic а
        "ana.ruiz@ex\u0430mple.org",
        "ana.ru\u0456z@example.org",  # Cyrillic і
        "ana.ruiz@example.\u03bfrg",  # Greek ο
    ],
)
def test_a_mixed_script_email_is_refused_with_its_own_reason(look_alike: str) -> None:
    with pytest.raises(InvalidContact) as refused:
        normalize_email(look_alike)
    assert refused.value.code == "mixed_script_email"
    assert "mixes writing systems" in str(refused.value)
    assert look_alike not in str(refused.value)


@pytest.mark.parametrize("address", ["иван@почта.рф", "иван@mail.ru", "josé.núñez@correo.es", "a-b_c+d@x-y.org"])
def test_addresses_written_in_one_script_per_part_are_kept(address: str) -> None:
    assert normalize_email(address) == address


def test_phone_numbers_are_cleaned_too() -> None:
    assert normalize_phone("\u202d(512)\u200b 555-0188") == "+15125550188"
    assert normalize_phone("５１２５５５０１８８") == "+15125550188"
    assert clean_text("a\u200bb\u202ec") == "abc"


def leads(hub: Hub) -> int:
    with hub.store.tx() as s:
        return int(s.scalar(select(func.count()).select_from(LeadRow)) or 0)


def deliver(client: FlaskClient, clock: ManualClock, email: str, n: int) -> None:
    inquiry = {"channel": "paid_search", "first_name": "Ana", "phone": f"+1512555{n:04d}", "email": email}
    assert signed(client, "landing_page", inquiry, now=clock.now, event_id=f"msg_contact_{n}").status_code == 202


def test_look_alike_spellings_of_one_address_reach_one_lead(client: FlaskClient, hub: Hub, clock: ManualClock) -> None:
    for n, email in enumerate(
        [PLAIN, "ana.ruiz\u200b@example.org", "\u202eana.ruiz@example.org", "ＡＮＡ.ruiz@example.org"]
    ):
        deliver(client, clock, email, 100 + n)
    assert hub.inbox.process(now=clock.now).done == 4
    assert leads(hub) == 1


def test_a_mixed_script_email_parks_the_event_and_makes_no_lead(
    client: FlaskClient, hub: Hub, clock: ManualClock
) -> None:
    deliver(client, clock, "\u0430na.ruiz@example.org", 1)
    report = hub.inbox.process(now=clock.now)
    assert report.parked == 1
    with hub.store.tx() as s:
        [row] = s.scalars(select(InboxRow)).all()
        assert row.status == "parked"
        assert row.error is not None and "mixes writing systems" in row.error
        assert "\u0430" not in row.error
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 0
    assert leads(hub) == 0

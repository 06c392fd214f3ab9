from __future__ import annotations

import pytest

from nurture.settings import NurtureSettings
from nurture.templates import Template, TemplateCatalog, check_template
from nurture.vocab import TemplateKind


def test_the_shipped_templates_pass_the_phi_guard(settings: NurtureSettings) -> None:
    assert settings.templates.problems() == []


@pytest.mark.parametrize("kind", [TemplateKind.SMS, TemplateKind.VOICEMAIL, TemplateKind.SOCIAL])
def test_texts_voicemail_and_social_may_not_name_the_service(kind: TemplateKind) -> None:
    template = Template(id="t", kind=kind, language="en", body="Hi {first_name}, about your {service_name} visit")
    problems = check_template(template)
    assert [p.field for p in problems] == ["service_name"]
    assert "may not use {service_name}" in problems[0].message


def test_voicemail_is_limited_to_name_and_callback_number() -> None:
    ok = Template(id="vm", kind=TemplateKind.VOICEMAIL, language="en", body="Hi {first_name}, call {callback_number}.")
    link = Template(id="vm", kind=TemplateKind.VOICEMAIL, language="en", body="Book at {scheduling_link}")
    assert check_template(ok) == []
    assert [p.field for p in check_template(link)] == ["scheduling_link"]


def test_email_may_name_the_service() -> None:
    t = Template(id="e", kind=TemplateKind.EMAIL, language="en", body="About {service_name} at {location_name}")
    assert check_template(t) == []


def test_a_text_must_fit_in_one_message() -> None:
    t = Template(id="s", kind=TemplateKind.SMS, language="en", body="Hi {first_name}! " + "x" * 150)
    assert [p.field for p in check_template(t)] == ["body"]


def test_broken_placeholders_are_reported_not_raised() -> None:
    t = Template(id="s", kind=TemplateKind.SMS, language="en", body="Hi {first_name")
    assert check_template(t)[0].field == "body"


def test_rendering_refuses_an_unapproved_template() -> None:
    t = Template(id="s", kind=TemplateKind.SMS, language="en", body="Your {service_name} results")
    with pytest.raises(ValueError, match="not approved"):
        t.render({"service_name": "HIV test"})


def test_rendering_fills_only_the_fields_it_uses() -> None:
    t = Template(id="s", kind=TemplateKind.SMS, language="en", body="Hi {first_name}, call {callback_number}")
    assert t.render({"first_name": "Ana", "callback_number": "+15125550100", "last_name": "Ruiz"}) == (
        "Hi Ana, call +15125550100"
    )


def test_the_catalog_falls_back_to_the_clinic_language(settings: NurtureSettings) -> None:
    found = settings.templates.find("missed_call", TemplateKind.SMS, "fr")
    assert found is not None
    assert found.language == "en"
    spanish = settings.templates.find("missed_call", TemplateKind.SMS, "es")
    assert spanish is not None
    assert spanish.language == "es"


def test_a_template_defined_twice_is_refused() -> None:
    t = Template(id="a", kind=TemplateKind.SMS, language="en", body="Hi")
    with pytest.raises(ValueError, match="defined twice"):
        TemplateCatalog([t, t])

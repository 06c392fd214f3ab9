"""The template PHI guard reads the words (issue 18): clinical vocabulary in English and Spanish,
personal names, dates of birth and record numbers; a verdict per kind of message; SMS, voicemail and
social templates with such words refused at save; email only with an explicit, audited approval;
promises and diagnosis-like wording as warnings that name the words."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.app.bootstrap import Hub
from hub.settings.config import HubConfig, load_config
from hub.store.models import AuditRow
from nurture.templates import Template, Verdict, check_rendered, check_template, review_template
from nurture.vocab import TemplateKind
from nurture.wording import Concern, clinic_words, read
from tests.webapp.admin_support import form_values, post, signed_in, text_of

CORPUS = [json.loads(line) for line in (Path(__file__).parent / "phi_corpus.jsonl").read_text().splitlines()]
CLINIC = clinic_words(["Riverbend Health", "Downtown", "Eastside", "Front Desk", "Clinical Triage"])
ISSUE_SMS = "Hi {first_name}, about your type 2 diabetes diagnosis and your MRI results. Call {callback_number}."


def template(kind: TemplateKind, body: str, language: str = "en", **extra: Any) -> Template:
    return Template(id="t", kind=kind, language=language, body=body, **extra)


# --- the corpus ----------------------------------------------------------------------------------


def test_the_corpus_has_over_100_lines_clean_and_dirty_in_both_languages() -> None:
    assert len(CORPUS) >= 100
    for language in ("en", "es"):
        lines = [c for c in CORPUS if c["language"] == language]
        assert sum(not c["concerns"] for c in lines) >= 20
        assert sum(bool(c["concerns"]) for c in lines) >= 20


@pytest.mark.parametrize("line", CORPUS, ids=[c["text"][:50] for c in CORPUS])
def test_each_corpus_line_gets_exactly_its_concerns(line: dict[str, Any]) -> None:
    found = read(line["text"], language=line["language"], clinic=CLINIC)
    assert sorted({f.concern.value for f in found}) == line["concerns"], [(f.concern, f.words) for f in found]


def test_no_clean_corpus_line_is_refused_as_a_text_message() -> None:
    clean = [c for c in CORPUS if not c["concerns"]]
    refused = [
        c["text"]
        for c in clean
        if check_template(template(TemplateKind.EMAIL, c["text"], c["language"]), clinic=CLINIC)
    ]
    assert refused == []


# --- the issue's examples --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "language", "words"),
    [
        (ISSUE_SMS, "en", {"type 2 diabetes", "diagnosis", "MRI", "results"}),
        ("Your HIV test is ready, {first_name}.", "en", {"HIV test"}),
        ("{first_name}, congratulations on your pregnancy!", "en", {"pregnancy"}),
        ("Hola {first_name}, sobre su diagnóstico de depresión.", "es", {"diagnóstico", "depresión"}),
        ("Hi Maria Gonzalez, call {callback_number}.", "en", {"Maria Gonzalez"}),
    ],
)
def test_the_issue_examples_are_refused_in_a_text_message(body: str, language: str, words: set[str]) -> None:
    review = review_template(template(TemplateKind.SMS, body, language), clinic=CLINIC)
    assert {f.words for f in review.phi} == words
    assert review.verdicts[TemplateKind.SMS] is Verdict.REFUSED
    [problem] = review.problems
    assert all(f"\u201c{w}\u201d" in problem.message for w in words)


def test_the_verdict_is_given_for_every_kind() -> None:
    review = review_template(template(TemplateKind.SMS, ISSUE_SMS), clinic=CLINIC)
    assert review.verdicts == {
        TemplateKind.SMS: Verdict.REFUSED,
        TemplateKind.VOICEMAIL: Verdict.REFUSED,
        TemplateKind.SOCIAL: Verdict.REFUSED,
        TemplateKind.EMAIL: Verdict.NEEDS_APPROVAL,
        TemplateKind.CALL_SCRIPT: Verdict.PASSES,
    }


@pytest.mark.parametrize("body", ["Hi {first_name:d}", "{first_name:>{clinic_name}}", "Hi {first_name!r}"])
@pytest.mark.parametrize("kind", list(TemplateKind))
def test_a_format_spec_or_conversion_is_a_problem_not_a_crash(body: str, kind: TemplateKind) -> None:
    [problem] = check_template(template(kind, body))
    assert problem.field == "first_name"
    assert "has a format or conversion; write {first_name}" in problem.message


def test_promises_and_diagnosis_like_wording_are_warnings_that_name_the_words() -> None:
    review = review_template(
        template(TemplateKind.SMS, "Guaranteed! Last chance: your condition needs us. {callback_number}"), clinic=CLINIC
    )
    assert review.problems == ()
    assert [(f.concern, f.words) for f in review.warnings] == [
        (Concern.PROMISE, "Guaranteed"),
        (Concern.PROMISE, "Last chance"),
        (Concern.DIAGNOSIS, "your condition"),
    ]


def test_an_email_with_phi_words_passes_only_with_an_approval_covering_them() -> None:
    from nurture.templates import PhiApproval

    body = "Hi {first_name}, your MRI is booked at {location_name}."
    assert [p.field for p in check_template(template(TemplateKind.EMAIL, body))] == ["phi_approval"]
    approval = PhiApproval(by="user:1:ada", at="2026-12-01T16:00:00+00:00", words=("MRI",))
    assert check_template(template(TemplateKind.EMAIL, body, phi_approval=approval)) == []
    wider = body + " Bring your insulin."
    assert [p.field for p in check_template(template(TemplateKind.EMAIL, wider, phi_approval=approval))] == [
        "phi_approval"
    ]


def test_a_rendered_message_is_checked_for_the_leads_own_values() -> None:
    sms = template(TemplateKind.SMS, "Hi {first_name}, call {callback_number}.")
    rendered = sms.render({"first_name": "Ana Ruiz-Calderón", "callback_number": "+15125550100"})
    found = check_rendered(
        sms,
        rendered,
        lead_values=["Ruiz-Calderón", "ana@example.org"],
        allowed_values=["Ana Ruiz-Calderón", "+15125550100"],
        clinic=CLINIC,
    )
    assert [(f.concern, f.words) for f in found] == [(Concern.LEAD_VALUE, "Ruiz-Calderón")]
    clean = sms.render({"first_name": "Ana", "callback_number": "+15125550100"})
    assert check_rendered(sms, clean, lead_values=["Ruiz-Calderón"], allowed_values=["Ana"], clinic=CLINIC) == []


# --- the clinic's approved templates still pass -----------------------------------------------------


def test_every_approved_template_of_the_example_config_passes(config: HubConfig) -> None:
    catalog = config.settings.templates
    assert len(catalog) > 50
    for t in catalog:
        review = review_template(t, clinic=catalog.clinic)
        assert review.problems == (), (t.id, t.kind, t.language, review.problems)
        if t.kind is not TemplateKind.CALL_SCRIPT:  # staff read scripts to the patient: words are shown, not refused
            assert review.phi == (), (t.id, t.kind, t.language, review.phi)


def test_the_clinics_own_words_are_not_names() -> None:
    config = load_config(None, environ={})
    body = "Riverbend Health Downtown is open. Our Front Desk team will call. See you Monday at Eastside!"
    assert read(body, clinic=config.settings.templates.clinic) == []
    assert [f.words for f in read(body)] == ["Riverbend Health Downtown", "Front Desk", "Eastside"]


# --- the editor --------------------------------------------------------------------------------------


@pytest.fixture
def admin(app: Flask, hub: Hub) -> FlaskClient:
    return signed_in(app, hub, "admin")


def editor_values(admin: FlaskClient, **values: str) -> dict[str, str]:
    return {**form_values(admin.get("/templates/new").text, "template-form"), **values}


def test_the_editor_marks_the_words_and_gives_the_verdict_per_kind(admin: FlaskClient) -> None:
    values = editor_values(admin, id="first_response", kind="sms", language="en", body=ISSUE_SMS)
    page = post(admin, "/templates/check", values, headers={"X-Requested-With": "fetch"})
    assert page.status_code == 200  # type: ignore[attr-defined]
    html = page.text  # type: ignore[attr-defined]
    assert '<mark class="phi" title="clinical word (test)">MRI</mark>' in html
    assert '<mark class="phi" title="clinical word (condition)">type 2 diabetes</mark>' in html
    text = text_of(html)
    assert "sms refused" in text and "email needs an admin's approval" in text and "call_script passes" in text


@pytest.mark.parametrize("body", ["Hi {first_name:d}", "{first_name:>{clinic_name}}"])
def test_the_issues_500s_are_answered_with_the_problem(admin: FlaskClient, hub: Hub, body: str) -> None:
    for kind in ("sms", "email"):
        values = editor_values(admin, id="x", kind=kind, language="en", body=body)
        checked = post(admin, "/templates/check", values)
        assert checked.status_code == 200  # type: ignore[attr-defined]
        assert "has a format or conversion" in text_of(checked.text)  # type: ignore[attr-defined]
        saved = post(admin, "/templates/new", {**values, "action": "save"})
        assert saved.status_code == 422  # type: ignore[attr-defined]
    assert not hub.config.settings.templates.has("x")


@pytest.mark.parametrize("kind", ["sms", "voicemail", "social"])
def test_a_shared_kind_with_phi_words_is_refused_at_save(admin: FlaskClient, hub: Hub, kind: str) -> None:
    values = editor_values(admin, id="leaky", kind=kind, language="en", body="Hi {first_name}, your MRI is ready.")
    refused = post(admin, "/templates/new", {**values, "action": "save", "approve_phi": "yes"})
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "may not say \u201cMRI\u201d (clinical word (test))" in text_of(refused.text)  # type: ignore[attr-defined]


def test_an_email_with_phi_words_is_saved_only_with_an_audited_approval(admin: FlaskClient, hub: Hub) -> None:
    body = "Hi {first_name}, your MRI is booked."
    values = editor_values(admin, id="prep_mri", kind="email", language="en", subject="Your visit", body=body)
    refused = post(admin, "/templates/new", {**values, "action": "save"})
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "an admin must approve sending these words by email" in text_of(refused.text)  # type: ignore[attr-defined]
    assert 'name="approve_phi"' in refused.text  # type: ignore[attr-defined]
    saved = post(admin, "/templates/new", {**values, "action": "save", "approve_phi": "yes"})
    assert saved.status_code == 303  # type: ignore[attr-defined]
    with hub.store.tx() as s:
        [audit] = s.scalars(select(AuditRow).where(AuditRow.action == "template.phi_approved")).all()
        assert (audit.subject_id, audit.detail, audit.actor) == (
            "prep_mri/email/en",
            {"words": ["MRI"]},
            "user:1:admin-user",
        )
    hub.refresh(at_most_every=0)
    stored = next(t for t in hub.config.settings.templates if t.id == "prep_mri")
    assert stored.phi_approval is not None and stored.phi_approval.words == ("MRI",)
    # Editing it keeps the approval for the same words; a new word needs a new approval.
    index = next(
        i
        for i in re.findall(r'href="/templates/(\d+)"', admin.get("/templates").text)
        if form_values(admin.get(f"/templates/{i}").text, "template-form")["id"] == "prep_mri"
    )
    values = form_values(admin.get(f"/templates/{index}").text, "template-form")
    same_words = post(admin, f"/templates/{index}", {**values, "body": body + " See you soon.", "action": "save"})
    assert same_words.status_code == 303  # type: ignore[attr-defined]
    more = post(admin, f"/templates/{index}", {**values, "body": body + " Bring your insulin.", "action": "save"})
    assert more.status_code == 422  # type: ignore[attr-defined]
    assert "\u201cinsulin\u201d" in text_of(more.text)  # type: ignore[attr-defined]


def test_the_maintained_vocabularies_are_read() -> None:
    from nurture import wording

    maintained = wording._maintained()
    assert len(maintained.folded) > 30_000
    found = read("Ask about blastomycosis, Raynaud disease, Ozempic and lisinopril.", clinic=CLINIC)
    assert [(f.words, f.detail) for f in found] == [
        ("blastomycosis", "condition"),
        ("Raynaud disease", "condition"),
        ("Ozempic", "medication"),
        ("lisinopril", "medication"),
    ]


def test_the_cached_maintained_vocabulary_is_the_one_built_from_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache holds the phrases split and folded (a later process only indexes them): what it
    reads back is exactly what the packages' data builds, and a damaged cache is rebuilt."""
    from nurture import wording

    monkeypatch.setenv("NURTUREHUB_CACHE_DIR", str(tmp_path))
    wording._maintained.cache_clear()
    try:
        built = wording._maintained()  # from the packages; writes the cache
        (cached,) = tmp_path.glob("maintained-terms-*.json")
        wording._maintained.cache_clear()
        again = wording._maintained()  # from the cache
        assert again == built and len(again.folded) > 30_000
        cached.write_text('{"folded": 1}', encoding="utf-8")
        wording._maintained.cache_clear()
        assert wording._maintained() == built
    finally:
        wording._maintained.cache_clear()

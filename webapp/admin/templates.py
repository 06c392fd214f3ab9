"""Approved templates per channel kind and language, with the PHI guard's verdict shown while
editing (``POST /templates/check`` answers the page's script as the admin types): the verdict for
every kind of message, and the text with the words at fault marked. Saved as the versioned
``templates`` section, validated like the config file (the guard included).

An email template whose words the guard finds is saved only with the admin's explicit approval of
those words (the "approve" box): the approval is kept with the template (who, when, which words) and
written to the audit trail; words added later need a new approval."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from hub.accounts.users import Role
from hub.settings import settings_store
from hub.store import repo
from nurture.templates import (
    ALLOWED_FIELDS,
    SMS_MAX_CHARS,
    PhiApproval,
    Template,
    TemplateProblem,
    TemplateReview,
    Verdict,
    review_template,
)
from nurture.vocab import TemplateKind
from nurture.wording import Finding
from webapp import current_hub
from webapp.admin import forms
from webapp.admin.common import actor, base_config, effective, now, page, reload_hub, tx, wants_fragment
from webapp.auth import require

bp = page("templates", __name__, url_prefix="/templates")


def _documents() -> tuple[list[dict[str, Any]], int, list[str]]:
    with tx() as session:
        config, problems = effective(session)
        version = settings_store.current_section(session, "templates").version
    return list(settings_store.section_document(config, "templates") or []), version, problems


def _template(document: dict[str, Any]) -> Template:
    approval = document.get("phi_approval")
    return Template(
        id=document.get("id") or "(new)",
        kind=TemplateKind(document.get("kind", "")),
        language=document.get("language", ""),
        body=document.get("body", ""),
        subject=document.get("subject", ""),
        phi_approval=PhiApproval(by=approval["by"], at=approval["at"], words=tuple(approval["words"]))
        if isinstance(approval, dict) and approval.get("by") and approval.get("words")
        else None,
    )


def review(document: dict[str, Any]) -> TemplateReview:
    """The PHI guard's reading of one template document (a malformed one gets a problem too)."""
    try:
        template = _template(document)
    except ValueError as exc:
        return TemplateReview(
            problems=(TemplateProblem(template=str(document.get("id", "")), field="kind", message=str(exc)),)
        )
    return review_template(template, clinic=current_hub().config.settings.templates.clinic)


def verdict(document: dict[str, Any]) -> list[TemplateProblem]:
    """The problems that stop ``document`` from being saved."""
    return list(review(document).problems)


def marked(text: str, findings: Sequence[Finding]) -> list[tuple[str, list[Finding]]]:
    """``text`` cut into pieces, each with the findings that cover it (for ``<mark>`` in the page)."""
    cuts = sorted({0, len(text), *(f.start for f in findings), *(f.end for f in findings)})
    pieces = []
    for start, end in itertools.pairwise(cuts):
        if start < end:
            pieces.append((text[start:end], [f for f in findings if f.start <= start and end <= f.end]))
    return pieces


def _verdict_context(document: dict[str, Any]) -> dict[str, Any]:
    reading = review(document) if document.get("body") else TemplateReview(problems=())
    return {
        "problems": list(reading.problems),
        "reading": reading,
        "body_pieces": marked(document.get("body", ""), reading.body),
        "subject_pieces": marked(document.get("subject", ""), reading.subject),
        "verdict_kinds": [k.value for k in TemplateKind],
    }


@bp.get("")
@require(Role.VIEWER)
def index() -> Any:
    documents, version, problems = _documents()
    rows = []
    for i, d in enumerate(documents):
        reading = review(d)
        rows.append({"index": i, **d, "problems": list(reading.problems), "warnings": reading.warnings})
    rows.sort(key=lambda r: (r["id"], r["kind"], r["language"]))
    return render_template("message_templates/list.html", rows=rows, version=version, config_problems=problems)


def _editor(
    index: int | None,
    document: dict[str, Any],
    *,
    version: int,
    errors: forms.Errors | None = None,
    status: int = 200,
) -> Any:
    return (
        render_template(
            "message_templates/edit.html",
            index=index,
            template=document,
            version=version,
            kinds=[k.value for k in TemplateKind],
            allowed={k.value: sorted(v) for k, v in ALLOWED_FIELDS.items()},
            sms_max=SMS_MAX_CHARS,
            errors=errors or forms.Errors(),
            field_id=forms.field_id,
            **_verdict_context(document),
        ),
        status,
    )


@bp.get("/new")
@bp.get("/<int:index>")
@require(Role.VIEWER)
def edit(index: int | None = None) -> Any:
    documents, version, _ = _documents()
    if index is None:
        return _editor(None, {"kind": "sms", "language": "en"}, version=version)
    if not 0 <= index < len(documents):
        abort(404, description=f"There is no template number {index}.")
    return _editor(index, documents[index], version=version)


@bp.post("/check")
@require(Role.ADMIN)
def check() -> Any:
    """The PHI guard's verdict on the template being edited (for the page's script)."""
    document = forms.template_document(request.form)
    if wants_fragment():
        return render_template("message_templates/_verdict.html", template=document, **_verdict_context(document))
    return _editor(_index(request.form), document, version=_documents()[1])


def _approval(document: dict[str, Any], before: dict[str, Any] | None, *, deleting: bool) -> list[str]:
    """Carry an email's approval over, or record a new one when the admin ticked the box.

    Returns the words newly approved (for the audit trail), else an empty list.
    """
    if deleting or document.get("kind") != TemplateKind.EMAIL.value or not document.get("body"):
        return []
    if before is not None and isinstance(before.get("phi_approval"), dict):
        document["phi_approval"] = before["phi_approval"]
    try:
        reading = review_template(_template(document), clinic=current_hub().config.settings.templates.clinic)
    except ValueError:
        return []
    if reading.verdicts[TemplateKind.EMAIL] is not Verdict.NEEDS_APPROVAL:
        if not reading.phi:
            document.pop("phi_approval", None)  # nothing left to approve
        return []
    if request.form.get("approve_phi") != "yes":
        return []
    words = sorted({f.words for f in reading.phi}, key=str.casefold)
    document["phi_approval"] = {"by": actor(), "at": now().isoformat(), "words": words}
    return words


def _index(form: MultiDict[str, str]) -> int | None:
    text = form.get("index", "")
    return int(text) if text.isdigit() else None


@bp.post("/new")
@bp.post("/<int:index>")
@require(Role.ADMIN)
def save(index: int | None = None) -> Any:
    hub = current_hub()
    documents, version, _ = _documents()
    if index is not None and not 0 <= index < len(documents):
        abort(404, description=f"There is no template number {index}.")
    expected = request.form.get("expected.templates", "")
    deleting = request.form.get("action") == "delete"
    document = forms.template_document(request.form)
    approved = _approval(document, documents[index] if index is not None else None, deleting=deleting)
    changed = list(documents)
    position = len(changed) if index is None else index
    if deleting and index is not None:
        changed.pop(index)
    elif index is None:
        changed.append(document)
    else:
        changed[index] = document
    with tx() as session:
        outcome = settings_store.save_sections(
            session,
            base_config(hub),
            {"templates": changed},
            actor=actor(),
            now=now(),
            expected={"templates": int(expected)} if expected.isdigit() else None,
        )
        if outcome.ok and approved:
            repo.audit(
                session,
                actor=actor(),
                action="template.phi_approved",
                subject_type="template",
                subject_id=f"{document['id']}/{document['kind']}/{document['language']}",
                now=now(),
                detail={"words": approved},
            )
    if not outcome.ok:
        problems = []
        for key, message in outcome.problems:
            prefix = f"templates[{position}]"
            if key == prefix or key.startswith(prefix + "."):
                problems.append((key[len(prefix) :].lstrip(".") or "body", message))
            else:
                problems.append((key, message))
        errors = forms.attach(problems, [*forms.TEMPLATE_KEYS, "templates"])
        return _editor(index, document, version=version, errors=errors, status=422)
    reload_hub(hub)
    what = "Deleted" if deleting else "Saved"
    flash(f"{what} the template; the templates are now version {outcome.version}.", "info")
    return redirect(url_for(".index"), code=303)

"""Approved templates per channel kind and language, with the PHI guard's verdict shown while
editing (``POST /templates/check`` answers the page's script as the admin types). Saved as the
versioned ``templates`` section, validated like the config file (the guard included)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from hub import settings_store
from hub.users import Role
from nurture.templates import ALLOWED_FIELDS, SMS_MAX_CHARS, Template, TemplateProblem, check_template
from nurture.vocab import TemplateKind
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


def verdict(document: dict[str, Any]) -> list[TemplateProblem]:
    """The PHI guard's verdict on one template document (a malformed one gets a problem too)."""
    try:
        template = Template(
            id=document.get("id") or "(new)",
            kind=TemplateKind(document.get("kind", "")),
            language=document.get("language", ""),
            body=document.get("body", ""),
            subject=document.get("subject", ""),
        )
    except ValueError as exc:
        return [TemplateProblem(template=str(document.get("id", "")), field="kind", message=str(exc))]
    return check_template(template)


@bp.get("")
@require(Role.VIEWER)
def index() -> Any:
    documents, version, problems = _documents()
    rows = [{"index": i, **d, "problems": verdict(d)} for i, d in enumerate(documents)]
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
            problems=verdict(document) if document.get("body") else [],
            version=version,
            kinds=[k.value for k in TemplateKind],
            allowed={k.value: sorted(v) for k, v in ALLOWED_FIELDS.items()},
            sms_max=SMS_MAX_CHARS,
            errors=errors or forms.Errors(),
            field_id=forms.field_id,
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
    problems = verdict(document) if document["body"] else []
    if wants_fragment():
        return render_template("message_templates/_verdict.html", problems=problems, template=document)
    return _editor(_index(request.form), document, version=_documents()[1])


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

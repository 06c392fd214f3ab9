"""The follow-up cadence: its steps (key, label, day offset, action, template, condition, time of
day) and the gaps between touches. Saved as the versioned ``cadence`` section, validated like the
config file."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from hub.accounts.users import Role
from hub.settings import settings_store
from hub.settings.config import HubConfig
from nurture.cadence import StepAction, StepCondition
from webapp import current_hub
from webapp.admin import forms
from webapp.admin.common import actor, base_config, effective, now, page, reload_hub, tx
from webapp.auth import require

bp = page("cadence", __name__, url_prefix="/cadence")


def _rows(config: HubConfig, form: MultiDict[str, str] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if form is not None:
        header: dict[str, Any] = {k: form.get(f"cadence.{k}", "") for k in ("min_gap_minutes", "text_delay_minutes")}
        steps: list[dict[str, Any]] = []
        for i in forms.indexed(form, "cadence.steps"):
            p = f"cadence.steps[{i}]"
            step: dict[str, Any] = {k: form.get(f"{p}.{k}", "") for k in (*forms.STEP_KEYS, "position")}
            step["different_time_of_day"] = bool(form.get(f"{p}.different_time_of_day"))
            step["remove"] = bool(form.get(f"{p}.remove"))
            steps.append(step)
        if steps and any(steps[-1][k] for k in ("key", "label", "day", "template")):
            steps.append(_blank(len(steps) + 1))
        return header, steps or [_blank(1)]
    document = settings_store.section_document(config, "cadence") or {}
    stored: dict[str, Any] = {k: document.get(k, "") for k in ("min_gap_minutes", "text_delay_minutes")}
    rows: list[dict[str, Any]] = [
        {
            "key": s.get("key", ""),
            "label": s.get("label", ""),
            "day": s.get("day", ""),
            "action": s.get("action", ""),
            "template": s.get("template", ""),
            "when": s.get("when", "always"),
            "different_time_of_day": bool(s.get("different_time_of_day", False)),
            "position": i + 1,
            "remove": False,
        }
        for i, s in enumerate(document.get("steps", []))
    ]
    return stored, [*rows, _blank(len(rows) + 1)]


def _blank(position: int) -> dict[str, Any]:
    return {
        "key": "",
        "label": "",
        "day": "",
        "action": "call",
        "template": "",
        "when": "always",
        "different_time_of_day": False,
        "position": position,
        "remove": False,
    }


def _names(count: int) -> list[str]:
    names = ["cadence", "cadence.min_gap_minutes", "cadence.text_delay_minutes", "cadence.steps"]
    for i in range(count):
        p = f"cadence.steps[{i}]"
        names += [p] + [f"{p}.{k}" for k in (*forms.STEP_KEYS, "different_time_of_day")]
    return names


def _page(*, form: MultiDict[str, str] | None = None, errors: forms.Errors | None = None, status: int = 200) -> Any:
    with tx() as session:
        config, problems = effective(session)
        version = settings_store.current_section(session, "cadence")
    header, steps = _rows(config, form)
    return (
        render_template(
            "cadence.html",
            header=header,
            steps=steps,
            actions=[a.value for a in StepAction],
            conditions=[c.value for c in StepCondition],
            templates=sorted({t.id for t in config.settings.templates}),
            version=version,
            errors=errors or forms.Errors(),
            config_problems=problems,
            field_id=forms.field_id,
        ),
        status,
    )


@bp.get("")
@require(Role.VIEWER)
def index() -> Any:
    return _page()


@bp.post("")
@require(Role.ADMIN)
def save() -> Any:
    hub = current_hub()
    document, renumber = forms.cadence_document(request.form)
    expected = request.form.get("expected.cadence", "")
    with tx() as session:
        outcome = settings_store.save_sections(
            session,
            base_config(hub),
            {"cadence": document},
            actor=actor(),
            now=now(),
            expected={"cadence": int(expected)} if expected.isdigit() else None,
        )
    if not outcome.ok:
        count = len(forms.indexed(request.form, "cadence.steps")) + 1
        errors = forms.attach(outcome.problems, _names(count), renumber)
        return _page(form=request.form, errors=errors, status=422)
    reload_hub(hub)
    flash(f"Saved the cadence as version {outcome.version}. It applies to plans made from now on.", "info")
    return redirect(url_for(".index"), code=303)

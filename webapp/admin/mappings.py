"""Mappings: the list (built-in defaults and saved ones), the rule editor with a live preview on the
last real inbound events of the mapping's sources (or a pasted sample), the CRM pre-flight, save,
history, roll back, and TOML import and export.

The editor is one form; the page's script posts it to ``/mappings/<name>/preview`` as the admin
types and swaps the preview in place. Without the script the Preview button does the same with a
full page. Saving a CRM mapping first checks every target field and every value its tables can
produce against what the CRM says (``describe``); a refusal names the field and the value.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from connectors.base import FieldInfo as CrmFieldInfo
from hub.accounts.users import Role
from hub.connections.crm import build_connector
from hub.coordinator import words
from hub.settings import settings_store
from hub.store.connections import is_connected
from mapping.apply import preview as run_preview
from mapping.errors import MappingError
from mapping.schemas import dump_mapping, load_mapping
from mapping.spec import Conflict, Direction, FieldMapping, MappingKind
from mapping.toml_io import to_toml
from mapping.transforms import TRANSFORMS
from nurture.errors import ConfigError, RetryLater
from webapp import current_hub
from webapp.admin import forms
from webapp.admin.common import actor, effective, now, page, tx, user, wants_fragment
from webapp.admin.compare import changes
from webapp.auth import require, web_settings
from webapp.present import clinic_time

log = logging.getLogger(__name__)

bp = page("mappings", __name__, url_prefix="/mappings")

CRM_LABELS = {"salesforce": "Salesforce", "hubspot": "HubSpot"}
#: How long a CRM's field list is reused by the editor (each preview would otherwise call the CRM).
DESCRIBE_TTL_S = 300.0
MAX_SAMPLE = 256 * 1024
_RULE = re.compile(r"^rules\[(\d+)\]")


def _mapping(name: str, version: int | None = None) -> FieldMapping:
    with tx() as session:
        found = (
            settings_store.current_mapping(session, name)
            if version is None
            else settings_store.mapping_version(session, name, version)
        )
    if found is None:
        abort(404, description=f"There is no mapping called {name!r}" + (f" version {version}." if version else "."))
    return found


def _describe(mapping: FieldMapping) -> tuple[Mapping[str, CrmFieldInfo] | None, str | None]:
    """What the CRM says about the mapping's object, and a note when it could not be asked."""
    if mapping.kind is not MappingKind.CRM_OBJECT or mapping.system is None or mapping.object is None:
        return None, None
    hub = current_hub()
    system = mapping.system.value
    label = CRM_LABELS.get(system, system)
    cache: dict[tuple[str, str], tuple[float, Mapping[str, CrmFieldInfo]]] = current_app.extensions.setdefault(
        "nurturehub.describe", {}
    )
    cached = cache.get((system, mapping.object))
    if cached is not None and time.monotonic() - cached[0] < DESCRIBE_TTL_S:
        return cached[1], None
    engine = hub.sync_engine()
    connector = engine.destinations[system].connector if engine is not None and system in engine.destinations else None
    if connector is None and system in hub.crm:
        with tx() as session:
            connected = is_connected(session, system)
        if connected:
            connector = build_connector(
                hub.crm[system], hub.tokens(system), clinic_timezone=hub.config.settings.hours.timezone
            )
    if connector is None:
        return None, f"Not checked against {label}: it is not connected."
    try:
        fields = connector.describe(mapping.object)
    except ConfigError as exc:
        return None, f"Not checked against {label}: {exc.problems[0]}"
    except RetryLater:
        return None, f"Not checked against {label}: it did not answer; try again in a minute."
    cache[(system, mapping.object)] = (time.monotonic(), fields)
    return fields, None


def _forget_describe(system: str) -> None:
    cache = current_app.extensions.get("nurturehub.describe", {})
    for key in [k for k in cache if k[0] == system]:
        del cache[key]


# --- the list -----------------------------------------------------------------------------------


def _list_page(*, import_errors: list[str] | None = None, import_text: str = "", status: int = 200) -> Any:
    with tx() as session:
        infos = settings_store.list_mappings(session)
        config, problems = effective(session)
    used_by: dict[str, list[str]] = {}
    for source in config.sources.values():
        name = settings_store.mapping_name_for(source)
        if name:
            used_by.setdefault(name, []).append(source.name)
    return (
        render_template(
            "mappings/list.html",
            infos=infos,
            used_by=used_by,
            config_problems=problems,
            import_errors=import_errors,
            import_text=import_text,
        ),
        status,
    )


@bp.get("")
@require(Role.VIEWER)
def index() -> Any:
    return _list_page()


# --- the editor ---------------------------------------------------------------------------------


def _samples(mapping: FieldMapping, form: MultiDict[str, str]) -> tuple[list[dict[str, Any]], forms.Errors]:
    """The payloads to preview: the last real events (or leads), or the pasted sample."""
    errors = forms.Errors()
    if form.get("preview_from") == "sample":
        text = form.get("sample", "").strip()
        if not text:
            errors.fields["sample"] = ["Paste a JSON payload to preview."]
            return [], errors
        if len(text) > MAX_SAMPLE:
            errors.fields["sample"] = [f"A sample is limited to {MAX_SAMPLE // 1024} KB."]
            return [], errors
        try:
            payload = json.loads(text)
        except ValueError as exc:
            errors.fields["sample"] = [f"Not JSON: {exc}"]
            return [], errors
        return [{"label": "Pasted sample", "payload": payload}], errors
    hub = current_hub()
    limit = web_settings().preview_events
    with tx() as session:
        if mapping.kind is MappingKind.SOURCE:
            config, _ = effective(session)
            events = settings_store.recent_events(
                session, hub.vault, config, mapping, limit=limit, actor=actor(), now=now()
            )
            samples = [
                {"label": f"Event {e.id} · {e.source} · {clinic_time().at(e.received_at)}", "payload": e.payload}
                for e in events
            ]
        else:
            views = settings_store.recent_lead_views(session, limit=limit, actor=actor(), now=now())
            samples = [{"label": f"Lead {lead_id}", "payload": view} for lead_id, view in views]
    return samples, errors


def _display(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _preview(
    mapping: FieldMapping | None, form: MultiDict[str, str], rows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The preview table (or why there is none), and the CRM pre-flight for CRM mappings.

    ``preflight`` holds ``{"rules": [page row, …], "target": …, "message": …}`` per problem, so the
    page marks the rule it concerns; ``blocked`` says why Save is off (None when it may be used).
    """
    result: dict[str, Any] = {
        "columns": [], "rows": [], "note": None, "preflight": [], "preflight_note": None, "blocked": None,
    }  # fmt: skip
    if mapping is None:
        result["note"] = "The rules have problems (listed above and at each rule): fix them to see the preview."
        result["blocked"] = "Save is off until the rules' problems are fixed."
        return result
    samples, errors = _samples(mapping, form)
    result["sample_errors"] = errors
    if not samples and not errors:
        what = "inbound events from its sources" if mapping.is_source else "leads"
        result["note"] = f"There are no {what} yet: paste a sample to preview."
    if samples:
        table = run_preview(mapping, [s["payload"] for s in samples])
        result["columns"] = [s["label"] for s in samples]
        result["rows"] = [
            {**row, "cells": [{**c, "display": _display(c["value"])} for c in row["cells"]]} for row in table.as_table()
        ]
    if mapping.kind is MappingKind.CRM_OBJECT:
        describe, note = _describe(mapping)
        result["preflight_note"] = note
        if describe is not None:
            targets = [r.get("target", "").strip() for r in (rows or forms.mapping_rows(dump_mapping(mapping)))]
            result["preflight"] = [
                {"rules": [i for i, t in enumerate(targets) if t == p.target], "target": p.target, "message": p.message}
                for p in settings_store.preflight(mapping, describe)
            ]
            result["preflight_ok"] = not result["preflight"]
            if result["preflight"]:
                count = len(result["preflight"])
                result["blocked"] = (
                    "Save is off: the CRM would refuse this mapping "
                    f"({count} problem{'s' if count != 1 else ''}, marked at the rule{'s' if count != 1 else ''})."
                )
    return result


def _editor(
    mapping: FieldMapping,
    *,
    rows: list[dict[str, Any]] | None = None,
    errors: forms.Errors | None = None,
    preview: dict[str, Any] | None = None,
    form: MultiDict[str, str] | None = None,
    base_version: int | None = None,
    status: int = 200,
) -> Any:
    with tx() as session:
        current_version = settings_store.mapping_history(session, mapping.name)[0].version
        config, _ = effective(session)
    used_by = (
        [s.name for s in settings_store.sources_using(config, mapping)] if mapping.kind is MappingKind.SOURCE else []
    )
    shown_errors = errors or forms.Errors()
    troubled_rules = {int(found.group(1)) for name in shown_errors.fields if (found := _RULE.match(name))}
    return (
        render_template(
            "mappings/edit.html",
            troubled_rules=troubled_rules,
            mapping=mapping,
            rows=rows if rows is not None else forms.mapping_rows(dump_mapping(mapping)),
            errors=errors or forms.Errors(),
            preview=preview,
            form=form or MultiDict(),
            base_version=base_version if base_version is not None else current_version,
            current_version=current_version,
            used_by=used_by,
            transforms=sorted(TRANSFORMS.values(), key=lambda d: d.name),
            directions=[d.value for d in Direction],
            conflicts=[c.value for c in Conflict],
            field_id=forms.field_id,
            crm_label=CRM_LABELS.get(mapping.system.value, "") if mapping.system else "",
        ),
        status,
    )


@bp.get("/<name>")
@require(Role.VIEWER)
def edit(name: str) -> Any:
    mapping = _mapping(name)
    preview = None
    if user().can(Role.ADMIN):
        preview = _preview(mapping, MultiDict())
    return _editor(mapping, preview=preview)


def _from_form(mapping: FieldMapping) -> tuple[dict[str, Any], list[dict[str, Any]], forms.Errors, FieldMapping | None]:
    """The document the form describes, the rows to show again, the problems by field, and the
    mapping when it is valid."""
    form = request.form
    document, problems, renumber = forms.mapping_document(mapping, form)
    rows = forms.form_rows(form)
    built: FieldMapping | None = None
    try:
        built = load_mapping(document, source=f"mapping {mapping.name!r}")
    except MappingError as exc:
        problems += [(renumber.to_page(k), m) for k, m in exc.pairs]
    if problems:
        built = None
    errors = forms.attach(problems, forms.mapping_field_names(rows))
    return document, rows, errors, built


@bp.post("/<name>/preview")
@require(Role.ADMIN)
def preview(name: str) -> Any:
    mapping = _mapping(name)
    _document, rows, errors, built = _from_form(mapping)
    result = _preview(built, request.form, rows)
    if wants_fragment():
        return render_template("mappings/_preview.html", preview=result, rule_errors=errors, field_id=forms.field_id)
    return _editor(
        mapping,
        rows=rows,
        errors=errors,
        preview=result,
        form=request.form,
        base_version=_int(request.form.get("base_version")),
    )


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@bp.post("/<name>")
@require(Role.ADMIN)
def save(name: str) -> Any:
    mapping = _mapping(name)
    document, rows, errors, built = _from_form(mapping)
    base_version = _int(request.form.get("base_version"))
    if built is None:
        return _editor(
            mapping,
            rows=rows,
            errors=errors,
            preview=_preview(None, request.form),
            form=request.form,
            base_version=base_version,
            status=422,
        )
    describe, note = _describe(built)
    with tx() as session:
        outcome = settings_store.save_mapping(
            session, document, actor=actor(), now=now(), describe=describe, expected=base_version
        )
    if not outcome.ok:
        renumber = forms.mapping_document(mapping, request.form)[2]
        problems = [(renumber.to_page(k), m) for k, m in outcome.problems]
        return _editor(
            mapping,
            rows=rows,
            errors=forms.attach(problems, forms.mapping_field_names(rows)),
            preview=_preview(built, request.form, rows),
            form=request.form,
            base_version=base_version,
            status=409 if any(k == "(mapping)" for k, _ in outcome.problems) else 422,
        )
    if built.kind is MappingKind.CRM_OBJECT:
        current_hub().reset_sync()
    flash(f"Saved {name} as version {outcome.version}." + (f" {note}" if note else ""), "info")
    return redirect(url_for(".edit", name=name), code=303)


# --- history, roll back, import and export ------------------------------------------------------


@bp.get("/<name>/history")
@require(Role.VIEWER)
def history(name: str) -> Any:
    mapping = _mapping(name)
    with tx() as session:
        versions = settings_store.mapping_history(session, name)
    return render_template("mappings/history.html", mapping=mapping, versions=versions)


@bp.get("/<name>/compare")
@require(Role.VIEWER)
def compare(name: str) -> Any:
    """What changed from one version of the mapping to another (by default: to the one in force)."""
    current = _mapping(name)
    old = _int(request.args.get("from"))
    if old is None:
        abort(400, description="Choose the version from the history.")
    new = _int(request.args.get("to")) or current.version
    lines = changes(to_toml(_mapping(name, old)), to_toml(_mapping(name, new)))
    return render_template(
        "compare.html",
        heading=f"{name}: version {old} against version {new}",
        lede=f"Lines marked Out are in version {old} only; lines marked In are in version {new} only.",
        lines=lines,
        back_url=url_for(".history", name=name),
        back_label="History of the mapping",
    )


@bp.get("/<name>/rollback")
@require(Role.ADMIN)
def confirm_rollback(name: str) -> Any:
    """Before a roll back: what it changes, and a button to do it."""
    current = _mapping(name)
    version = _int(request.args.get("version"))
    if version is None:
        abort(400, description="Choose the version from the history.")
    lines = changes(to_toml(current), to_toml(_mapping(name, version)))
    return render_template(
        "compare.html",
        heading=f"Roll {name} back to version {version}?",
        lede=f"Version {version} comes back in force as a new version; version {current.version} stays in the "
        "history. This is what changes (Out: in force now; In: after the roll back):",
        lines=lines,
        back_url=url_for(".history", name=name),
        back_label="History of the mapping",
        confirm_url=url_for(".rollback", name=name),
        confirm_label=f"Roll back to version {version}",
        version=version,
        current=current.version,
    )


@bp.post("/<name>/rollback")
@require(Role.ADMIN)
def rollback(name: str) -> Any:
    version = _int(request.form.get("version"))
    if version is None:
        abort(400, description="Say which version to roll back to.")
    old = _mapping(name, version)
    describe, note = _describe(old)
    with tx() as session:
        outcome = settings_store.rollback_mapping(session, name, version, actor=actor(), now=now(), describe=describe)
    if not outcome.ok:
        for _key, message in outcome.problems:
            flash(f"Version {version} cannot be put back: {words.message(message)}", "error")
        return redirect(url_for(".history", name=name), code=303)
    if old.kind is MappingKind.CRM_OBJECT:
        current_hub().reset_sync()
    flash(f"Version {version} is back in force as version {outcome.version}." + (f" {note}" if note else ""), "info")
    return redirect(url_for(".history", name=name), code=303)


def _toml_response(text: str, filename: str) -> Response:
    return Response(
        text,
        mimetype="application/toml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/<name>/export.toml")
@bp.get("/<name>/versions/<int:version>.toml")
@require(Role.VIEWER)
def export(name: str, version: int | None = None) -> Any:
    mapping = _mapping(name, version)
    return _toml_response(to_toml(mapping), f"{mapping.name}-v{mapping.version}.toml")


@bp.post("/import")
@require(Role.ADMIN)
def import_toml() -> Any:
    upload = request.files.get("file")
    text = request.form.get("toml", "")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_SAMPLE + 1)
        if len(raw) > MAX_SAMPLE:
            abort(400, description=f"A mapping file is limited to {MAX_SAMPLE // 1024} KB.")
        text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        flash("Choose a TOML file or paste one to import.", "error")
        return redirect(url_for(".index"), code=303)

    def describe_for(parsed: FieldMapping) -> Mapping[str, CrmFieldInfo] | None:
        return _describe(parsed)[0]

    with tx() as session:
        outcome = settings_store.import_mapping_toml(session, text, actor=actor(), now=now(), describe_for=describe_for)
    if not outcome.ok or outcome.mapping is None:
        problems = [forms.problem_text(k, m) for k, m in outcome.problems]
        return _list_page(import_errors=problems, import_text=text, status=422)
    if outcome.mapping.kind is MappingKind.CRM_OBJECT:
        current_hub().reset_sync()
        _forget_describe(outcome.mapping.system.value if outcome.mapping.system else "")
    flash(f"Imported {outcome.mapping.name} as version {outcome.version}.", "info")
    return redirect(url_for(".edit", name=outcome.mapping.name), code=303)

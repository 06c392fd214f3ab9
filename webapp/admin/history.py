"""Settings history: every saved version of a configuration section (channels, sources, routing,
cadence, templates) with who saved it and when; roll back; export and import as TOML."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for

from hub.accounts.users import Role
from hub.settings import settings_store
from webapp import current_hub
from webapp.admin import forms
from webapp.admin.common import actor, base_config, effective, now, page, reload_hub, tx
from webapp.admin.compare import changes
from webapp.auth import require

bp = page("history", __name__, url_prefix="/settings")

LABELS = {
    "channels": "Channel map",
    "sources": "Sources",
    "routing": "Specialist queues",
    "cadence": "Cadence",
    "templates": "Templates",
}
#: The page where each section is edited.
PAGES = {
    "channels": "channels.index",
    "sources": "channels.index",
    "routing": "channels.index",
    "cadence": "cadence.index",
    "templates": "templates.index",
}
MAX_IMPORT = 512 * 1024


def _section(name: str) -> str:
    if name not in settings_store.SECTIONS:
        abort(404, description=f"There is no settings section called {name!r}.")
    return name


@bp.get("/<section>/history")
@require(Role.VIEWER)
def index(section: str) -> Any:
    _section(section)
    with tx() as session:
        versions = settings_store.section_history(session, section)
    return render_template(
        "settings_history.html",
        section=section,
        label=LABELS[section],
        page_endpoint=PAGES[section],
        versions=versions,
    )


def _version_arg(name: str) -> int:
    text = request.args.get(name, "")
    if not text.isdigit():
        abort(400, description="Choose the version from the history.")
    return int(text)


def _toml(session: Any, section: str, version: int) -> str:
    found = settings_store.section_version_toml(session, base_config(current_hub()), section, version)
    if found is None:
        abort(404, description=f"There is no version {version} of the {LABELS[section].lower()}.")
    return found


@bp.get("/<section>/compare")
@require(Role.VIEWER)
def compare(section: str) -> Any:
    """What changed from one version to another (by default: to the version in force)."""
    _section(section)
    with tx() as session:
        current = settings_store.current_section(session, section).version
        old = _version_arg("from")
        new = int(request.args["to"]) if request.args.get("to", "").isdigit() else current
        lines = changes(_toml(session, section, old), _toml(session, section, new))
    return render_template(
        "compare.html",
        heading=f"{LABELS[section]}: version {old} against version {new}",
        lede=f"Lines marked Out are in version {old} only; lines marked In are in version {new} only.",
        lines=lines,
        back_url=url_for(".index", section=section),
        back_label=f"History of the {LABELS[section].lower()}",
    )


@bp.get("/<section>/rollback")
@require(Role.ADMIN)
def confirm_rollback(section: str) -> Any:
    """Before a roll back: what it changes, and a button to do it."""
    _section(section)
    version = _version_arg("version")
    with tx() as session:
        current = settings_store.current_section(session, section).version
        lines = changes(_toml(session, section, current), _toml(session, section, version))
    return render_template(
        "compare.html",
        heading=f"Roll the {LABELS[section].lower()} back to version {version}?",
        lede=f"Version {version} comes back in force as a new version; version {current} stays in the history. "
        "This is what changes (Out: in force now; In: after the roll back):",
        lines=lines,
        back_url=url_for(".index", section=section),
        back_label=f"History of the {LABELS[section].lower()}",
        confirm_url=url_for(".rollback", section=section),
        confirm_label=f"Roll back to version {version}",
        version=version,
        current=current,
    )


@bp.post("/<section>/rollback")
@require(Role.ADMIN)
def rollback(section: str) -> Any:
    _section(section)
    text = request.form.get("version", "")
    if not text.isdigit():
        abort(400, description="Say which version to roll back to.")
    hub = current_hub()
    with tx() as session:
        outcome = settings_store.rollback_section(
            session, base_config(hub), section, int(text), actor=actor(), now=now()
        )
    if not outcome.ok:
        for key, message in outcome.problems:
            flash(f"Version {text} cannot be put back: {forms.problem_text(key, message)}", "error")
    else:
        reload_hub(hub)
        flash(f"Version {text} of {LABELS[section].lower()} is back in force as version {outcome.version}.", "info")
    return redirect(url_for(".index", section=section), code=303)


@bp.get("/<section>/export.toml")
@require(Role.VIEWER)
def export(section: str) -> Any:
    _section(section)
    with tx() as session:
        config, _ = effective(session)
    return Response(
        settings_store.export_section_toml(config, section),
        mimetype="application/toml",
        headers={"Content-Disposition": f'attachment; filename="nurturehub-{section}.toml"'},
    )


@bp.post("/<section>/import")
@require(Role.ADMIN)
def import_toml(section: str) -> Any:
    _section(section)
    upload = request.files.get("file")
    text = request.form.get("toml", "")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_IMPORT + 1)
        if len(raw) > MAX_IMPORT:
            abort(400, description=f"A settings file is limited to {MAX_IMPORT // 1024} KB.")
        text = raw.decode("utf-8", errors="replace")
    hub = current_hub()
    with tx() as session:
        outcome = settings_store.import_section_toml(session, base_config(hub), section, text, actor=actor(), now=now())
        versions = settings_store.section_history(session, section)
    if not outcome.ok:
        return (
            render_template(
                "settings_history.html",
                section=section,
                label=LABELS[section],
                page_endpoint=PAGES[section],
                versions=versions,
                import_errors=[forms.problem_text(k, m) for k, m in outcome.problems],
                import_text=text,
            ),
            422,
        )
    reload_hub(hub)
    flash(f"Imported {LABELS[section].lower()} as version {outcome.version}.", "info")
    return redirect(url_for(".index", section=section), code=303)

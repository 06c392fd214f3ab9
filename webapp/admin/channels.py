"""The channel map: for each channel its owner queue, response target and first-response template,
which sources feed it (and with which mapping), and the specialist queues (routing).

Saved as versioned configuration sections (``channels`` and ``sources`` together, ``routing`` on its
own) and validated with the same rules as the config file; each problem is shown next to its field.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from hub import settings_store
from hub.config import HubConfig
from hub.users import Role
from mapping.spec import MappingKind
from nurture.vocab import Channel
from webapp import current_hub
from webapp.admin import forms
from webapp.admin.common import actor, base_config, effective, now, page, reload_hub, tx
from webapp.auth import require

bp = page("channels", __name__, url_prefix="/channels")

SECTIONS = ("channels", "sources", "routing")


def _channel_rows(config: HubConfig, form: MultiDict[str, str] | None) -> list[dict[str, Any]]:
    document = settings_store.section_document(config, "channels") or {}
    rows = []
    for channel in Channel:
        p = f"channels.{channel.value}"
        if form is not None:
            values = {
                "own": channel is Channel.OTHER or bool(form.get(f"{p}.own")),
                "owner_queue": form.get(f"{p}.owner_queue", ""),
                "response_minutes": form.get(f"{p}.response_minutes", ""),
                "first_response_template": form.get(f"{p}.first_response_template", ""),
            }
        else:
            stored = document.get(channel.value)
            fallback = config.settings.channel(channel)
            values = {
                "own": stored is not None,
                "owner_queue": stored.get("owner_queue", "") if stored else fallback.owner_queue,
                "response_minutes": stored.get("response_minutes", "") if stored else fallback.response_minutes,
                "first_response_template": stored.get("first_response_template", "first_response")
                if stored
                else fallback.first_response_template,
            }
        rows.append({"channel": channel.value, "label": channel.value.replace("_", " ").capitalize(), **values})
    return rows


def _source_rows(
    config: HubConfig, form: MultiDict[str, str] | None, mappings: dict[str, list[str]]
) -> list[dict[str, Any]]:
    rows = []
    for source in config.sources.values():
        p = f"sources.{source.name}"
        options = mappings.get(settings_store.SOURCE_TYPES.get(source.type, source.type), [])
        rows.append(
            {
                "name": source.name,
                "type": source.type,
                "channel": form.get(f"{p}.channel", "") if form is not None else source.channel.value,
                "mapping": form.get(f"{p}.mapping", "") if form is not None else source.mapping,
                "enabled": bool(form.get(f"{p}.enabled")) if form is not None else source.enabled,
                "mapping_options": [("default", "default (built-in or saved)"), *((n, n) for n in options)],
            }
        )
    return rows


def _routing(config: HubConfig, form: MultiDict[str, str] | None) -> dict[str, Any]:
    if form is not None:
        document = forms.routing_document(form)
    else:
        document = settings_store.section_document(config, "routing") or {}
    languages = [{"language": k, "queue": v} for k, v in dict(document.get("language_queues", {})).items()]
    return {**document, "language_queues": [*languages, {"language": "", "queue": ""}]}


def _field_names(config: HubConfig) -> list[str]:
    names = list(SECTIONS)
    for channel in Channel:
        p = f"channels.{channel.value}"
        names += [p, f"{p}.owner_queue", f"{p}.response_minutes", f"{p}.first_response_template"]
    for source in config.sources:
        names += [f"sources.{source}", f"sources.{source}.channel", f"sources.{source}.mapping"]
    names += ["routing.clinical_queue", "routing.insurance_queue", "routing.referral_queue", "routing.language_queues"]
    return names


def _page(
    *,
    form: MultiDict[str, str] | None = None,
    errors: forms.Errors | None = None,
    which: str | None = None,
    status: int = 200,
) -> Any:
    with tx() as session:
        config, problems = effective(session)
        versions = {name: settings_store.current_section(session, name) for name in SECTIONS}
        mappings = settings_store.list_mappings(session)
    source_mappings: dict[str, list[str]] = {}
    for info in mappings:
        if info.mapping.kind is MappingKind.SOURCE and info.mapping.source_type is not None:
            source_mappings.setdefault(info.mapping.source_type.value, []).append(info.name)
    bound: dict[str, list[str]] = {}
    for source in config.sources.values():
        bound.setdefault(source.channel.value, []).append(source.name)
    return (
        render_template(
            "channels.html",
            channels=_channel_rows(config, form if which == "map" else None),
            sources=_source_rows(config, form if which == "map" else None, source_mappings),
            routing=_routing(config, form if which == "routing" else None),
            templates=sorted({t.id for t in config.settings.templates}),
            channel_names=[c.value for c in Channel],
            bound=bound,
            versions=versions,
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


def _expected(names: tuple[str, ...]) -> dict[str, int]:
    out = {}
    for name in names:
        text = request.form.get(f"expected.{name}", "")
        if text.isdigit():
            out[name] = int(text)
    return out


def _save(changes: dict[str, Any], which: str) -> Any:
    hub = current_hub()
    with tx() as session:
        outcome = settings_store.save_sections(
            session, base_config(hub), changes, actor=actor(), now=now(), expected=_expected(tuple(changes))
        )
    if not outcome.ok:
        errors = forms.attach(outcome.problems, _field_names(base_config(hub)))
        return _page(form=request.form, errors=errors, which=which, status=422)
    reload_hub(hub)
    flash("Saved. The new settings apply to inquiries from now on.", "info")
    return redirect(url_for(".index"), code=303)


@bp.post("")
@require(Role.ADMIN)
def save_map() -> Any:
    hub = current_hub()
    changes = {
        "channels": forms.channels_document(request.form, [c.value for c in Channel]),
        "sources": forms.sources_document(request.form, list(base_config(hub).sources)),
    }
    return _save(changes, "map")


@bp.post("/routing")
@require(Role.ADMIN)
def save_routing() -> Any:
    return _save({"routing": forms.routing_document(request.form)}, "routing")

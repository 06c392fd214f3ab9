"""The channel map: for each channel its owner queue, response target and first-response template,
which sources feed it (and with which mapping), and the specialist queues (routing).

Saved as versioned configuration sections (``channels`` and ``sources`` together, ``routing`` on its
own) and validated with the same rules as the config file; each problem is shown next to its field.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from hub.accounts.users import Role
from hub.coordinator.words import label
from hub.coordinator.worklist import known_queues
from hub.lifecycle.queues import QueueMove, move_open_leads, open_leads_per_owner, queue_moves
from hub.settings import settings_store
from hub.settings.config import HubConfig
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
                "new_queue": form.get(f"{p}.new_queue", ""),
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
                "new_queue": "",
            }
        rows.append({"channel": channel.value, "label": label("channel", channel), **values})
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
        names += [p, f"{p}.owner_queue", f"{p}.new_queue", f"{p}.response_minutes", f"{p}.first_response_template"]
    for source in config.sources:
        names += [f"sources.{source}", f"sources.{source}.channel", f"sources.{source}.mapping"]
    names += ["routing.clinical_queue", "routing.insurance_queue", "routing.referral_queue", "routing.language_queues"]
    return names


def _page(
    *,
    form: MultiDict[str, str] | None = None,
    errors: forms.Errors | None = None,
    which: str | None = None,
    moves: list[QueueMove] | None = None,
    status: int = 200,
) -> Any:
    with tx() as session:
        config, problems = effective(session)
        versions = {name: settings_store.current_section(session, name) for name in SECTIONS}
        mappings = settings_store.list_mappings(session)
        queues = known_queues(config, session)
        holding = open_leads_per_owner(session, config)
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
            channel_options=[(c.value, label("channel", c)) for c in Channel],
            queues=queues,
            holding=holding,
            moves=moves,
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


def _save(changes: dict[str, Any], which: str, *, problems: list[tuple[str, str]] | None = None) -> Any:
    """Save the sections; when the change moves open leads to other queues, first say which and
    how many, and save (and move them) only once the admin confirms."""
    hub = current_hub()
    base = base_config(hub)
    confirmed = request.form.get("confirm_moves") == "yes"
    moves: list[QueueMove] = []
    moved = 0
    refused: tuple[tuple[str, str], ...] = tuple(problems or ())
    with tx() as session:
        before, _ = effective(session)
        attempt = session.begin_nested()
        outcome = settings_store.save_sections(
            session, base, changes, actor=actor(), now=now(), expected=_expected(tuple(changes))
        )
        if refused or not outcome.ok:
            attempt.rollback()
            refused = refused + outcome.problems
        else:
            after = settings_store.effective_config(base, session)
            moves = [m for m in queue_moves(session, before, after) if m.leads]
            if moves and not confirmed:
                attempt.rollback()
            else:
                attempt.commit()
                if moves:
                    moved = move_open_leads(
                        session, moves, config=after, now=now(), actor=actor(), destinations=hub.intake.destinations
                    )
    if refused:
        errors = forms.attach(refused, _field_names(base))
        return _page(form=request.form, errors=errors, which=which, status=422)
    if moves and not confirmed:
        return _page(form=request.form, which=which, moves=moves, status=200)
    reload_hub(hub)
    if moved:
        flash(
            f"Saved. {moved} open lead{'s' if moved != 1 else ''} moved to {'their' if moved != 1 else 'its'} "
            "channel's new owner queue; new inquiries go there too.",
            "info",
        )
    else:
        flash("Saved. New inquiries follow the new settings; no open lead had to move.", "info")
    return redirect(url_for(".index"), code=303)


NEW_QUEUE = "__new__"


def _owner_queues(form: MultiDict[str, str], known: list[str]) -> tuple[MultiDict[str, str], list[tuple[str, str]]]:
    """The form with each channel's owner queue as chosen: a known queue, or a new one typed in
    on purpose ("New queue…"). A name that is a known queue written differently is refused."""
    out = MultiDict(form)
    problems: list[tuple[str, str]] = []
    folded = {q.casefold(): q for q in known}
    for channel in Channel:
        p = f"channels.{channel.value}"
        if channel is not Channel.OTHER and not form.get(f"{p}.own"):
            continue
        chosen = form.get(f"{p}.owner_queue", "").strip()
        if chosen == NEW_QUEUE:
            name = " ".join(form.get(f"{p}.new_queue", "").split())
            if not name:
                problems.append((f"{p}.new_queue", "Type the new queue's name, or choose a queue from the list."))
            elif name.casefold() in folded:
                problems.append(
                    (f"{p}.new_queue", f"“{folded[name.casefold()]}” is already a queue: choose it from the list.")
                )
            else:
                out.setlist(f"{p}.owner_queue", [name])
        elif chosen not in known:
            problems.append((f"{p}.owner_queue", "Choose a queue from the list (or “New queue…” to add one)."))
    return out, problems


@bp.post("")
@require(Role.ADMIN)
def save_map() -> Any:
    hub = current_hub()
    with tx() as session:
        config, _ = effective(session)
        known = known_queues(config, session)
    form, problems = _owner_queues(request.form, known)
    changes = {
        "channels": forms.channels_document(form, [c.value for c in Channel]),
        "sources": forms.sources_document(form, list(base_config(hub).sources)),
    }
    return _save(changes, "map", problems=problems)


@bp.post("/routing")
@require(Role.ADMIN)
def save_routing() -> Any:
    return _save({"routing": forms.routing_document(request.form)}, "routing")

"""``leads add``, ``leads show``, ``leads list`` and ``leads overdue``: a coordinator's view of
leads on the command line, in words and the clinic's time (``--json`` keeps codes and UTC)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nurture.errors import SkipRecord

if TYPE_CHECKING:
    from datetime import datetime

    from hub.coordinator.words import ClinicTime

from hub.cli.common import EXIT_NOT_FOUND, EXIT_OK, EXIT_REJECTED, actor, emit, hub_for


def _inquiry_data(args: argparse.Namespace) -> dict[str, Any]:
    if args.file:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SkipRecord(f"the file is not JSON: {exc.msg} at line {exc.lineno}", code="invalid_json") from None
        if not isinstance(data, dict):
            raise SkipRecord("the file must hold one JSON object", code="invalid_json")
        return dict(data)
    flags: dict[str, Any] = {}
    for key in ("channel", "first_name", "last_name", "phone", "email", "language", "text", "intent"):
        value = getattr(args, key)
        if value is not None:
            flags[key] = value
    if args.consent:
        flags["consent"] = {c: {"granted": True, "wording": "given verbally", "source": "cli"} for c in args.consent}
    return flags


def cmd_leads_add(args: argparse.Namespace) -> int:
    from hub.coordinator.views import lead_view
    from hub.inbound.inquiry_schema import inquiry_from_json
    from hub.store import repo

    hub = hub_for(args)
    try:
        now = hub.clock()
        inquiry = inquiry_from_json(_inquiry_data(args), config=hub.config, received_at=now, source="cli")
        result = hub.intake.submit(inquiry, actor=actor(), now=now)
        if not result.ok:
            data = {"ok": False, "violations": [_violation(v) for v in result.violations]}
            human = "rejected:\n" + "\n".join(f"  - {v.field}: {v.message}" for v in result.violations)
            emit(data, as_json=args.json, human=human)
            return EXIT_REJECTED
        recorded = dict(result.recorded or {})
        if result.lead is None:
            # Nothing to make a lead of (an opt-out from a contact without one): say what was kept.
            emit(
                {"ok": True, "lead": None, "recorded": recorded},
                as_json=args.json,
                human=_human_recorded(recorded, hub=hub),
            )
            return EXIT_OK
        with hub.store.tx() as session:
            view = lead_view(
                result.lead,
                follow_ups=repo.follow_ups(session, result.lead.id),
                touches=repo.load_touches(session, result.lead.id),
            )
            _audit_view(session, result.lead.id, command="leads add", now=hub.clock())
        human = _human_lead(view, hub=hub) + ("\n" + _human_recorded(recorded, hub=hub) if recorded else "")
        emit({"ok": True, "lead": view, "recorded": recorded}, as_json=args.json, human=human)
        return EXIT_OK
    finally:
        hub.close()


def _audit_view(session: Any, lead_id: str, *, command: str, now: Any) -> None:
    """A lead's details shown on the command line are audited like a view in the web UI."""
    from hub.store import repo

    repo.audit(
        session,
        actor=actor(),
        action="lead.view",
        subject_type="lead",
        subject_id=lead_id,
        now=now,
        detail={"page": "cli", "command": command},
    )


def _clinic(hub: Any, now: datetime | None = None) -> ClinicTime:
    """The clinic's time for this command's output (the zone in force, the hub's clock)."""
    from hub.coordinator.words import ClinicTime

    return ClinicTime(hub.config.settings.hours.timezone, now or hub.clock())


def _human_recorded(recorded: dict[str, Any], *, hub: Any) -> str:
    from datetime import datetime

    from hub.coordinator.words import labels

    lines = []
    if suppressed := recorded.get("suppressed"):
        lines.append(
            f"opt-out recorded: {', '.join(labels('contact_channel', suppressed['channels']))} for this"
            f" {' and '.join(suppressed['contacts'])} (no lead: any later lead with it inherits the opt-out)"
        )
    if recorded.get("opt_out") and not suppressed:
        lines.append(f"  consent withdrawn: {', '.join(labels('contact_channel', recorded['opt_out']))}")
    if recorded.get("declined"):
        lines.append("  closed as declined: the message declines care")
    if at := recorded.get("callback_requested"):
        clinic = _clinic(hub)
        lines.append(f"  callback requested: {clinic.at(datetime.fromisoformat(at))}")
    return "\n".join(lines)


def _violation(v: Any) -> dict[str, str]:
    return {"field": v.field, "rule": v.rule, "message": v.message}


def cmd_leads_show(args: argparse.Namespace) -> int:
    from hub.coordinator.views import lead_view
    from hub.store import repo

    hub = hub_for(args)
    try:
        with hub.store.tx() as session:
            found = repo.load_lead(session, args.lead_id)
            if found is None:
                missing = {"ok": False, "error": "not_found", "lead_id": args.lead_id}
                emit(missing, as_json=args.json, human=f"no lead {args.lead_id}")
                return EXIT_NOT_FOUND
            lead, _ = found
            view = lead_view(
                lead,
                follow_ups=repo.follow_ups(session, lead.id),
                touches=repo.load_touches(session, lead.id),
            )
            _audit_view(session, lead.id, command="leads show", now=hub.clock())
        emit({"ok": True, "lead": view}, as_json=args.json, human=_human_lead(view, hub=hub))
        return EXIT_OK
    finally:
        hub.close()


def _human_lead(view: dict[str, Any], *, hub: Any) -> str:
    """One lead as a coordinator reads it: words for every code and times in the clinic's zone, as
    the lead page shows them (the --json output keeps the codes and UTC instants)."""
    from datetime import datetime

    from hub.coordinator.words import label, labels, phone, rule_labels

    clinic = _clinic(hub)

    def when(iso: str | None) -> datetime | None:
        return datetime.fromisoformat(iso) if iso else None  # 3.11 reads the Z

    contact = view["contact"]
    name = f"{contact['first_name'] or ''} {contact['last_name'] or ''}".strip() or "(no name given)"
    action = view["next_action"]
    reachable = " · ".join(
        x for x in (phone(contact["phone"], region=hub.config.phone_region), contact["email"] or "") if x and x != "—"
    )
    lines = [
        f"{name}{'  URGENT' if view['urgent'] else ''}  ·  lead {view['id']}",
        f"  {label('channel', view['channel'])} · {label('stage', view['stage'])} · score {view['score'] or '—'}"
        f" · received {clinic.at(when(view['created_at']))}",
        f"  contact: {reachable or '—'}",
        f"  intent: {label('intent', view['intent'], empty='not known')}"
        f"  needs: {', '.join(labels('need', view['needs'])) or '—'}",
        "  next action: "
        + (
            f"{label('next_action', action['kind'])} · {clinic.due(when(action['due_at']))} · {action['owner_queue']}"
            if action
            else f"none (closed{': ' + view['close_reason'] if view['close_reason'] else ''})"
        ),
        "  consent: "
        + ", ".join(
            f"{label('contact_channel', k)} {label('consent_state', v['state']).lower()}"
            for k, v in view["consent"].items()
        ),
    ]
    if view["triage_keywords"]:
        lines.append("  rules that fired:")
        lines += [f"    {rule}" for rule in rule_labels(view["triage_keywords"])]
    if view["follow_ups"]:
        lines.append("  follow-ups:")
        lines += [
            f"    {clinic.at(when(f['due_at'])):<24} {f['label']:<40} "
            f"{label('contact_channel', f['channel']):<13} {label('follow_up_status', f['status'])}"
            for f in view["follow_ups"]
        ]  # fmt: skip
    return "\n".join(lines)


def cmd_leads_list(args: argparse.Namespace) -> int:
    """The leads list on the command line: same filters, order and paging as the web UI's; a
    search is audited without its text (it is PHI), and names are shown as the list shows them."""
    from hub.coordinator.words import label
    from hub.coordinator.worklist import FilterError, LeadFilters, audit_search, search_leads

    if not 1 <= args.limit <= 1000:
        raise SkipRecord("--limit must be from 1 to 1000", code="bad_argument", field="limit")
    try:
        filters = LeadFilters(
            search=args.search.strip(), urgent=args.urgent, overdue=args.overdue, intent=args.intent,
            channel=args.channel, queue=args.queue, stage=args.stage,
        )  # fmt: skip
    except FilterError as exc:
        raise SkipRecord(str(exc), code="bad_filter", field="filters") from None
    hub = hub_for(args)
    try:
        now = hub.clock()
        with hub.store.tx() as session:
            try:
                found = search_leads(
                    session, filters, now=now, cursor=args.after, page_size=args.limit,
                    phone_region=hub.config.phone_region,
                )  # fmt: skip
            except FilterError as exc:
                raise SkipRecord(str(exc), code="bad_cursor", field="after") from None
            if filters.search:
                audit_search(session, found, actor=actor(), now=now, via="cli")
        clinic = _clinic(hub, now)
        rows = [
            {
                "lead_id": r.id, "name": f"{r.first_name} {r.last_name}".strip(), "channel": r.channel,
                "intent": r.intent, "stage": r.stage, "score": r.score, "urgent": r.urgent,
                "next_action": r.kind, "due_at": r.due_at.isoformat() if r.due_at else None, "queue": r.queue,
                "created_at": r.created_at.isoformat(),
            }
            for r in found.rows
        ]  # fmt: skip
        lines = [
            f"{r.id}  {'URGENT ' if r.urgent else ''}{f'{r.first_name} {r.last_name}'.strip():<24} "
            f"{label('channel', r.channel):<20} {label('intent', r.intent):<26} {label('stage', r.stage):<12} "
            f"{label('next_action', r.kind)} · {clinic.due(r.due_at)}"
            for r in found.rows
        ]
        if found.next_cursor:
            lines.append(f"more: nurturehub leads list --after {found.next_cursor} (with the same filters)")
        emit(
            {"ok": True, "leads": rows, "next_cursor": found.next_cursor, "searched_by": found.searched_by},
            as_json=args.json,
            human="\n".join(lines) or "no lead matches",
        )
        return EXIT_OK
    finally:
        hub.close()


def cmd_leads_overdue(args: argparse.Namespace) -> int:
    from hub.lifecycle.speed import breaches

    hub = hub_for(args)
    try:
        with hub.store.tx() as session:
            found = breaches(session, now=hub.clock())
        rows = [
            {
                "lead_id": b.lead_id,
                "channel": b.channel,
                "received_at": b.received_at.isoformat(),
                "due_at": b.due_at.isoformat(),
                "owner_queue": b.owner_queue,
                "minutes_over": b.minutes_over,
            }
            for b in found
        ]
        human = "\n".join(
            f"{r['lead_id']}  {r['channel']:<20} {r['owner_queue']:<22} {r['minutes_over']:>6} min over" for r in rows
        )
        emit(
            {"ok": True, "overdue": rows},
            as_json=args.json,
            human=human or "no lead is past its response target",
        )
        return EXIT_OK
    finally:
        hub.close()

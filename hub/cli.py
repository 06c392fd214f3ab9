"""The ``nurturehub`` command line."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.bootstrap import Hub, build_hub
from hub.config import load_config
from hub.demo import DEMO_INQUIRIES
from hub.inquiry_schema import inquiry_from_json
from hub.logs import configure_logging
from hub.store import repo
from hub.views import lead_view
from nurture.errors import ConfigError, SkipRecord

log = logging.getLogger("nurturehub")

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_REJECTED, EXIT_NOT_FOUND = 0, 1, 2, 3, 4


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nurturehub", description="Answer, route and follow up every new-patient inquiry."
    )
    p.add_argument(
        "--config", help="configuration file (default: $NURTUREHUB_CONFIG, else the embedded defaults)"
    )
    p.add_argument("--database-url", help="override the configured store (SQLAlchemy URL)")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("init", help="create the instance folder and the database, and run migrations")

    run = sub.add_parser("run", help="the hub on its embedded defaults, with demo inquiries")
    run.add_argument("--no-demo", action="store_true", help="do not add the demo inquiries")

    sandbox = sub.add_parser("sandbox", help="run the local Salesforce and HubSpot sandboxes")
    sandbox.add_argument("--salesforce-port", type=int, default=8443)
    sandbox.add_argument("--hubspot-port", type=int, default=8090)
    sandbox.add_argument(
        "--memory", action="store_true", help="keep state in memory, not in the instance folder"
    )
    sandbox.add_argument("--latency-ms", type=float, default=0.0, help="added to every response")
    sandbox.add_argument("--share-429", type=float, default=0.0, help="fraction of calls answered 429")
    sandbox.add_argument("--share-5xx", type=float, default=0.0, help="fraction of calls answered 503")
    sandbox.add_argument(
        "--expire-session-after", type=int, default=None, help="calls before a token expires"
    )
    sandbox.add_argument("--daily-budget", type=int, default=None, help="API calls allowed per day")

    check = sub.add_parser("check-config", help="validate the configuration and report every problem")
    check.add_argument("--json", action="store_true", help="print a JSON result")

    leads = sub.add_parser("leads", help="add and inspect leads").add_subparsers(
        dest="leads_command", required=True
    )
    add = leads.add_parser("add", help="add a lead through the same intake and policy path as a webhook")
    add.add_argument("--file", help="a JSON inquiry (see hub/inquiry_schema.py); '-' for standard input")
    add.add_argument("--channel", default=None)
    add.add_argument("--first-name", dest="first_name")
    add.add_argument("--last-name", dest="last_name")
    add.add_argument("--phone")
    add.add_argument("--email")
    add.add_argument("--language")
    add.add_argument("--text", help="the patient's own words")
    add.add_argument("--intent")
    add.add_argument(
        "--consent", action="append", default=[], metavar="CHANNEL", help="a channel the patient consented to"
    )
    add.add_argument("--json", action="store_true")

    show = leads.add_parser("show", help="a lead with its score, next action, consent and planned follow-ups")
    show.add_argument("lead_id")
    show.add_argument("--json", action="store_true")
    return p


def _emit(data: Any, *, as_json: bool, human: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(human + "\n")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user database in some containers
        return "cli"


def cmd_init(args: argparse.Namespace) -> int:
    hub = _hub(args)
    hub.config.instance_path.mkdir(parents=True, exist_ok=True)
    sys.stdout.write(f"instance ready: {hub.config.instance_path.resolve()} (database migrated)\n")
    hub.close()
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        hub.config.instance_path.mkdir(parents=True, exist_ok=True)
        sys.stdout.write(f"nurturehub: {hub.config.settings.clinic_name}, store {hub.store.dialect}\n")
        if not args.no_demo:
            for data in DEMO_INQUIRIES:
                now = hub.clock()
                inquiry = inquiry_from_json(data, config=hub.config, received_at=now, source="demo")
                result = hub.intake.submit(inquiry, actor="demo", now=now)
                if result.lead is None:
                    continue
                action = result.lead.next_action
                sys.stdout.write(
                    f"  {result.lead.id}  {result.lead.channel:<20} score {result.lead.score}  "
                    f"{action.kind if action else '-':<28} {action.owner_queue if action else ''}\n"
                )
        sys.stdout.write("see a lead with: nurturehub leads show <id>\n")
        return EXIT_OK
    finally:
        hub.close()


def cmd_sandbox(args: argparse.Namespace) -> int:
    import threading

    from connectors.sandbox.harness import Faults
    from hub.sandboxes import start_sandboxes

    config = load_config(args.config)
    faults = Faults(
        latency_ms=args.latency_ms,
        share_429=args.share_429,
        share_5xx=args.share_5xx,
        expire_session_after=args.expire_session_after,
        daily_budget=args.daily_budget,
    )
    running = start_sandboxes(
        None if args.memory else config.instance_path,
        salesforce_port=args.salesforce_port,
        hubspot_port=args.hubspot_port,
        faults=faults,
    )
    sys.stdout.write(
        f"salesforce sandbox: {running.salesforce_server.url}  (CA bundle: {running.salesforce_ca})\n"
        f"  access token for tests: {running.salesforce.issue_token()}\n"
        f"hubspot sandbox:    {running.hubspot_server.url}\n"
        f"  access token for tests: {running.hubspot.issue_token()}\n"
        "Ctrl-C stops them.\n"
    )
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    s = config.settings
    summary = {
        "ok": True,
        "source": config.source,
        "clinic": s.clinic_name,
        "timezone": s.hours.timezone,
        "channels": sorted(c.value for c in s.channels),
        "cadence_steps": [step.key for step in s.cadence.steps],
        "templates": len(s.templates),
        "triage_rules": len(s.triage.rules),
    }
    _emit(
        summary, as_json=args.json, human=f"{config.source}: OK ({s.clinic_name}, {len(s.channels)} channels)"
    )
    return EXIT_OK


def _inquiry_data(args: argparse.Namespace) -> dict[str, Any]:
    if args.file:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SkipRecord(
                f"the file is not JSON: {exc.msg} at line {exc.lineno}", code="invalid_json"
            ) from None
        if not isinstance(data, dict):
            raise SkipRecord("the file must hold one JSON object", code="invalid_json")
        return dict(data)
    flags: dict[str, Any] = {}
    for key in ("channel", "first_name", "last_name", "phone", "email", "language", "text", "intent"):
        value = getattr(args, key)
        if value is not None:
            flags[key] = value
    if args.consent:
        flags["consent"] = {
            c: {"granted": True, "wording": "given verbally", "source": "cli"} for c in args.consent
        }
    return flags


def cmd_leads_add(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        now = hub.clock()
        inquiry = inquiry_from_json(_inquiry_data(args), config=hub.config, received_at=now, source="cli")
        result = hub.intake.submit(inquiry, actor=_actor(), now=now)
        if not result.ok or result.lead is None:
            data = {"ok": False, "violations": [_v(v) for v in result.violations]}
            human = "rejected:\n" + "\n".join(f"  - {v.field}: {v.message}" for v in result.violations)
            _emit(data, as_json=args.json, human=human)
            return EXIT_REJECTED
        with hub.store.tx() as session:
            view = lead_view(
                result.lead,
                follow_ups=repo.follow_ups(session, result.lead.id),
                touches=repo.load_touches(session, result.lead.id),
            )
        _emit({"ok": True, "lead": view}, as_json=args.json, human=_human_lead(view))
        return EXIT_OK
    finally:
        hub.close()


def _v(v: Any) -> dict[str, str]:
    return {"field": v.field, "rule": v.rule, "message": v.message}


def cmd_leads_show(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        with hub.store.tx() as session:
            found = repo.load_lead(session, args.lead_id)
            if found is None:
                missing = {"ok": False, "error": "not_found", "lead_id": args.lead_id}
                _emit(missing, as_json=args.json, human=f"no lead {args.lead_id}")
                return EXIT_NOT_FOUND
            lead, _ = found
            view = lead_view(
                lead,
                follow_ups=repo.follow_ups(session, lead.id),
                touches=repo.load_touches(session, lead.id),
            )
            repo.audit(
                session,
                actor=_actor(),
                action="lead_viewed",
                subject_type="lead",
                subject_id=lead.id,
                now=hub.clock(),
            )
        _emit({"ok": True, "lead": view}, as_json=args.json, human=_human_lead(view))
        return EXIT_OK
    finally:
        hub.close()


def _human_lead(view: dict[str, Any]) -> str:
    action = view["next_action"]
    lines = [
        f"lead {view['id']}  score {view['score']}  stage {view['stage']}  channel {view['channel']}",
        f"  intent: {view['intent'] or '(unknown)'}  needs: {', '.join(view['needs']) or '-'}"
        + ("  URGENT" if view["urgent"] else ""),
        "  next action: "
        + (
            f"{action['kind']} by {action['due_at']} ({action['owner_queue']})"
            if action
            else "(none: closed)"
        ),
        "  consent: " + ", ".join(f"{k} {v['state']}" for k, v in view["consent"].items()),
        "  follow-ups:",
    ]
    lines += [
        f"    {f['due_at']}  {f['label']:<40} {f['channel'] or '-':<6} {f['status']}"
        for f in view["follow_ups"]
    ]
    return "\n".join(lines)


def _hub(args: argparse.Namespace) -> Hub:
    return build_hub(config_path=args.config, database_url=args.database_url)


COMMANDS = {
    ("init", None): cmd_init,
    ("run", None): cmd_run,
    ("sandbox", None): cmd_sandbox,
    ("check-config", None): cmd_check_config,
    ("leads", "add"): cmd_leads_add,
    ("leads", "show"): cmd_leads_show,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(verbose=args.verbose)
    handler = COMMANDS[(args.command, getattr(args, "leads_command", None))]
    try:
        return handler(args)
    except ConfigError as exc:
        if getattr(args, "json", False):
            _emit({"ok": False, "error": "config", "problems": exc.problems}, as_json=True, human="")
        else:
            sys.stderr.write(f"{exc}\n")
        return EXIT_CONFIG
    except SkipRecord as exc:
        if getattr(args, "json", False):
            _emit(
                {"ok": False, "error": exc.code, "field": exc.field, "detail": str(exc)},
                as_json=True,
                human="",
            )
        else:
            sys.stderr.write(f"invalid input: {exc}\n")
        return EXIT_ERROR

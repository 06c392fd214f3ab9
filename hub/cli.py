"""The ``nurturehub`` command line: the commands that need only the application (``hub``).

The processes — ``run`` (the embedded default), ``serve`` and ``worker`` — live in ``jobs.cli``,
which extends this parser; the console script points there.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.logs import configure_logging
from nurture.errors import ConfigError, RetryLater, SkipRecord

if TYPE_CHECKING:
    from hub.bootstrap import Hub
    from hub.config import HubConfig
    from hub.running_demo import RunningDemo

# The commands import what they need when they run, so `nurturehub --help` and a quick command start
# without loading the whole application.

log = logging.getLogger("nurturehub")

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_REJECTED, EXIT_NOT_FOUND = 0, 1, 2, 3, 4
DEFAULT_URL = "http://127.0.0.1:8000"  # `nurturehub serve`'s default address

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> tuple[argparse.ArgumentParser, Any]:
    """The parser and its sub-command group (``jobs.cli`` adds the process commands to it)."""
    p = argparse.ArgumentParser(prog="nurturehub", description="Answer, route and follow up every new-patient inquiry.")
    p.add_argument("--config", help="configuration file (default: $NURTUREHUB_CONFIG, else the embedded defaults)")
    p.add_argument("--database-url", help="override the configured store (SQLAlchemy URL)")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", help="create the instance folder and the database, and run migrations")
    init.add_argument("--json", action="store_true")
    init.set_defaults(func=cmd_init)
    check = sub.add_parser("check-config", help="validate the configuration and report every problem")
    check.add_argument("--json", action="store_true", help="print a JSON result")
    check.set_defaults(func=cmd_check_config)

    keygen = sub.add_parser("keygen", help="print a new data key for NURTUREHUB_DATA_KEY (encrypts stored PHI)")
    keygen.add_argument("--json", action="store_true")
    keygen.set_defaults(func=cmd_keygen)

    sandbox = sub.add_parser("sandbox", help="run the local Salesforce and HubSpot sandboxes")
    sandbox.add_argument("--salesforce-port", type=int, default=8443)
    sandbox.add_argument("--hubspot-port", type=int, default=8090)
    sandbox.add_argument("--memory", action="store_true", help="keep state in memory, not in the instance folder")
    sandbox.add_argument("--latency-ms", type=float, default=0.0, help="added to every response")
    sandbox.add_argument("--share-429", type=float, default=0.0, help="fraction of calls answered 429")
    sandbox.add_argument("--share-5xx", type=float, default=0.0, help="fraction of calls answered 503")
    sandbox.add_argument("--expire-session-after", type=int, default=None, help="calls before a token expires")
    sandbox.add_argument("--daily-budget", type=int, default=None, help="API calls allowed per day")
    sandbox.add_argument("--json", action="store_true", help="their addresses and test tokens as one JSON line")
    sandbox.set_defaults(func=cmd_sandbox)

    leads = sub.add_parser("leads", help="add and inspect leads").add_subparsers(dest="leads_command", required=True)
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
    add.set_defaults(func=cmd_leads_add)
    show = leads.add_parser("show", help="a lead with its score, next action, consent and planned follow-ups")
    show.add_argument("lead_id")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_leads_show)
    listing = leads.add_parser("list", help="leads, newest first, as the web UI's list shows them (names are PHI)")
    listing.add_argument("--search", default="", metavar="TEXT", help="a name, phone number or email address")
    listing.add_argument("--overdue", action="store_true", help="only open leads whose next action is overdue")
    listing.add_argument("--urgent", action="store_true", help="only urgent leads")
    listing.add_argument("--stage", help="a stage, or open / closed")
    listing.add_argument("--intent")
    listing.add_argument("--channel")
    listing.add_argument("--queue")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--after", metavar="CURSOR", help="the next page: the cursor the previous one printed")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_leads_list)
    overdue = leads.add_parser("overdue", help="leads past their channel's response target with no first attempt")
    overdue.add_argument("--json", action="store_true")
    overdue.set_defaults(func=cmd_leads_overdue)

    sync = sub.add_parser("sync", help="push and pull every connected CRM once, now")
    sync.add_argument("--crm", choices=["salesforce", "hubspot"], help="only this CRM")
    sync.add_argument(
        "--backfill",
        action="store_true",
        help="first full sync: send every lead the CRM does not hold yet, and read every record",
    )
    sync.add_argument("--json", action="store_true")
    sync.set_defaults(func=cmd_sync)

    connect = sub.add_parser("connect", help="connect a CRM by OAuth (the configured endpoints)")
    connect.add_argument("crm", choices=["salesforce", "hubspot"])
    connect.add_argument("--timeout", type=float, default=300, help="seconds to wait for the browser's redirect")
    connect.add_argument("--json", action="store_true", help="the outcome as JSON (the address to open on stderr)")
    connect.set_defaults(func=cmd_connect)

    crm = sub.add_parser("crm", help="CRM set-up").add_subparsers(dest="crm_command", required=True)
    setup = crm.add_parser("setup", help="create the custom properties the hub writes (HubSpot)")
    setup.add_argument("--crm", choices=["hubspot"], default="hubspot")
    setup.add_argument("--json", action="store_true")
    setup.set_defaults(func=cmd_crm_setup)

    test_event = sub.add_parser("send-test-event", help="sign and post a sample payload to a running hub")
    test_event.add_argument("source", help="a source name from the config ([sources.<name>])")
    test_event.add_argument("--file", help="the payload to send (default: a realistic sample for its type)")
    test_event.add_argument(
        "--url", help=f"the hub's base URL (default: the running `nurturehub run` demo's, else {DEFAULT_URL})"
    )
    test_event.add_argument("--json", action="store_true")
    test_event.set_defaults(func=cmd_send_test_event)

    users = sub.add_parser("users", help="web UI accounts").add_subparsers(dest="users_command", required=True)
    user_add = users.add_parser("add", help="add an account (the password is read from a prompt or stdin)")
    user_add.add_argument("username")
    user_add.add_argument("--role", choices=["admin", "coordinator", "viewer"], default="admin")
    user_add.add_argument("--name", default="", help="the name shown in the UI")
    user_add.add_argument("--json", action="store_true")
    user_add.set_defaults(func=cmd_users_add)

    report = sub.add_parser("report", help="reports").add_subparsers(dest="report_command", required=True)
    weekly = report.add_parser("weekly", help="render (and keep) the weekly review of an ISO week")
    weekly.add_argument("--week", help="ISO week like 2026-W48 (default: last week)")
    weekly.add_argument("--format", choices=["html", "csv", "pdf"], default="html")
    weekly.add_argument("--out", help="write it to this file (default: standard output; PDF needs --out)")
    weekly.add_argument("--json", action="store_true", help="the review's figures as JSON (and --out's file)")
    weekly.set_defaults(func=cmd_report_weekly)

    triage = sub.add_parser("triage", help="triage rules").add_subparsers(dest="triage_command", required=True)
    evaluate = triage.add_parser(
        "eval", help="measure triage on a labelled corpus (JSON Lines, as tests/corpus/*.jsonl)"
    )
    evaluate.add_argument("files", nargs="+", metavar="FILE", help="corpus files")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=cmd_triage_eval)

    inbox = sub.add_parser("inbox", help="the inbox of inbound events").add_subparsers(
        dest="inbox_command", required=True
    )
    replay = inbox.add_parser("replay", help="send parked events through again (after fixing their mapping)")
    replay.add_argument("--source")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(func=cmd_inbox_replay)
    outbox = sub.add_parser("outbox", help="the outbox of CRM writes").add_subparsers(
        dest="outbox_command", required=True
    )
    retry = outbox.add_parser("retry", help="send failed writes again (after fixing the cause)")
    retry.add_argument("--crm", choices=["salesforce", "hubspot"])
    retry.add_argument("--json", action="store_true")
    retry.set_defaults(func=cmd_outbox_retry)

    from hub.ops.cli import add_commands as add_operations_commands  # migrate, backup, restore, rekey

    add_operations_commands(sub)
    return p, sub


def _global_options(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--database-url`` and ``-v`` accepted after the command as well as before it
    (``nurturehub leads show ID --config prod.toml``); given after, they win."""
    parser.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command's own parser under ``parser`` (``leads show``, ``migrate`` …)."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                out += _leaf_parsers(child) or [child]
    return out


def _emit(data: Any, *, as_json: bool, human: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(human + "\n")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user database in some containers
        return "cli"


def _running_demo(config: HubConfig, database_url: str | None) -> RunningDemo | None:
    """The ``nurturehub run`` demo running on this instance and store, when this configuration
    connects no CRM of its own (see hub.running_demo)."""
    from hub.crm import load_crm_settings
    from hub.running_demo import find_running_demo

    if any(s.enabled for s in load_crm_settings(config.raw).values()):
        return None
    return find_running_demo(config.instance_path, database_url or config.effective_database_url)


def _hub(args: argparse.Namespace, *, create: bool = False) -> Hub:
    """The hub the configuration names. Only ``init`` (``create``) and ``run`` make a new store:
    any other command on a SQLite store that does not exist says so, instead of quietly making an
    empty one in whatever folder it was started from. While ``nurturehub run`` runs on the same
    instance and store, the hub uses its sandbox CRMs, FHIR sandbox and demo secrets."""
    from hub.bootstrap import build_hub
    from hub.config import load_config

    config = load_config(args.config)
    url = args.database_url or config.effective_database_url
    if not create and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if str(path) not in ("", ":memory:") and not path.exists():
            raise ConfigError(
                [f"store: there is no database at {path}: run `nurturehub init` first (or `./dev run`), "
                 "or name the right one with --config / --database-url"]
            )  # fmt: skip
    demo = None if create else _running_demo(config, args.database_url)
    if demo is None:
        # The instance's key file standing in for NURTUREHUB_DATA_KEY is the embedded demo's way;
        # for any other store (production's, named by the config or --database-url) it is a key the
        # services may not have: that is said, as the processes say it.
        embedded = not args.database_url and not config.database_url
        return build_hub(config, database_url=args.database_url, warn_instance_key=not embedded)
    import dataclasses

    from hub.crm import load_crm_settings

    log.info("using the running demo's sandboxes (pid %d, %s)", demo.pid, demo.base_url)
    config = dataclasses.replace(config, raw={**config.raw, "scheduling": demo.scheduling})
    hub = build_hub(
        config, database_url=args.database_url, environ=demo.environ(config), crm=load_crm_settings({"crm": demo.crm}),
        warn_instance_key=False,
    )  # fmt: skip
    hub.base_url = demo.base_url
    return hub


# --- commands -------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from hub.config import load_config
    from hub.instance import make_private

    make_private(load_config(args.config).instance_path, create=True)
    hub = _hub(args, create=True)
    folder = hub.config.instance_path.resolve()
    hub.close()
    _emit(
        {"ok": True, "instance": str(folder)}, as_json=args.json, human=f"instance ready: {folder} (database migrated)"
    )
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from connectors.sandbox.harness import Faults
    from hub.config import load_config
    from hub.sandboxes import start_sandboxes

    config = load_config(args.config)
    if not args.memory:
        from hub.instance import make_private

        make_private(config.instance_path, create=True)
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
    found = {
        "salesforce": {"url": running.salesforce_server.url, "ca_bundle": str(running.salesforce_ca),
                       "access_token": running.salesforce.issue_token()},
        "hubspot": {"url": running.hubspot_server.url, "access_token": running.hubspot.issue_token()},
    }  # fmt: skip
    sf, hs = found["salesforce"], found["hubspot"]
    sys.stdout.write(
        json.dumps(found) + "\n"  # one line: whoever starts it reads its first line; it keeps running
        if args.json
        else f"salesforce sandbox: {sf['url']}  (CA bundle: {sf['ca_bundle']})\n"
        f"  access token for tests: {sf['access_token']}\n"
        f"hubspot sandbox:    {hs['url']}\n"
        f"  access token for tests: {hs['access_token']}\n"
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


def cmd_keygen(args: argparse.Namespace) -> int:
    """A new Fernet key. To rotate, put it first in NURTUREHUB_DATA_KEY and keep the old one after
    a comma until stored data has been re-encrypted or purged."""
    from hub.crypto import new_key

    key = new_key()
    _emit({"ok": True, "key": key}, as_json=args.json, human=key)
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    from hub.config import load_config
    from hub.crm import load_crm_settings
    from hub.users import load_web_settings

    config = load_config(args.config)
    crm = load_crm_settings(config.raw)
    load_web_settings(config.raw)
    s = config.settings
    secrets = _source_secrets(config)
    summary: dict[str, Any] = {
        "ok": True,
        "source": config.source,
        "clinic": s.clinic_name,
        "timezone": s.hours.timezone,
        "channels": sorted(c.value for c in s.channels),
        "sources": sorted(config.sources),
        "crm": sorted(name for name, c in crm.items() if c.enabled),
        "cadence_steps": [step.key for step in s.cadence.steps],
        "templates": len(s.templates),
        "triage_rules": len(s.triage.rules),
        "secrets": secrets,
        "data_key": _data_key_state(),
    }
    unusable = {name: state for name, state in secrets.items() if state.startswith("unusable")}
    missing = sorted(name for name, state in secrets.items() if state == "missing")
    if unusable:
        summary["ok"] = False
        problems = [f"sources.{name}: {state}" for name, state in sorted(unusable.items())]
        _emit(summary, as_json=args.json, human="\n".join([f"{config.source}: source secrets", *problems]))
        return EXIT_CONFIG
    human = f"{config.source}: OK ({s.clinic_name}, {len(s.channels)} channels)"
    from hub.instance import exposed

    readable = exposed(config.instance_path)
    summary["instance_readable_by_others"] = [str(p) for p in readable]
    if readable:
        human += (
            f"\nwarning: the instance folder {config.instance_path.resolve()} has {len(readable)} file(s) or folder(s) "
            "readable by other accounts (it holds patient data and keys); the hub makes them private when it "
            f"starts, or run: chmod -R go-rwx {config.instance_path}"
        )
    if missing:
        human += f"\nnot set in this environment (those sources answer 503 until they are): {', '.join(missing)}"
    if summary["data_key"].startswith("unusable"):
        human += f"\n{summary['data_key']}"
    elif summary["data_key"] == "missing":
        human += (
            "\nNURTUREHUB_DATA_KEY is not set: stored patient data is encrypted with the key file in the instance "
            "folder (right for the demo; in production set it from `nurturehub keygen`, see docs/operations.md)"
        )
    _emit(summary, as_json=args.json, human=human)
    return EXIT_OK


def _data_key_state() -> str:
    """NURTUREHUB_DATA_KEY in this environment: "set", "missing" or "unusable: why" (never the key)."""
    from hub.crypto import ENV_DATA_KEY, Vault

    value = os.environ.get(ENV_DATA_KEY)
    if not value:
        return "missing"
    try:
        Vault(value)
    except ConfigError as exc:
        return f"unusable: {exc.problems[0]}"
    return "set"


def _source_secrets(config: HubConfig) -> dict[str, str]:
    """Each enabled source's secret in this environment: "set", "missing" or "unusable: why"."""
    from connectors.inbound.verify import check_secret

    states: dict[str, str] = {}
    for name, source in sorted(config.sources.items()):
        if not source.enabled:
            continue
        secret = os.environ.get(source.secret_env)
        if not secret:
            states[name] = "missing"
            continue
        try:
            check_secret(source.type, secret)
        except ValueError as exc:  # the message never repeats the secret
            states[name] = f"unusable: {source.secret_env}: {exc}"
        else:
            states[name] = "set"
    return states


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
    from hub.inquiry_schema import inquiry_from_json
    from hub.store import repo
    from hub.views import lead_view

    hub = _hub(args)
    try:
        now = hub.clock()
        inquiry = inquiry_from_json(_inquiry_data(args), config=hub.config, received_at=now, source="cli")
        result = hub.intake.submit(inquiry, actor=_actor(), now=now)
        if not result.ok:
            data = {"ok": False, "violations": [_violation(v) for v in result.violations]}
            human = "rejected:\n" + "\n".join(f"  - {v.field}: {v.message}" for v in result.violations)
            _emit(data, as_json=args.json, human=human)
            return EXIT_REJECTED
        recorded = dict(result.recorded or {})
        if result.lead is None:
            # Nothing to make a lead of (an opt-out from a contact without one): say what was kept.
            _emit(
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
        _emit({"ok": True, "lead": view, "recorded": recorded}, as_json=args.json, human=human)
        return EXIT_OK
    finally:
        hub.close()


def _audit_view(session: Any, lead_id: str, *, command: str, now: Any) -> None:
    """A lead's details shown on the command line are audited like a view in the web UI."""
    from hub.store import repo

    repo.audit(
        session,
        actor=_actor(),
        action="lead.view",
        subject_type="lead",
        subject_id=lead_id,
        now=now,
        detail={"page": "cli", "command": command},
    )


def _human_recorded(recorded: dict[str, Any], *, hub: Any) -> str:
    from datetime import datetime

    from hub.words import ClinicTime, labels

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
        clinic = ClinicTime(hub.config.settings.hours.timezone, hub.clock())
        lines.append(f"  callback requested: {clinic.at(datetime.fromisoformat(at))}")
    return "\n".join(lines)


def _violation(v: Any) -> dict[str, str]:
    return {"field": v.field, "rule": v.rule, "message": v.message}


def cmd_triage_eval(args: argparse.Namespace) -> int:
    """Every inquiry of the corpus through intake (a throwaway store), compared with its labels."""
    from hub.config import load_config
    from hub.triage_eval import as_json, evaluate, load_corpus, render, report

    config = load_config(args.config)
    try:
        cases = load_corpus(Path(f) for f in args.files)
    except (OSError, ValueError) as exc:
        _emit({"ok": False, "error": str(exc)}, as_json=args.json, human=f"error: {exc}")
        return EXIT_ERROR
    parts = report(evaluate(cases, config))
    _emit({"ok": True, "parts": as_json(parts)}, as_json=args.json, human=render(parts))
    return EXIT_OK


def cmd_leads_show(args: argparse.Namespace) -> int:
    from hub.store import repo
    from hub.views import lead_view

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
            _audit_view(session, lead.id, command="leads show", now=hub.clock())
        _emit({"ok": True, "lead": view}, as_json=args.json, human=_human_lead(view, hub=hub))
        return EXIT_OK
    finally:
        hub.close()


def _human_lead(view: dict[str, Any], *, hub: Any) -> str:
    """One lead as a coordinator reads it: words for every code and times in the clinic's zone, as
    the lead page shows them (the --json output keeps the codes and UTC instants)."""
    from datetime import datetime

    from hub.words import ClinicTime, label, labels, phone, rule_labels

    clinic = ClinicTime(hub.config.settings.hours.timezone, hub.clock())

    def when(iso: str | None) -> datetime | None:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")) if iso else None

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
    from hub.words import ClinicTime, label
    from hub.worklist import FilterError, LeadFilters, audit_search, search_leads

    if not 1 <= args.limit <= 1000:
        raise SkipRecord("--limit must be from 1 to 1000", code="bad_argument", field="limit")
    try:
        filters = LeadFilters(
            search=args.search.strip(), urgent=args.urgent, overdue=args.overdue, intent=args.intent,
            channel=args.channel, queue=args.queue, stage=args.stage,
        )  # fmt: skip
    except FilterError as exc:
        raise SkipRecord(str(exc), code="bad_filter", field="filters") from None
    hub = _hub(args)
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
                audit_search(session, found, actor=_actor(), now=now, via="cli")
        clinic = ClinicTime(hub.config.settings.hours.timezone, now)
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
        _emit(
            {"ok": True, "leads": rows, "next_cursor": found.next_cursor, "searched_by": found.searched_by},
            as_json=args.json,
            human="\n".join(lines) or "no lead matches",
        )
        return EXIT_OK
    finally:
        hub.close()


def cmd_leads_overdue(args: argparse.Namespace) -> int:
    from hub.speed import breaches

    hub = _hub(args)
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
        _emit(
            {"ok": True, "overdue": rows},
            as_json=args.json,
            human=human or "no lead is past its response target",
        )
        return EXIT_OK
    finally:
        hub.close()


def cmd_sync(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        engine = hub.sync_engine()
        if engine is None:
            raise ConfigError(["crm: no enabled CRM is connected; see `nurturehub connect`"])
        names = [args.crm] if args.crm else list(engine.names)
        summary: dict[str, Any] = {}
        for name in names:
            if name not in engine.destinations:
                raise ConfigError([f"crm.{name}: not enabled or not connected"])
            now = hub.clock()
            queued = engine.queue_backfill(name, now=now) if args.backfill else 0
            sys.stderr.write(f"{name}: pushing{f' ({queued} leads not yet there)' if queued else ''} …\r")
            pushed = engine.push(name, now=now, limit=100_000)
            sys.stderr.write(f"{name}: pulling{' (backfill)' if args.backfill else ''} …\r")
            pulled = engine.pull(name, now=hub.clock(), backfill=args.backfill)
            again = engine.push(name, now=hub.clock(), limit=100_000)  # what the pull produced
            summary[name] = {
                "written": pushed.written + again.written,
                "failed": pushed.failed + again.failed,
                "retrying": pushed.retrying + again.retrying,
                "dead": pushed.dead + again.dead,
                "backfill_queued": queued,
                "paused": pushed.paused or again.paused,
                "records_read": pulled.records,
                "leads_changed": pulled.changed,
                "violations": pulled.violations,
                "task_completions": pulled.touches,
            }
        human = "\n".join(
            f"{n}: wrote {s['written']} ({s['failed']} failed, {s['retrying']} to retry, {s['dead']} given up)"
            f"{' PAUSED: daily API allowance spent' if s['paused'] else ''}; read {s['records_read']} records, "
            f"{s['leads_changed']} leads changed, {s['task_completions']} completions, {s['violations']} violations"
            for n, s in summary.items()
        )
        _emit({"ok": True, "crm": summary}, as_json=args.json, human=human)
        return EXIT_OK
    finally:
        hub.close()


def cmd_connect(args: argparse.Namespace) -> int:
    from hub.connect import connect_interactively

    hub = _hub(args)
    try:
        detail = connect_interactively(hub, args.crm, timeout=args.timeout, out=sys.stderr if args.json else sys.stdout)
        _emit({"ok": True, "crm": args.crm, "detail": detail}, as_json=args.json, human=f"{args.crm}: {detail}")
        return EXIT_OK
    finally:
        hub.close()


def cmd_crm_setup(args: argparse.Namespace) -> int:
    from connectors.hubspot import HubSpotConnector
    from hub.crm import build_connector

    hub = _hub(args)
    try:
        connector = build_connector(
            hub.crm[args.crm], hub.tokens(args.crm), clinic_timezone=hub.config.settings.hours.timezone
        )
        assert isinstance(connector, HubSpotConnector)
        created = connector.ensure_schema()
        _emit(
            {"ok": True, "crm": args.crm, "created": created},
            as_json=args.json,
            human=f"{args.crm}: created {', '.join(created) or 'nothing (all properties exist)'}",
        )
        return EXIT_OK
    finally:
        hub.close()


def cmd_send_test_event(args: argparse.Namespace) -> int:
    from hub.config import load_config
    from hub.test_events import send_test_event

    config = load_config(args.config)
    demo = _running_demo(config, args.database_url)
    url = args.url or (demo.base_url if demo else DEFAULT_URL)
    # The demo's secrets sign for the demo only: another hub (--url) gets this environment's.
    environ = demo.environ(config) if demo and url.rstrip("/") == demo.base_url else None
    response = send_test_event(config, args.source, url=url, payload_file=args.file, environ=environ)
    ok = response.status_code < 300
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text.strip()
    _emit(
        {"ok": ok, "status": response.status_code, "answer": answer, "url": url},
        as_json=args.json,
        human=f"{response.status_code} {response.text.strip()}",
    )
    return EXIT_OK if ok else EXIT_ERROR


def cmd_users_add(args: argparse.Namespace) -> int:
    from hub.users import AccountError, add_user

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    hub = _hub(args)
    try:
        user = add_user(
            hub.store, username=args.username, password=password, role=args.role, now=hub.clock(), actor=_actor(),
            display_name=args.name,
        )  # fmt: skip
    except AccountError as exc:
        if args.json:
            _emit(
                {"ok": False, "error": "invalid_account", "field": exc.field, "detail": exc.message},
                as_json=True,
                human="",
            )
        else:
            sys.stderr.write(f"{exc.field}: {exc.message}\n")
        return EXIT_ERROR
    finally:
        hub.close()
    _emit(
        {"ok": True, "username": user.username, "role": str(user.role)},
        as_json=args.json,
        human=f"added {user.role} {user.username}",
    )
    return EXIT_OK


def cmd_report_weekly(args: argparse.Namespace) -> int:
    from hub.reports import generate_weekly, previous_week

    hub = _hub(args)
    try:
        now = hub.clock()
        week = args.week or previous_week(now.astimezone(hub.config.settings.hours.tz).date())
        report = generate_weekly(hub.store, hub.config, week, now=now)
    finally:
        hub.close()
    content: bytes = {"html": report.html.encode(), "csv": report.csv.encode(), "pdf": report.pdf}[args.format]
    if args.out:
        Path(args.out).write_bytes(content)
        if not args.json:
            sys.stderr.write(f"weekly review {week} written to {args.out}\n")
    elif args.format == "pdf" and not args.json:
        raise SkipRecord("a PDF needs --out FILE", field="--out", code="pdf_needs_a_file")
    elif not args.json:
        sys.stdout.write(content.decode())
    if args.json:
        _emit({"ok": True, "week": week, "out": args.out, "format": args.format if args.out else None,
               "review": report.data}, as_json=True, human="")  # fmt: skip
    return EXIT_OK


def cmd_inbox_replay(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        count = hub.inbox.replay(source=args.source, now=hub.clock())
        _emit({"ok": True, "replayed": count}, as_json=args.json, human=f"{count} event(s) will be processed again")
        return EXIT_OK
    finally:
        hub.close()


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    hub = _hub(args)
    try:
        engine = hub.sync_engine()
        count = engine.retry_failed(name=args.crm, now=hub.clock()) if engine else 0
        _emit({"ok": True, "retried": count}, as_json=args.json, human=f"{count} write(s) will be sent again")
        return EXIT_OK
    finally:
        hub.close()


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the command, turning the error tree into exit codes and messages."""
    for leaf in _leaf_parsers(parser):
        if not any("--database-url" in a.option_strings for a in leaf._actions):
            _global_options(leaf)
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
    os.umask(0o077)  # what any command writes (instance files, reports) is for this account only
    handler: Handler = args.func
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
    except RetryLater as exc:
        sys.stderr.write(f"try again later: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("stopped\n")
        return 130
    except Exception as exc:
        if args.verbose:
            raise  # the whole traceback, asked for
        # One line, without the exception's text: a database error's text can carry the values of
        # the statement (a patient's details), and this line lands in terminals and cron mail.
        command = " ".join(
            a for a in (args.command, *(getattr(args, f"{args.command.replace('-', '_')}_command", None),)) if a
        )
        sys.stderr.write(
            f"nurturehub {command}: unexpected error ({type(exc).__name__}); run it again with -v for the details\n"
        )
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    parser, _ = build_parser()
    return dispatch(parser, argv)

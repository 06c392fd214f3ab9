"""The parser of every command, and dispatch: the error tree turned into exit codes and one-line
messages."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from hub.app.logs import configure_logging
from hub.app.sandboxes import SandboxesNotInstalled
from hub.cli.admin import cmd_report_weekly, cmd_triage_eval, cmd_users_add
from hub.cli.common import DEFAULT_URL, EXIT_CONFIG, EXIT_ERROR, Handler, emit
from hub.cli.crm import cmd_connect, cmd_crm_setup, cmd_inbox_replay, cmd_outbox_retry, cmd_send_test_event, cmd_sync
from hub.cli.leads import cmd_leads_add, cmd_leads_list, cmd_leads_overdue, cmd_leads_show
from hub.cli.setup import cmd_check_config, cmd_init, cmd_keygen, cmd_sandbox
from nurture.errors import ConfigError, RetryLater, SkipRecord


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
    add.add_argument("--file", help="a JSON inquiry (see hub/inbound/inquiry_schema.py); '-' for standard input")
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
            emit({"ok": False, "error": "config", "problems": exc.problems}, as_json=True, human="")
        else:
            sys.stderr.write(f"{exc}\n")
        return EXIT_CONFIG
    except SkipRecord as exc:
        if getattr(args, "json", False):
            emit(
                {"ok": False, "error": exc.code, "field": exc.field, "detail": str(exc)},
                as_json=True,
                human="",
            )
        else:
            sys.stderr.write(f"invalid input: {exc}\n")
        return EXIT_ERROR
    except SandboxesNotInstalled as exc:  # `nurturehub sandbox` or `run` on an install without the extra
        sys.stderr.write(f"{exc}\n")
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

"""Accounts, reports and triage: ``users add``, ``report weekly`` and ``triage eval``."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from hub.cli.common import EXIT_ERROR, EXIT_OK, actor, emit, hub_for
from nurture.errors import SkipRecord


def cmd_users_add(args: argparse.Namespace) -> int:
    from hub.accounts.users import AccountError, add_user

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    hub = hub_for(args)
    try:
        user = add_user(
            hub.store, username=args.username, password=password, role=args.role, now=hub.clock(), actor=actor(),
            display_name=args.name,
        )  # fmt: skip
    except AccountError as exc:
        if args.json:
            emit(
                {"ok": False, "error": "invalid_account", "field": exc.field, "detail": exc.message},
                as_json=True,
                human="",
            )
        else:
            sys.stderr.write(f"{exc.field}: {exc.message}\n")
        return EXIT_ERROR
    finally:
        hub.close()
    emit(
        {"ok": True, "username": user.username, "role": str(user.role)},
        as_json=args.json,
        human=f"added {user.role} {user.username}",
    )
    return EXIT_OK


def cmd_report_weekly(args: argparse.Namespace) -> int:
    from hub.review.reports import generate_weekly, previous_week

    hub = hub_for(args)
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
        emit({"ok": True, "week": week, "out": args.out, "format": args.format if args.out else None,
               "review": report.data}, as_json=True, human="")  # fmt: skip
    return EXIT_OK


def cmd_triage_eval(args: argparse.Namespace) -> int:
    """Every inquiry of the corpus through intake (a throwaway store), compared with its labels."""
    from hub.inbound.triage_eval import as_json, evaluate, load_corpus, render, report
    from hub.settings.config import load_config

    config = load_config(args.config)
    try:
        cases = load_corpus(Path(f) for f in args.files)
    except (OSError, ValueError) as exc:
        emit({"ok": False, "error": str(exc)}, as_json=args.json, human=f"error: {exc}")
        return EXIT_ERROR
    parts = report(evaluate(cases, config))
    emit({"ok": True, "parts": as_json(parts)}, as_json=args.json, human=render(parts))
    return EXIT_OK

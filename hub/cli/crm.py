"""The CRM and the queues: ``sync``, ``connect``, ``crm setup``, ``send-test-event``, ``inbox
replay`` and ``outbox retry``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hub.cli.common import DEFAULT_URL, EXIT_ERROR, EXIT_OK, emit, hub_for, running_demo
from nurture.errors import ConfigError


def cmd_sync(args: argparse.Namespace) -> int:
    hub = hub_for(args)
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
        emit({"ok": True, "crm": summary}, as_json=args.json, human=human)
        return EXIT_OK
    finally:
        hub.close()


def cmd_connect(args: argparse.Namespace) -> int:
    from hub.connections.connect import connect_interactively

    hub = hub_for(args)
    try:
        detail = connect_interactively(hub, args.crm, timeout=args.timeout, out=sys.stderr if args.json else sys.stdout)
        emit({"ok": True, "crm": args.crm, "detail": detail}, as_json=args.json, human=f"{args.crm}: {detail}")
        return EXIT_OK
    finally:
        hub.close()


def cmd_crm_setup(args: argparse.Namespace) -> int:
    from connectors.hubspot import HubSpotConnector
    from hub.connections.crm import build_connector

    hub = hub_for(args)
    try:
        connector = build_connector(
            hub.crm[args.crm], hub.tokens(args.crm), clinic_timezone=hub.config.settings.hours.timezone
        )
        assert isinstance(connector, HubSpotConnector)
        created = connector.ensure_schema()
        emit(
            {"ok": True, "crm": args.crm, "created": created},
            as_json=args.json,
            human=f"{args.crm}: created {', '.join(created) or 'nothing (all properties exist)'}",
        )
        return EXIT_OK
    finally:
        hub.close()


def cmd_send_test_event(args: argparse.Namespace) -> int:
    from hub.inbound.test_events import send_test_event
    from hub.settings.config import load_config

    config = load_config(args.config)
    demo = running_demo(config, args.database_url)
    url = args.url or (demo.base_url if demo else DEFAULT_URL)
    # The demo's secrets sign for the demo only: another hub (--url) gets this environment's.
    environ = demo.environ(config) if demo and url.rstrip("/") == demo.base_url else None
    response = send_test_event(config, args.source, url=url, payload_file=args.file, environ=environ)
    ok = response.status_code < 300
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text.strip()
    emit(
        {"ok": ok, "status": response.status_code, "answer": answer, "url": url},
        as_json=args.json,
        human=f"{response.status_code} {response.text.strip()}",
    )
    return EXIT_OK if ok else EXIT_ERROR


def cmd_inbox_replay(args: argparse.Namespace) -> int:
    hub = hub_for(args)
    try:
        count = hub.inbox.replay(source=args.source, now=hub.clock())
        emit({"ok": True, "replayed": count}, as_json=args.json, human=f"{count} event(s) will be processed again")
        return EXIT_OK
    finally:
        hub.close()


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    hub = hub_for(args)
    try:
        engine = hub.sync_engine()
        count = engine.retry_failed(name=args.crm, now=hub.clock()) if engine else 0
        emit({"ok": True, "retried": count}, as_json=args.json, human=f"{count} write(s) will be sent again")
        return EXIT_OK
    finally:
        hub.close()

"""The processes: ``nurturehub run`` (the embedded default), ``serve`` and ``worker``; plus every
command of ``hub.cli``. This is the console script's entry point."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hub.cli import EXIT_OK, build_parser, dispatch

if TYPE_CHECKING:
    from hub.settings.config import HubConfig

log = logging.getLogger("nurturehub")

__all__ = ["main"]


def add_commands(sub: Any) -> None:
    run = sub.add_parser("run", help="everything on the embedded defaults: sandbox CRMs, hub, web UI, demo data")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000, help="web port (0 picks a free one)")
    run.add_argument("--no-demo", action="store_true", help="do not send the demo inquiries")
    run.add_argument(
        "--reset", action="store_true", help="start over: delete the instance's store and sandbox CRMs first"
    )
    run.add_argument("--duration", type=float, default=None, help="stop after this many seconds (tests)")
    run.add_argument("--json", action="store_true", help="the banner as one JSON line (addresses, sign-in, sources)")
    run.set_defaults(func=cmd_run)

    serve = sub.add_parser("serve", help="the web app (gunicorn; --dev for Flask's server)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=3, help="gunicorn worker processes (3 measured best on 2 cores)")
    serve.add_argument("--dev", action="store_true", help="Flask's development server instead of gunicorn")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="the inbox and outbox workers, and the scheduler when this process leads")
    worker.add_argument("--no-scheduler", action="store_true", help="never take part in the scheduler election")
    worker.add_argument("--duration", type=float, default=None, help="stop after this many seconds (tests)")
    worker.add_argument(
        "--metrics-port", type=int, default=None, help="serve this worker's Prometheus metrics on this port"
    )
    worker.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")
    worker.set_defaults(func=cmd_worker)


def _wait(duration: float | None) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait(duration)


def cmd_worker(args: argparse.Namespace) -> int:
    from hub.app.bootstrap import build_hub
    from hub.app.instance import make_private
    from hub.app.logs import configure_logging
    from hub.settings.config import load_config
    from jobs.runtime import Runtime

    configure_logging(verbose=args.verbose, json_lines=True)  # a service: structured lines, ids only
    make_private(load_config(args.config).instance_path)
    hub = build_hub(config_path=args.config, database_url=args.database_url)
    runtime = Runtime(hub, scheduler=not args.no_scheduler).start()
    if args.metrics_port is not None:
        from prometheus_client import start_http_server

        from hub.app.metrics import REGISTRY

        start_http_server(args.metrics_port, addr=args.metrics_host, registry=REGISTRY)
        sys.stdout.write(f"worker metrics: http://{args.metrics_host}:{args.metrics_port}/metrics\n")
    sys.stdout.write(f"worker {runtime.name} running; Ctrl-C stops it\n")
    sys.stdout.flush()
    try:
        _wait(args.duration)
    finally:
        runtime.stop()
        hub.close()
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from hub.app.bootstrap import build_hub
    from hub.app.instance import make_private
    from hub.settings.config import load_config

    make_private(load_config(args.config).instance_path)  # gunicorn's workers inherit the umask
    if args.dev:
        from werkzeug.serving import run_simple

        from webapp import create_app
        from webapp.dev_server import MaskingRequestHandler

        hub = build_hub(config_path=args.config, database_url=args.database_url)
        run_simple(args.host, args.port, create_app(hub), threaded=True, request_handler=MaskingRequestHandler)
        return EXIT_OK
    # Wire the hub once before gunicorn boots its workers: migrations run here, outside gunicorn's
    # boot timeout, and a bad configuration or a database from a newer version stops the start
    # with one clear message (exit status 2) instead of a loop of failing worker boots.
    build_hub(config_path=args.config, database_url=args.database_url).close()
    env = dict(os.environ)
    if args.config:
        env["NURTUREHUB_CONFIG"] = args.config
    if args.database_url:
        env["NURTUREHUB_DATABASE_URL"] = args.database_url
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"{args.host}:{args.port}", "--workers", str(args.workers),
        "--access-logfile", "-", "--config", "python:webapp.gunicorn_conf", "webapp.wsgi:app",
    ]  # fmt: skip
    # The workers' metrics are added up at /metrics (prometheus_client's multiprocess mode); the
    # folder holds this run's files only. An operator's own PROMETHEUS_MULTIPROC_DIR is kept.
    with tempfile.TemporaryDirectory(prefix="nurturehub-metrics-") as folder:
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", folder)
        gunicorn = subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter and fixed arguments
        # A stop for this process is a stop for gunicorn (graceful on TERM), then the folder goes.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda received, _frame: gunicorn.send_signal(received))
        return gunicorn.wait()


# --- the embedded default -------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from hub.app.bootstrap import build_hub
    from hub.app.instance import make_private
    from hub.app.logs import configure_logging
    from hub.app.running_demo import FHIR_CREDENTIAL, RunningDemo, demo_environ, sandbox_settings, store_identity
    from hub.app.sandboxes import start_sandboxes
    from hub.connections.connect import connect_with_agent
    from hub.connections.crm import load_crm_settings
    from hub.settings.config import load_config, printable_url
    from jobs.runtime import Runtime
    from webapp import create_app

    configure_logging(verbose=args.verbose)
    for noisy in ("werkzeug", "apscheduler", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = load_config(args.config)
    if args.host in ("127.0.0.1", "localhost"):  # the demo's own http:// server: no HTTPS-only cookies
        config = dataclasses.replace(
            config, raw={**config.raw, "web": {**config.raw.get("web", {}), "secure_cookies": False}}
        )
    make_private(config.instance_path, create=True)
    if args.reset and not _reset(config, args.database_url):
        return 2
    environ = demo_environ(config)
    sandboxes = start_sandboxes(config.instance_path)
    from webapp.dev_server import MaskingRequestHandler

    web = make_server(args.host, args.port, None, threaded=True, request_handler=MaskingRequestHandler)  # type: ignore[arg-type]
    base_url = f"http://{args.host}:{web.server_port}"
    sf, hs, fhir_url = sandboxes.salesforce_server.url, sandboxes.hubspot_server.url, sandboxes.fhir_server.url
    crm_raw, scheduling = sandbox_settings(
        base_url=base_url, salesforce=sf, salesforce_ca=sandboxes.salesforce_ca, hubspot=hs, fhir=fhir_url,
        scheduling=config.raw.get("scheduling", {}),
    )  # fmt: skip
    config = dataclasses.replace(config, raw={**config.raw, "scheduling": scheduling})
    environ["NURTUREHUB_FHIR_CREDENTIAL"] = FHIR_CREDENTIAL
    hub = build_hub(config, database_url=args.database_url, environ=environ, crm=load_crm_settings({"crm": crm_raw}))
    hub.base_url = base_url
    from hub.accounts.users import demo_admin

    admin, password = demo_admin(hub.store, config.instance_path, now=hub.clock())
    from hub.bookings.capacity import refresh_openings

    refresh_openings(hub.store, hub.scheduling_connector(), now=hub.clock())  # availability before inquiries
    for name in ("salesforce", "hubspot"):
        connect_with_agent(hub, name)
    from connectors.hubspot import HubSpotConnector

    engine = hub.sync_engine()
    assert engine is not None
    hubspot_connector = engine.destinations["hubspot"].connector
    assert isinstance(hubspot_connector, HubSpotConnector)
    hubspot_connector.ensure_schema()

    app = create_app(hub)
    web.app = app
    threading.Thread(target=web.serve_forever, name="web", daemon=True).start()
    runtime = Runtime(hub).start()
    from hub.inbound.demo import begin_run
    from hub.store import repo

    with hub.store.read() as session:
        earlier = repo.count_leads(session)
    demo = begin_run(config.instance_path, earlier)
    running = RunningDemo(
        pid=os.getpid(), base_url=base_url, store=store_identity(hub.store.url), crm=crm_raw, scheduling=scheduling
    )
    running.record(config.instance_path)  # for `sync`, `leads add`, `send-test-event` in other terminals
    facts = {
        "clinic": config.settings.clinic_name,
        "web": base_url,
        "sign_in": {"username": admin, "password": password},
        "webhooks": f"{base_url}/webhooks/<source>",
        "sources": sorted(config.sources),
        "salesforce": {"url": sf, "ca_bundle": str(sandboxes.salesforce_ca)},
        "hubspot": {"url": hs},
        "fhir": {"url": f"{fhir_url}/fhir"},
        "store": printable_url(hub.store.url),
        "demo": None if args.no_demo else demo.message,
    }
    banner = [
        f"nurturehub is running for {config.settings.clinic_name}",
        f"  web UI:             {base_url}   sign in as {admin} / {password}",
        f"  health, metrics:    {base_url}/healthz  {base_url}/readyz  {base_url}/metrics",
        f"  webhooks:           {base_url}/webhooks/<source>   sources: {', '.join(sorted(config.sources))}",
        f"  salesforce sandbox: {sf}   (CA bundle {sandboxes.salesforce_ca})",
        f"  hubspot sandbox:    {hs}",
        f"  fhir sandbox:       {fhir_url}/fhir   (availability: read every 5 minutes)",
        f"  store:              {printable_url(hub.store.url)}",
        f"  {demo.message}" if not args.no_demo else "  no demo inquiries (--no-demo); watch leads with:",
        "    .venv/bin/nurturehub leads overdue     .venv/bin/nurturehub leads show <id>",
        "  other terminals use this demo's sandboxes and secrets while it runs, e.g.:",
        "    .venv/bin/nurturehub sync     .venv/bin/nurturehub send-test-event landing_page",
        "Ctrl-C stops everything.",
    ]
    sys.stdout.write((json.dumps(facts) if args.json else "\n".join(banner)) + "\n")
    sys.stdout.flush()
    stopping = threading.Event()  # the demo's inquiries stop before the server they are sent to
    if not args.no_demo:
        stream = threading.Thread(
            target=_demo_stream, args=(config, environ, base_url, demo.number, stopping), name="demo", daemon=True
        )
        stream.start()
    try:
        _wait(args.duration)
    finally:
        stopping.set()
        running.forget(config.instance_path)
        runtime.stop()
        web.shutdown()
        sandboxes.stop()
        hub.close()
    return EXIT_OK


def _reset(config: HubConfig, database_url: str | None) -> bool:
    """Delete the demo's store and sandbox CRMs (the instance's own SQLite file only)."""
    import shutil

    if database_url or config.database_url:
        sys.stderr.write("--reset only deletes the instance folder's own SQLite store; this hub uses another\n")
        return False
    for path in config.instance_path.glob("nurturehub.sqlite3*"):
        path.unlink()
    shutil.rmtree(config.instance_path / "sandbox", ignore_errors=True)
    shutil.rmtree(config.instance_path / "demo-events", ignore_errors=True)
    sys.stdout.write(f"reset: the store and sandbox CRMs in {config.instance_path} were deleted\n")
    return True


def _demo_stream(
    config: HubConfig, environ: dict[str, str], base_url: str, run: int, stopping: threading.Event
) -> None:
    """Demo inquiries arriving as real signed webhooks, dated now: a few at once, then one every few
    seconds; then a form, a Jotform and two bookings. Ends when ``stopping`` is set (Ctrl-C)."""
    from datetime import UTC, datetime

    from hub.inbound.demo import demo_events
    from hub.inbound.test_events import send_test_event

    folder = config.instance_path / "demo-events"
    folder.mkdir(parents=True, exist_ok=True)
    events = demo_events(datetime.now(UTC), run, timezone=config.settings.hours.timezone)
    for index, (source, payload) in enumerate(events):
        if stopping.is_set():
            return
        path = folder / f"{index:02d}.json"
        path.write_text(json.dumps(payload), encoding="utf-8")
        try:
            response = send_test_event(config, source, url=base_url, payload_file=str(path), environ=environ)
            log.info("demo event %d (%s): %s", index, source, response.status_code)
        except Exception:
            if stopping.is_set():
                return
            log.exception("demo event %d could not be sent", index)
        stopping.wait(0.5 if index < 4 else 8 if source in ("landing_page", "referral_portal") else 5)


def main(argv: Sequence[str] | None = None) -> int:
    parser, sub = build_parser()
    add_commands(sub)
    return dispatch(parser, argv)

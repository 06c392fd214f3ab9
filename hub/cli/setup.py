"""Setting up: ``init``, ``keygen``, ``check-config`` and the local ``sandbox`` CRMs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from nurture.errors import ConfigError

if TYPE_CHECKING:
    from hub.settings.config import HubConfig
from hub.cli.common import EXIT_CONFIG, EXIT_OK, emit, hub_for


def cmd_init(args: argparse.Namespace) -> int:
    from hub.app.instance import make_private
    from hub.settings.config import load_config

    make_private(load_config(args.config).instance_path, create=True)
    hub = hub_for(args, create=True)
    folder = hub.config.instance_path.resolve()
    hub.close()
    emit(
        {"ok": True, "instance": str(folder)}, as_json=args.json, human=f"instance ready: {folder} (database migrated)"
    )
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    from hub.app.sandboxes import sandbox_faults, start_sandboxes
    from hub.settings.config import load_config

    config = load_config(args.config)
    if not args.memory:
        from hub.app.instance import make_private

        make_private(config.instance_path, create=True)
    faults = sandbox_faults(
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
    from hub.store.crypto import new_key

    key = new_key()
    emit({"ok": True, "key": key}, as_json=args.json, human=key)
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    from hub.accounts.web_settings import load_web_settings
    from hub.connections.crm import load_crm_settings
    from hub.settings.config import load_config

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
        emit(summary, as_json=args.json, human="\n".join([f"{config.source}: source secrets", *problems]))
        return EXIT_CONFIG
    human = f"{config.source}: OK ({s.clinic_name}, {len(s.channels)} channels)"
    from hub.app.instance import exposed

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
    emit(summary, as_json=args.json, human=human)
    return EXIT_OK


def _data_key_state() -> str:
    """NURTUREHUB_DATA_KEY in this environment: "set", "missing" or "unusable: why" (never the key)."""
    from hub.store.crypto import ENV_DATA_KEY, Vault

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

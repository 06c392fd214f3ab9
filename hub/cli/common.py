"""What every command shares: exit codes, printing (words or --json), who acts, and the hub the
configuration names (the running demo's sandboxes when one runs on the same store).

The commands import what they need when they run, so `nurturehub --help` and a quick command start
without loading the whole application."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nurture.errors import ConfigError

if TYPE_CHECKING:
    from hub.app.bootstrap import Hub
    from hub.app.running_demo import RunningDemo
    from hub.settings.config import HubConfig

log = logging.getLogger("nurturehub")

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_REJECTED, EXIT_NOT_FOUND = 0, 1, 2, 3, 4
DEFAULT_URL = "http://127.0.0.1:8000"  # `nurturehub serve`'s default address

Handler = Callable[[argparse.Namespace], int]


def emit(data: Any, *, as_json: bool, human: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(human + "\n")


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user database in some containers
        return "cli"


def running_demo(config: HubConfig, database_url: str | None) -> RunningDemo | None:
    """The ``nurturehub run`` demo running on this instance and store, when this configuration
    connects no CRM of its own (see hub.running_demo)."""
    from hub.app.running_demo import find_running_demo
    from hub.connections.crm import load_crm_settings

    if any(s.enabled for s in load_crm_settings(config.raw).values()):
        return None
    return find_running_demo(config.instance_path, database_url or config.effective_database_url)


def hub_for(args: argparse.Namespace, *, create: bool = False) -> Hub:
    """The hub the configuration names. Only ``init`` (``create``) and ``run`` make a new store:
    any other command on a SQLite store that does not exist says so, instead of quietly making an
    empty one in whatever folder it was started from. While ``nurturehub run`` runs on the same
    instance and store, the hub uses its sandbox CRMs, FHIR sandbox and demo secrets."""
    from hub.app.bootstrap import build_hub
    from hub.settings.config import load_config

    config = load_config(args.config)
    url = args.database_url or config.effective_database_url
    if not create and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if str(path) not in ("", ":memory:") and not path.exists():
            raise ConfigError(
                [f"store: there is no database at {path}: run `nurturehub init` first (or `./dev run`), "
                 "or name the right one with --config / --database-url"]
            )  # fmt: skip
    demo = None if create else running_demo(config, args.database_url)
    if demo is None:
        # The instance's key file standing in for NURTUREHUB_DATA_KEY is the embedded demo's way;
        # for any other store (production's, named by the config or --database-url) it is a key the
        # services may not have: that is said, as the processes say it.
        embedded = not args.database_url and not config.database_url
        return build_hub(config, database_url=args.database_url, warn_instance_key=not embedded)
    import dataclasses

    from hub.connections.crm import load_crm_settings

    log.info("using the running demo's sandboxes (pid %d, %s)", demo.pid, demo.base_url)
    config = dataclasses.replace(config, raw={**config.raw, "scheduling": demo.scheduling})
    hub = build_hub(
        config, database_url=args.database_url, environ=demo.environ(config), crm=load_crm_settings({"crm": demo.crm}),
        warn_instance_key=False,
    )  # fmt: skip
    hub.base_url = demo.base_url
    return hub

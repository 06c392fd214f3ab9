"""What a running ``nurturehub run`` leaves in its instance folder for other terminals.

The embedded demo points the hub at sandbox CRMs and a FHIR sandbox on ports chosen when it starts,
and generates the webhook sources' secrets. Those live in the running process; without a record of
them, ``nurturehub sync`` in a second terminal says no CRM is connected, ``leads add`` never reaches
the sandboxes and ``send-test-event`` has no secret to sign with. So ``run`` writes
``running-demo.json`` (0600, in the 0700 instance folder) with the web address and the sandboxes'
settings — the sandbox endpoints and the demo's fixed test credentials, no PHI and no production
secret — and removes it when it stops. A command of another terminal on the same instance and store
uses it while the process that wrote it holds its lock (a crashed demo's record is ignored); a
configuration that enables a CRM of its own, or a ``--database-url`` naming another store, wins.

The webhook sources' demo secrets are in ``demo-secrets.json`` (made once, 0600); the real
environment wins over them.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.app.instance import write_private

if TYPE_CHECKING:
    from hub.settings.config import HubConfig

__all__ = [
    "RUN_FILE",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "RunningDemo",
    "demo_environ",
    "find_running_demo",
    "sandbox_settings",
    "store_identity",
]

RUN_FILE = "running-demo.json"
SECRETS_FILE = "demo-secrets.json"

#: The sandboxes' published test app credentials (see sandboxes/).
SANDBOX_CLIENT_ID = "nurturehub-sandbox"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - the local sandboxes' fixed test secret
FHIR_CREDENTIAL = "sandbox-secret"  # the FHIR sandbox's fixed test secret


@dataclass(frozen=True)
class RunningDemo:
    """A running demo, as its instance folder records it."""

    pid: int
    base_url: str  # the web UI and webhooks
    store: str  # the store's identity (store_identity: a path or a digest, never a password)
    crm: dict[str, dict[str, Any]]  # the ``[crm]`` section pointing at the sandboxes
    scheduling: dict[str, Any]  # the ``[scheduling]`` section pointing at the FHIR sandbox

    def record(self, instance: Path) -> Path:
        """Write the record (0600), replacing an earlier one atomically, and hold a lock on it for
        as long as this process runs: the lock, not the pid (which the system may give to another
        process after a crash), is what says the demo is running."""
        path = instance / RUN_FILE
        record = {
            "pid": self.pid, "base_url": self.base_url, "store": self.store, "crm": self.crm,
            "scheduling": self.scheduling,
        }  # fmt: skip
        write_private(path, json.dumps(record, indent=2), exclusive=False, atomic=True)
        held = os.open(path, os.O_RDONLY)
        fcntl.flock(held, fcntl.LOCK_SH)  # released when this process ends, however it ends
        _HELD[path] = held
        return path

    def forget(self, instance: Path) -> None:
        """Remove the record if it is still this process's (a later run may have replaced it)."""
        path = instance / RUN_FILE
        found = _read(path)
        if found is not None and found.pid == self.pid:
            path.unlink(missing_ok=True)
        held = _HELD.pop(path, None)
        if held is not None:
            os.close(held)

    def environ(self, config: HubConfig, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a command of another terminal uses against this demo."""
        return {**demo_environ(config, base), "NURTUREHUB_FHIR_CREDENTIAL": FHIR_CREDENTIAL}


#: The records this process holds a lock on (path -> open descriptor).
_HELD: dict[Path, int] = {}


def _held_by_a_running_demo(path: Path) -> bool:
    """Whether a live process holds the record's lock (a crashed demo's lock went with it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def store_identity(url: str) -> str:
    """Which store ``url`` names, comparable between processes and safe to write down: a SQLite
    file's absolute path, or a digest of any other URL whole (password, schema options and all)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///").split("?", 1)[0]
        return "sqlite:" + (path if path in ("", ":memory:") else str(Path(path).resolve()))
    return "sha256:" + hashlib.sha256(url.encode()).hexdigest()


def _read(path: Path) -> RunningDemo | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RunningDemo(
            pid=int(data["pid"]), base_url=str(data["base_url"]), store=str(data["store"]),
            crm=dict(data["crm"]), scheduling=dict(data["scheduling"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_running_demo(instance: Path, store_url: str) -> RunningDemo | None:
    """The demo running on ``instance`` and the store ``store_url``, if its process is alive."""
    path = instance / RUN_FILE
    found = _read(path)
    if found is None or found.pid == os.getpid() or not _held_by_a_running_demo(path):
        return None
    return found if found.store == store_identity(store_url) else None


def demo_environ(config: HubConfig, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The demo's secrets (generated once into the instance folder) under ``base`` (default: this
    process's environment), which wins."""
    path = config.instance_path / SECRETS_FILE
    if path.exists():
        values: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    else:
        values = {}
        for source in config.sources.values():
            if source.type == "standard_webhook":
                values[source.secret_env] = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
            else:
                values[source.secret_env] = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, json.dumps(values))
    values["NURTUREHUB_SALESFORCE_CLIENT_SECRET"] = SANDBOX_CLIENT_SECRET
    values["NURTUREHUB_HUBSPOT_CLIENT_SECRET"] = SANDBOX_CLIENT_SECRET
    return {**values, **(os.environ if base is None else base)}


def sandbox_settings(
    *, base_url: str, salesforce: str, salesforce_ca: Path, hubspot: str, fhir: str, scheduling: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The ``[crm]`` and ``[scheduling]`` sections of the demo: both CRMs and the EHR's scheduling
    pointed at the sandboxes, the OAuth redirects at the demo's web server."""
    common = {"enabled": True, "client_id": SANDBOX_CLIENT_ID, "pull_minutes": 1, "overlap_seconds": 60}
    crm = {
        "salesforce": {
            **common, "login_url": salesforce, "ca_bundle": str(salesforce_ca),
            "redirect_uri": f"{base_url}/connections/salesforce/callback",
        },
        "hubspot": {
            **common, "api_host": hubspot, "authorize_url": f"{hubspot}/oauth/authorize",
            "token_url": f"{hubspot}/oauth/v1/token", "redirect_uri": f"{base_url}/connections/hubspot/callback",
        },
    }  # fmt: skip
    ehr = {
        **scheduling,
        "fhir": {
            "enabled": True, "base_url": f"{fhir}/fhir", "client_id": "nurturehub",
            "token_url": f"{fhir}/auth/token", "auth_method": "client_secret_basic", "refresh_minutes": 5,
        },
    }  # fmt: skip
    return crm, ehr

"""The one composition root: configuration, store, vault, intake, inbox and clock, wired once.
The CLI, the web app and the workers all start here; tests pass their own pieces in."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hub.config import HubConfig, load_config
from hub.crypto import ENV_DATA_KEY, Vault, demo_data_key
from hub.inbox import Inbox, Mapper
from hub.intake import Intake
from hub.store import Store

log = logging.getLogger(__name__)

__all__ = ["Hub", "build_hub", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True, kw_only=True)
class Hub:
    """The wired application."""

    config: HubConfig
    store: Store
    vault: Vault
    intake: Intake
    inbox: Inbox
    environ: Mapping[str, str]
    clock: Callable[[], datetime] = field(default=utc_now)

    def secret(self, env_name: str) -> str | None:
        """A secret from the environment, or None when it is not set."""
        value = self.environ.get(env_name)
        return value or None

    def close(self) -> None:
        self.store.dispose()


def default_mapper() -> Mapper:
    from hub.mapper import map_event

    return map_event


def build_hub(
    config: HubConfig | None = None,
    *,
    config_path: str | Path | None = None,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = utc_now,
    mapper: Mapper | None = None,
    migrate: bool = True,
    instance_key: bool = True,
) -> Hub:
    """Wire the hub.

    Args:
        config: an already-loaded configuration (else ``config_path`` or the defaults are loaded).
        database_url: overrides the configured store.
        environ: where secrets come from (default ``os.environ``).
        clock: the source of "now" for everything the hub does.
        mapper: turns a source's payload into an inquiry (default: the field mappings).
        migrate: bring the schema up to date.
        instance_key: without ``NURTUREHUB_DATA_KEY`` in the environment, use (and create) a key
            file in the instance folder — right for the embedded demo, wrong for production,
            which is why the hub says so in the log.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    cfg = config or load_config(config_path, environ=env)
    store = Store(database_url or cfg.effective_database_url)
    if migrate:
        store.migrate()
    if env.get(ENV_DATA_KEY) or not instance_key:
        vault = Vault.from_env(env)
    else:
        log.warning("NURTUREHUB_DATA_KEY is not set: using the key file in the instance folder (demo only)")
        vault = Vault(demo_data_key(cfg.instance_path))
    destinations: tuple[str, ...] = ()
    intake = Intake(store, cfg, destinations=destinations)
    inbox = Inbox(store, cfg, vault, intake, mapper or default_mapper())
    return Hub(config=cfg, store=store, vault=vault, intake=intake, inbox=inbox, environ=env, clock=clock)

"""The one composition root: configuration, store, vault, intake, inbox, CRM connections, sync and
clock, wired once. The CLI, the web app and the workers all start here; tests pass their own pieces
in."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.connections.crm import CrmSettings, StoredTokens, load_crm_settings
from hub.settings import settings_store
from hub.settings.config import HubConfig, Source, load_config, register_environment_secrets
from hub.store import Store
from hub.store.crypto import ENV_DATA_KEY, Vault, demo_data_key
from nurture.errors import ConfigError

if TYPE_CHECKING:
    from connectors.base import CrmConnector
    from connectors.scheduling import SchedulingConnector
    from hub.inbound.inbox import Inbox, Mapper
    from hub.inbound.intake import Intake
    from hub.sync import SyncEngine
    from mapping.spec import FieldMapping

# What only some commands use (intake and the inbox, the sync engine, the scheduling systems) is
# imported when first used: `nurturehub leads show` reads a lead without loading the triage rules,
# the CRM connectors or the scheduling clients.

log = logging.getLogger(__name__)

__all__ = ["Hub", "build_hub", "utc_now"]


#: The CRM field that shows the hub's next action, per system (read by the repair rule).
def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True, kw_only=True)
class Hub:
    """The wired application.

    ``config`` is the configuration in force: the file's (``file_config``) with the sections an
    admin saved in the web UI in their place. ``refresh()`` picks up a newer save (every process
    calls it now and then: the web app per request, workers per loop).
    """

    config: HubConfig
    file_config: HubConfig
    store: Store
    vault: Vault
    crm: Mapping[str, CrmSettings]
    environ: Mapping[str, str]
    clock: Callable[[], datetime] = field(default=utc_now)
    base_url: str = ""
    mapper: Mapper | None = None
    #: CRM connectors given to the hub (tests, tools) instead of built from ``crm``'s settings: each
    #: is a destination, whether or not the configuration enables that CRM.
    connectors: Mapping[str, CrmConnector] = field(default_factory=dict)
    _sync: SyncEngine | None = field(default=None, repr=False)
    _sync_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _settings_mark: int = field(default=-1, repr=False)
    _refreshed_at: float = field(default=0.0, repr=False)
    _scheduling: Any = field(default=None, repr=False)
    _calcom: Any = field(default=None, repr=False)
    _calendly: Any = field(default=None, repr=False)
    _mappings: dict[str, FieldMapping | None] = field(default_factory=dict, repr=False)
    _intake: Intake | None = field(default=None, repr=False)
    _inbox: Inbox | None = field(default=None, repr=False)
    _build_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def intake(self) -> Intake:
        """Intake with the configuration in force (built on first use, again after a settings reload)."""
        with self._build_lock:
            if self._intake is None:
                from hub.inbound.intake import Intake

                self._intake = Intake(self.store, self.config, destinations=self.destinations(), vault=self.vault)
            return self._intake

    @property
    def inbox(self) -> Inbox:
        """The inbox with the configuration and mappings in force (built on first use)."""
        intake = self.intake
        with self._build_lock:
            if self._inbox is None:
                from hub.bookings.scheduling import load_calcom_settings
                from hub.inbound.inbox import Inbox

                self._inbox = Inbox(
                    self.store,
                    self.config,
                    self.vault,
                    intake,
                    self.mapper or self.map_event,
                    calcom=load_calcom_settings(self.config),
                )
            return self._inbox

    def secret(self, env_name: str) -> str | None:
        """A secret from the environment, or None when it is not set."""
        value = self.environ.get(env_name)
        return value or None

    def destinations(self) -> tuple[str, ...]:
        """The CRMs every lead change is queued for (enabled in the config, or given as connectors)."""
        enabled = [name for name, settings in self.crm.items() if settings.enabled]
        return tuple(dict.fromkeys([*enabled, *self.connectors]))

    def tokens(self, name: str) -> StoredTokens:
        settings = self.crm[name]
        return StoredTokens(self.store, self.vault, settings, self.secret(settings.client_secret_env))

    def sync_engine(self) -> SyncEngine | None:
        """The sync engine over every enabled CRM that is connected (None when there is none).

        Built on first use and again after ``reset_sync`` (a new connection)."""
        from hub.connections.crm import build_connector
        from hub.sync import NEXT_ACTION_FIELD, Destination, SyncEngine

        with self._sync_lock:
            if self._sync is None:
                destinations = {}
                for name in self.destinations():
                    settings = self.crm.get(name)
                    try:
                        connector = self.connectors.get(name) or build_connector(
                            self.crm[name], self.tokens(name), clinic_timezone=self.config.settings.hours.timezone
                        )
                    except ConfigError as exc:
                        log.warning("%s: not syncing: %s", name, exc.problems[0])
                        continue
                    obj = "contacts"
                    if name == "salesforce":  # the object the org's settings name (a given connector: Lead)
                        obj = str(settings.options.get("object", "contacts")) if settings is not None else "Lead"
                    with self.store.read() as session:
                        crm_mapping = settings_store.crm_mapping_for(session, name, obj)
                    destinations[name] = Destination(
                        name=name,
                        connector=connector,
                        mapping=crm_mapping,
                        next_action_field=NEXT_ACTION_FIELD[name],
                        overlap=settings.overlap if settings is not None else timedelta(minutes=5),
                    )
                if not destinations:
                    return None
                self._sync = SyncEngine(self.store, self.config, destinations, base_url=self.base_url)
            return self._sync

    def scheduling_connector(self) -> Any:
        """The scheduling system availability is read from (``[scheduling.fhir]``), or None."""
        from hub.bookings.capacity import build_fhir, load_fhir_config

        if self._scheduling is None:
            self._scheduling = build_fhir(load_fhir_config(self.config), self.environ) or False
        return self._scheduling or None

    def bookings_intervals(self) -> dict[str, timedelta]:
        """How often changed bookings are read, per scheduling system ("fhir", "calcom", "calendly")
        enabled."""
        from hub.bookings.calendly import calendly_pull_interval
        from hub.bookings.capacity import load_fhir_config
        from hub.bookings.scheduling import calcom_bookings_interval

        out: dict[str, timedelta] = {}
        fhir = load_fhir_config(self.config)
        if fhir.enabled:
            out["fhir"] = fhir.bookings
        every = calcom_bookings_interval(self.config)
        if every is not None:
            out["calcom"] = every
        every = calendly_pull_interval(self.config)
        if every is not None:
            out["calendly"] = every  # visits read back: kept, no-show
        return out

    def bookings_connector(self, system: str) -> Any:
        """The connector changed bookings are read from for ``system``, or None when not enabled.

        Raises:
            ConfigError: enabled, but its credential is not set.
        """
        from hub.bookings.calendly import build_calendly, calendly_pull_interval
        from hub.bookings.scheduling import build_calcom, calcom_bookings_interval

        if system == "fhir":
            return self.scheduling_connector()
        if system == "calcom" and calcom_bookings_interval(self.config) is not None:
            if self._calcom is None:
                self._calcom = build_calcom(self.config, self.environ)
            return self._calcom
        if system == "calendly" and calendly_pull_interval(self.config) is not None:
            if self._calendly is None:
                self._calendly = build_calendly(self.config, self.environ)
            return self._calendly
        return None

    def reset_sync(self) -> None:
        with self._sync_lock:
            self._sync = None

    # --- settings saved in the admin UI ---------------------------------------------------------

    def reload_settings(self) -> None:
        """Rebuild everything that depends on configuration from the file and the stored sections."""
        with self.store.read() as session:
            self._settings_mark = settings_store.latest_change(session)
            config = settings_store.effective_config(self.file_config, session)
        self.config = config
        self._mappings.clear()
        with self._build_lock:
            self._intake = self._inbox = None  # built again, with the new configuration, when next used
        self.reset_sync()

    def refresh(self, *, at_most_every: float = 1.0) -> None:
        """Reload when an admin saved settings since the last look (one cheap query, at most once
        every ``at_most_every`` seconds)."""
        now = time.monotonic()
        if now - self._refreshed_at < at_most_every:
            return
        self._refreshed_at = now
        with self.store.read() as session:
            mark = settings_store.latest_change(session)
        if mark != self._settings_mark:
            self.reload_settings()

    def map_event(self, source: Source, payload: Any) -> dict[str, Any] | None:
        """Map an inbound event with the mapping in force for its source (stored, else built in)."""
        from hub.inbound.mapper import map_event

        if source.name not in self._mappings:
            with self.store.read() as session:  # also called inside the inbox worker's write transaction
                self._mappings[source.name] = settings_store.source_mapping_for(session, source)
        return map_event(source, payload, self._mappings[source.name])

    def close(self) -> None:
        self.store.dispose()


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
    crm: Mapping[str, CrmSettings] | None = None,
    warn_instance_key: bool = True,
    connectors: Mapping[str, CrmConnector] | None = None,
    scheduling: SchedulingConnector | None = None,
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
        crm: CRM settings (default: the config's ``[crm]`` section; the demo points them at the
            sandboxes).
        connectors: CRM connectors to sync with instead of those the ``[crm]`` settings would build
            (tests and tools pass fakes or sandbox-bound connectors here).
        scheduling: the scheduling system availability is read from, instead of the one
            ``[scheduling.fhir]`` would build (tests pass a sandbox-bound or in-memory one).
        warn_instance_key: log a warning when the instance's key file stands in for the data key
            (the processes do; a one-off command leaves that to ``check-config`` and logs it at
            debug level, so every command of the demo does not repeat it).
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    cfg = config or load_config(config_path, environ=env)
    register_environment_secrets(cfg.raw, env)  # every secret this hub reads is masked in the logs
    if database_url:
        register_environment_secrets({"store": {"database_url": database_url}}, {})
    crm_settings = dict(crm) if crm is not None else load_crm_settings(cfg.raw)
    store = Store(database_url or cfg.effective_database_url)
    if migrate:
        store.migrate()
    if env.get(ENV_DATA_KEY) or not instance_key:
        vault = Vault.from_env(env)
    else:
        log.log(
            logging.WARNING if warn_instance_key else logging.DEBUG,
            "NURTUREHUB_DATA_KEY is not set: using the key file in the instance folder (demo only)",
        )
        vault = Vault(demo_data_key(cfg.instance_path))
    hub = Hub(
        config=cfg,
        file_config=cfg,
        store=store,
        vault=vault,
        crm=crm_settings,
        environ=env,
        clock=clock,
        mapper=mapper,
        connectors=dict(connectors or {}),
        _scheduling=scheduling,
    )
    hub.reload_settings()  # the sections an admin saved, and the stored mappings
    return hub

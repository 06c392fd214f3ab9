"""The sync engine's state: the store, the configuration in force and the connected CRMs."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta

from hub.settings.config import HubConfig
from hub.store import Store, repo
from hub.sync.model import Destination


class EngineBase:
    """What every part of the engine shares."""

    def __init__(
        self,
        store: Store,
        config: HubConfig,
        destinations: Mapping[str, Destination],
        *,
        rng: random.Random | None = None,
        base_url: str = "",
    ) -> None:
        self.store = store
        self.config = config
        self.destinations = dict(destinations)
        self._rng = rng or random.Random()
        self.base_url = base_url.rstrip("/")
        #: How long a claimed outbox item is reserved for the worker that claimed it.
        self.lease = timedelta(seconds=config.jobs.lease_seconds)
        self._calls_counted: dict[str, int] = {}
        self._calls_lock = threading.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.destinations)

    def _since(self, cursor_name: str, dest: Destination, backfill: bool) -> datetime | None:
        if backfill:
            return None
        with self.store.tx() as session:
            value = repo.get_cursor(session, cursor_name)
        return datetime.fromisoformat(value) - dest.overlap if value else None

    def _advance(self, cursor_name: str, seen: datetime | None, now: datetime) -> None:
        if seen is None:
            return
        with self.store.tx() as session:
            current = repo.get_cursor(session, cursor_name)
            if current is None or datetime.fromisoformat(current) < seen:
                repo.set_cursor(session, cursor_name, seen.isoformat(), now=now)

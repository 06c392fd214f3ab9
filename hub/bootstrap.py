"""The one composition root: configuration, store, intake and clock, wired once. The CLI, the web
app and the workers all start here; tests pass their own pieces in."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hub.config import HubConfig, load_config
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
    intake: Intake
    clock: Callable[[], datetime] = field(default=utc_now)

    def close(self) -> None:
        self.store.dispose()


def build_hub(
    config: HubConfig | None = None,
    *,
    config_path: str | Path | None = None,
    database_url: str | None = None,
    clock: Callable[[], datetime] = utc_now,
    migrate: bool = True,
) -> Hub:
    """Wire the hub.

    Args:
        config: an already-loaded configuration (else ``config_path`` or the defaults are loaded).
        database_url: overrides the configured store.
        clock: the source of "now" for everything the hub does.
        migrate: bring the schema up to date (``nurturehub init`` and the embedded default do).
    """
    cfg = config or load_config(config_path)
    store = Store(database_url or cfg.effective_database_url)
    if migrate:
        store.migrate()
    destinations: tuple[str, ...] = ()
    return Hub(config=cfg, store=store, intake=Intake(store, cfg, destinations=destinations), clock=clock)

"""The hub's store: SQLAlchemy 2.x over SQLite (default) or PostgreSQL, migrated by Alembic.

Only ``hub`` touches the database, and SQLAlchemy is imported nowhere above ``hub`` (the web app
and the jobs: a test reads their imports). ``Store`` owns the engine and transactions; ``repo``
maps rows to domain values and back; ``connections``, ``sync_errors`` and ``job_runs`` answer the
admin pages and the scheduler with plain data; ``lease`` is the scheduler's advisory lock. A
database that does not answer is ``StoreUnavailable``; ``Transaction`` names what ``Store.tx()``
hands out, for callers that only pass it on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.store.engine import Store, Transaction
    from hub.store.errors import StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "Transaction"]


def __getattr__(name: str) -> Any:
    """``Store`` and the rest are imported when first asked for: the package's light modules
    (``crypto``, ``ids``) load without SQLAlchemy, so ``nurturehub --help`` starts quickly."""
    if name in ("Store", "Transaction"):
        from hub.store import engine

        return getattr(engine, name)
    if name == "StoreUnavailable":
        from hub.store.errors import StoreUnavailable

        return StoreUnavailable
    raise AttributeError(f"module 'hub.store' has no attribute {name!r}")

"""The hub's store: SQLAlchemy 2.x over SQLite (default) or PostgreSQL, migrated by Alembic.

Only ``hub`` touches the database, and SQLAlchemy is imported nowhere above ``hub`` (the web app
and the jobs: a test reads their imports). ``Store`` owns the engine and transactions; ``repo``
maps rows to domain values and back; ``connections``, ``sync_errors`` and ``job_runs`` answer the
admin pages and the scheduler with plain data; ``lease`` is the scheduler's advisory lock. A
database that does not answer is ``StoreUnavailable``; ``Transaction`` names what ``Store.tx()``
hands out, for callers that only pass it on.
"""

from hub.store.engine import Store, Transaction
from hub.store.errors import StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "Transaction"]

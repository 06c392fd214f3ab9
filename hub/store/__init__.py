"""The hub's store: SQLAlchemy 2.x over SQLite (default) or PostgreSQL, migrated by Alembic.

Only ``hub`` touches the database. ``Store`` owns the engine and transactions; ``repo`` maps rows
to domain values and back.
"""

from hub.store.engine import Store

__all__ = ["Store"]

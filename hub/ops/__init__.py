"""Running the hub in production: what an operator does to the store besides serving it.

- :mod:`hub.ops.backup` — a SQLite store's backup and restore through SQLite's online backup API
  (PostgreSQL uses ``pg_dump`` / ``pg_restore``, see docs/operations.md);
- :mod:`hub.ops.rekey` — re-encrypting stored payloads and tokens with the first data key, online,
  so that an old key can be dropped;
- :mod:`hub.ops.cli` — the ``migrate``, ``backup``, ``restore`` and ``rekey`` commands.

The schema version check (a database from a newer version is refused) lives with the migrations,
in :meth:`hub.store.engine.Store.migrate`.
"""

"""Helpers for tests that need a service (PostgreSQL, Node packages, Chromium).

A test marked ``postgres``, ``node`` or ``browser`` is checked before any of its fixtures is set up
(``tests/conftest.py``), so a missing service gives one skip line per reason, whatever the scope of
the fixtures that would have used it — and, in CI, a failure.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

#: Set by .ci/run: in CI a missing service is a failure, not a skip.
IN_CI = bool(os.environ.get("NURTUREHUB_CI"))

ROOT = Path(__file__).resolve().parent.parent

#: What ``NURTUREHUB_TEST_PG`` means when it is not set.
DEFAULT_PG = "127.0.0.1:5432/test"


def skip_or_fail(reason: str) -> None:
    """Locally a missing service skips the test with its reason; in CI (NURTUREHUB_CI=1) it fails."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


class BadTestDatabase(ValueError):
    """``NURTUREHUB_TEST_PG`` is set to something that is not a PostgreSQL address."""


def pg_url(raw: str | None = None) -> str:
    """The SQLAlchemy URL of the test database, from ``NURTUREHUB_TEST_PG``.

    Accepts what README documents — ``host:port/database`` (user ``postgres``, trust auth), with an
    optional ``user@`` in front — or a full ``postgresql://`` / ``postgresql+psycopg://`` URL.

    Raises:
        BadTestDatabase: the value is neither; the message says what was expected.
    """
    value = (os.environ.get("NURTUREHUB_TEST_PG") if raw is None else raw) or DEFAULT_PG
    value = value.strip()
    if "://" not in value:
        user, at, hostpart = value.rpartition("@")
        value = f"postgresql+psycopg://{user if at else 'postgres'}@{hostpart}"
    scheme, _, rest = value.partition("://")
    if scheme in ("postgres", "postgresql"):
        value = f"postgresql+psycopg://{rest}"
    elif scheme != "postgresql+psycopg":
        raise BadTestDatabase(
            f"NURTUREHUB_TEST_PG: scheme {scheme!r} is not PostgreSQL; give host:port/database "
            "(e.g. 127.0.0.1:5432/test) or a postgresql:// URL"
        )
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        raise BadTestDatabase("NURTUREHUB_TEST_PG: the port is not a number (e.g. 127.0.0.1:5432/test)") from None
    if not parts.hostname and "host=" not in parts.query:
        raise BadTestDatabase("NURTUREHUB_TEST_PG: no host (e.g. 127.0.0.1:5432/test)")
    if not parts.path.strip("/"):
        raise BadTestDatabase(
            f"NURTUREHUB_TEST_PG: no database name after the {'port' if port else 'host'} (e.g. /test)"
        )
    return value


def pg_dsn(url: str) -> str:
    """``url`` as libpq/psycopg takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@functools.cache
def postgres_missing() -> str | None:
    """Why the PostgreSQL tests can't run here, or None."""
    try:
        url = pg_url()
    except BadTestDatabase as exc:
        return str(exc)
    import psycopg

    where = url.split("@")[-1]
    try:
        with psycopg.connect(pg_dsn(url), connect_timeout=2):
            return None
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL not reachable at {where}: {first}"
    except psycopg.Error as exc:
        return f"NURTUREHUB_TEST_PG ({where}) was refused: {type(exc).__name__}"


@functools.cache
def node_missing() -> str | None:
    """Why the tests that need the Node packages of package-lock.json can't run here, or None."""
    if shutil.which("node") is None:
        return "needs Node.js on PATH"
    wanted = json.loads((ROOT / "package.json").read_text(encoding="utf-8")).get("devDependencies", {})
    absent = [name for name in wanted if not (ROOT / "node_modules" / name / "package.json").exists()]
    if absent:
        return f"needs node_modules (run npm ci): {', '.join(absent)}"
    return None


CHROMIUM = Path("/usr/bin/chromium")


@functools.cache
def browser_missing() -> str | None:
    """Why the browser tests can't run here, or None."""
    if not CHROMIUM.exists():
        return f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright Python package (pip install -e '.[test]')"
    return None


#: Each service marker and what says it is missing.
SERVICES = {"postgres": postgres_missing, "node": node_missing, "browser": browser_missing}


def child_environ() -> dict[str, str]:
    """The environment for a hub process a test starts: this one's, without NURTUREHUB_* settings
    and without libfaketime. Under `faketime` (README: the date check), Python 3.11's timed waits
    break in a preloaded process — `Event.wait(timeout)` never returns, or `time.sleep` fails with
    EINVAL when the monotonic clock is left alone — so child processes run on the real clock; the
    date logic they would exercise is tested in-process, where the moved clock holds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NURTUREHUB_", "FAKETIME"))}
    preload = [p for p in env.get("LD_PRELOAD", "").split(":") if p and "faketime" not in p]
    if preload:
        env["LD_PRELOAD"] = ":".join(preload)
    else:
        env.pop("LD_PRELOAD", None)
    return env

"""Who may use the admin UI: local accounts (argon2 hashes), single sign-on accounts, roles, the
sign-in throttle (web sessions: :mod:`hub.accounts.sessions`; the ``[web]`` section:
:mod:`hub.accounts.web_settings`).

Roles, each including the one below it::

    admin        everything: connections, mappings, channel map, cadence, templates, users
    coordinator  leads (with the patient's details, every view audited), sync errors and their fixes
    viewer       read-only: every page except a lead's details; changes nothing

Sign-in outcomes are values (:class:`SignIn`), not exceptions: a wrong password is an expected
outcome. The throttle (OWASP ASVS 2.2.1) slows guessing with a growing delay, never a lockout: a
failed sign-in is remembered with its account name (known or not) and source address; after
:data:`PAIR_FREE` failures for one name from one address, or :data:`SOURCE_FREE` from one address
for any names, the next try from that address waits :data:`FIRST_DELAY`, doubling with each further
failure up to :data:`MAX_DELAY`, and is answered "throttled" without checking the password. Nothing
is counted per account alone, so a stranger guessing the admin's password slows only themselves;
the admin, from another address, signs in as usual. A success clears its name's failures from that
address. An unknown name costs the same argon2 verification as a known one, so the answer time does
not tell which names exist. The argon2 check runs outside any transaction: on SQLite a write
transaction holds the store's only write lock, and webhooks must not wait for a password hash.


Nothing here logs a password, a token or a hash; user names are logged only as account ids.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import secrets
import string
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.app.instance import write_private
from hub.store import Store, repo
from hub.store.models import SignInFailureRow, UserRow, WebSessionRow
from nurture.errors import Refused

log = logging.getLogger(__name__)

__all__ = [
    "ENV_SECRET_KEY",
    "FIRST_DELAY",
    "HASH_WAITERS",
    "MAX_DELAY",
    "PAIR_FREE",
    "SOURCE_FREE",
    "AccountError",
    "Role",
    "SignIn",
    "User",
    "add_user",
    "authenticate",
    "demo_admin",
    "ensure_user",
    "get_user",
    "hash_password",
    "instance_secret_key",
    "list_users",
    "normalize_username",
    "recent_failures",
    "set_active",
    "set_password",
    "set_role",
    "sso_sign_in",
    "throttle_delay",
]

#: The environment variable holding the key that signs the web app's cookies.
ENV_SECRET_KEY = "NURTUREHUB_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret
#: Failures for one account name from one address before the delays start.
PAIR_FREE = 5
#: Failures from one address, for any account names, before the delays start.
SOURCE_FREE = 20
#: The first delay; each further failure doubles it, up to MAX_DELAY.
FIRST_DELAY = timedelta(seconds=2)
MAX_DELAY = timedelta(minutes=15)
#: Failures older than this are forgotten.
THROTTLE_WINDOW = timedelta(hours=1)
#: Failures for one account name (from every address) that are worth a warning in the log.
_ALERT_FAILURES = 100
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_USERNAME_CHARS = set(string.ascii_lowercase + string.digits + "._@+-")

_hasher = PasswordHasher()
_dummy_hash: str | None = None


class Role(StrEnum):
    """What a user may do (each role includes the ones below it)."""

    VIEWER = "viewer"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def includes(self, other: Role) -> bool:
        """True when this role may do everything ``other`` may."""
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.COORDINATOR: 1, Role.ADMIN: 2}


class AccountError(Refused, ValueError):
    """An account change was refused. ``field`` names the input at fault (username, password, role)."""

    field: str

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", code="invalid_account", field=field)
        self.message = message


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """An account as the web app sees it (never its hash).

    Attributes:
        id: the account id (what logs and the audit trail name).
        username: the sign-in name, lower case.
        display_name: what the UI shows.
        role: what the account may do.
        active: may sign in.
        sso: made by single sign-on (no local password).
        last_sign_in_at: when it last signed in.
    """

    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    sso: bool = False
    last_sign_in_at: datetime | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names this user."""
        return f"user:{self.id}:{self.username}"

    def can(self, role: Role) -> bool:
        return self.active and self.role.includes(role)


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name or row.username,
        role=Role(row.role),
        active=row.active,
        sso=row.sso_subject is not None,
        last_sign_in_at=row.last_sign_in_at,
    )


# --- accounts -------------------------------------------------------------------------------------


def normalize_username(username: str) -> str:
    return username.strip().lower()


def _check_username(username: str) -> str:
    name = normalize_username(username)
    if not 3 <= len(name) <= 120:
        raise AccountError("username", "must be 3 to 120 characters")
    if not set(name) <= _USERNAME_CHARS:
        raise AccountError("username", "may use letters, digits and . _ @ + - only")
    return name


def _check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError("password", f"must be at most {MAX_PASSWORD} characters")
    if password.strip().lower() == username:
        raise AccountError("password", "must not be the user name")


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError("role", f"must be one of {', '.join(r.value for r in Role)}") from None


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (argon2-cffi's RFC 9106 low-memory parameters)."""
    return _hasher.hash(password)


def add_user(
    store: Store,
    *,
    username: str,
    password: str,
    role: Role | str,
    now: datetime,
    actor: str = "cli",
    display_name: str = "",
) -> User:
    """Create a local account (the CLI's ``nurturehub users add`` and the admin UI's users page).

    Raises:
        AccountError: the name is taken or malformed, the password too short, the role unknown.
    """
    name = _check_username(username)
    _check_password(password, name)
    the_role = _role(role)
    digest = hash_password(password)
    with store.tx() as session:
        if session.scalar(select(UserRow.id).where(UserRow.username == name)) is not None:
            raise AccountError("username", "an account with this name exists")
        row = UserRow(
            username=name,
            display_name=display_name.strip()[:200],
            password_hash=digest,
            role=the_role.value,
            active=True,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        repo.audit(
            session,
            actor=actor,
            action="user.add",
            subject_type="user",
            subject_id=str(row.id),
            now=now,
            detail={"role": the_role.value},
        )
        user = _user(row)
    log.info("account %d added with role %s", user.id, user.role)
    return user


def ensure_user(
    store: Store, *, username: str, password: str, role: Role | str, now: datetime, actor: str = "cli"
) -> tuple[User, bool]:
    """The account called ``username``, created when missing. Returns it and whether it was made."""
    existing = get_user(store, username=username)
    if existing is not None:
        return existing, False
    return add_user(store, username=username, password=password, role=role, now=now, actor=actor), True


def demo_admin(store: Store, instance: Path, *, now: datetime) -> tuple[str, str]:
    """The demo's admin account: ``admin`` with a random password kept in ``<instance>/admin-password``
    (mode 0600), made on first use. Returns the user name and password to print in the banner."""
    path = instance / "admin-password"
    if path.exists():
        password = path.read_text(encoding="utf-8").strip()
    else:
        instance.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(12)
        write_private(path, password + "\n")
    ensure_user(store, username="admin", password=password, role=Role.ADMIN, now=now, actor="demo")
    return "admin", password


def instance_secret_key(instance: Path) -> str:
    """The demo's cookie-signing key, kept in ``<instance>/secret.key`` (mode 0600) and made on first
    use. Production sets ``NURTUREHUB_SECRET_KEY`` instead (the same value on every web replica)."""
    path = instance / "secret.key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        write_private(path, key + "\n", atomic=True, encoding="ascii")  # a reader sees no file or the whole key
    except FileExistsError:  # another process or thread made it first: use theirs
        key = path.read_text(encoding="ascii").strip()
    return key


def get_user(store: Store, *, user_id: int | None = None, username: str | None = None) -> User | None:
    with store.tx() as session:
        row = _row(session, user_id=user_id, username=username)
        return _user(row) if row is not None else None


def _row(session: Session, *, user_id: int | None = None, username: str | None = None) -> UserRow | None:
    if user_id is not None:
        return session.get(UserRow, user_id)
    if username is not None:
        return session.scalars(select(UserRow).where(UserRow.username == normalize_username(username))).one_or_none()
    return None


def list_users(store: Store) -> list[User]:
    with store.tx() as session:
        return [_user(r) for r in session.scalars(select(UserRow).order_by(UserRow.username))]


def _active_admins(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(UserRow).where(UserRow.role == Role.ADMIN.value, UserRow.active)
        )
        or 0
    )


def set_role(store: Store, user_id: int, role: Role | str, *, now: datetime, actor: str) -> User:
    """Change an account's role. The last active admin keeps the admin role."""
    the_role = _role(role)
    with store.tx() as session:
        row = _existing(session, user_id)
        if row.role == Role.ADMIN.value and the_role is not Role.ADMIN and row.active and _active_admins(session) <= 1:
            raise AccountError("role", "this is the last active admin; make another admin first")
        before = row.role
        row.role, row.updated_at = the_role.value, now
        repo.audit(
            session,
            actor=actor,
            action="user.role",
            subject_type="user",
            subject_id=str(user_id),
            now=now,
            detail={"from": before, "to": the_role.value},
        )
        return _user(row)


def set_active(store: Store, user_id: int, active: bool, *, now: datetime, actor: str) -> User:
    """Activate or deactivate an account; deactivating ends its sessions. The last admin stays."""
    with store.tx() as session:
        row = _existing(session, user_id)
        if not active and row.active and row.role == Role.ADMIN.value and _active_admins(session) <= 1:
            raise AccountError("active", "this is the last active admin; make another admin first")
        row.active, row.updated_at = active, now
        if not active:
            session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id))
        repo.audit(
            session,
            actor=actor,
            action="user.activate" if active else "user.deactivate",
            subject_type="user",
            subject_id=str(user_id),
            now=now,
        )
        return _user(row)


def set_password(
    store: Store, user_id: int, password: str, *, now: datetime, actor: str, keep_session: str | None = None
) -> User:
    """Set a new password; the account's sessions end, except ``keep_session`` (the token of the
    browser making the change, when people change their own password)."""
    with store.tx() as session:
        row = _existing(session, user_id)
        _check_password(password, row.username)
        row.password_hash, row.updated_at = hash_password(password), now
        ending = delete(WebSessionRow).where(WebSessionRow.user_id == user_id)
        if keep_session is not None:
            ending = ending.where(WebSessionRow.id != token_digest(keep_session))
        session.execute(ending)
        repo.audit(session, actor=actor, action="user.password", subject_type="user", subject_id=str(user_id), now=now)
        return _user(row)


def token_digest(token: str) -> str:
    """What the store keeps of a session token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _existing(session: Session, user_id: int) -> UserRow:
    row = session.get(UserRow, user_id)
    if row is None:
        raise AccountError("user", f"there is no account {user_id}")
    return row


# --- signing in -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SignIn:
    """The outcome of a sign-in.

    Attributes:
        user: the account, when it succeeded.
        refused: why not: ``credentials`` (wrong name or password; which, is not said),
            ``throttled`` (too many recent failures from this address: try again later),
            ``busy`` (this process is already checking :data:`HASH_WAITERS` passwords: try again in
            a second; not counted as a failure) or ``inactive``.
        retry_after: when throttled or busy, the seconds to wait before the next try is checked.
    """

    user: User | None = None
    refused: Literal["credentials", "throttled", "busy", "inactive"] | None = None
    retry_after: int = 0

    @property
    def ok(self) -> bool:
        return self.user is not None


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def recent_failures(session: Session, username: str, *, now: datetime) -> int:
    """Failures for ``username`` from every address in the throttle's window (for alerts)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(SignInFailureRow)
            .where(SignInFailureRow.username == username, SignInFailureRow.at > now - THROTTLE_WINDOW)
        )
        or 0
    )


def throttle_delay(failures: int, free: int) -> timedelta:
    """How long after the latest of ``failures`` the next try must wait, with ``free`` allowed."""
    if failures < free:
        return timedelta(0)
    delay: timedelta = FIRST_DELAY * (2 ** min(failures - free, 20))
    return min(delay, MAX_DELAY)


def _waits(session: Session, name: str, source: str, *, now: datetime) -> tuple[timedelta, timedelta]:
    """How long this name from this address, and this address for any name, must still wait."""
    since = now - THROTTLE_WINDOW
    waits = []
    for condition, free in (
        ((SignInFailureRow.username == name) & (SignInFailureRow.source == source), PAIR_FREE),
        (SignInFailureRow.source == source, SOURCE_FREE),
    ):
        count, latest = session.execute(
            select(func.count(), func.max(SignInFailureRow.at)).where(condition, SignInFailureRow.at > since)
        ).one()
        wait = timedelta(0)
        if count and latest is not None:
            latest = latest if latest.tzinfo is not None else latest.replace(tzinfo=now.tzinfo)
            wait = latest + throttle_delay(int(count), free) - now
        waits.append(max(wait, timedelta(0)))
    return waits[0], waits[1]


class _Throttled:
    """Which (name, address) pairs and addresses (name ``None``) this process already knows to be
    throttled, and until when: a flood of guesses from a throttled address is answered without
    reading the store, and logged once per address and delay, not once per request. Only the store
    sets a delay; this remembers what it said until the delay ends, and forgets the oldest beyond
    :data:`_MEMO_LIMIT` entries."""

    def __init__(self) -> None:
        self._until: dict[tuple[str | None, str], datetime] = {}
        self._lock = threading.Lock()

    def wait(self, name: str, source: str, *, now: datetime) -> timedelta:
        with self._lock:
            until = max((self._until.get(key, now) for key in ((name, source), (None, source))), default=now)
        return max(until - now, timedelta(0))

    def remember(self, name: str | None, source: str, until: datetime, *, now: datetime) -> bool:
        """Remember a delay; False if it was known already (so the caller logs a new one only)."""
        with self._lock:
            if self._until.get((name, source)) == until:
                return False
            if len(self._until) >= _MEMO_LIMIT:
                for key in [k for k, v in self._until.items() if v <= now] or list(self._until)[: _MEMO_LIMIT // 10]:
                    del self._until[key]
            self._until[(name, source)] = until
            return True


_MEMO_LIMIT = 10_000
_memos: weakref.WeakKeyDictionary[Store, _Throttled] = weakref.WeakKeyDictionary()
_memos_lock = threading.Lock()


def _memo(store: Store) -> _Throttled:
    with _memos_lock:
        memo = _memos.get(store)
        if memo is None:
            memo = _memos[store] = _Throttled()
        return memo


def _throttled(wait: timedelta) -> SignIn:
    return SignIn(refused="throttled", retry_after=max(1, math.ceil(wait.total_seconds())))


def authenticate(store: Store, username: str, password: str, *, now: datetime, source: str = "") -> SignIn:
    """Check a local account's password, with the throttle described in the module docstring.

    Args:
        username: as typed (normalised here).
        password: as typed.
        now: the current time.
        source: the client's address (the throttle counts per name and address, and per address).
    """
    name = normalize_username(username)[:120]
    address = source[:64]
    memo = _memo(store)
    known = memo.wait(name, address, now=now)
    if known > timedelta(0):  # already throttled: no store read, no log line
        return _throttled(known)
    with store.read() as session:  # no write lock is held while the password is hashed
        pair_wait, source_wait = _waits(session, name, address, now=now)
        row = _row(session, username=name) if name else None
        account = _user(row) if row is not None else None
        digest = row.password_hash if row is not None and row.password_hash else None
    if pair_wait > timedelta(0) or source_wait > timedelta(0):
        fresh = False
        for key, wait in ((name, pair_wait), (None, source_wait)):
            if wait > timedelta(0):
                fresh |= memo.remember(key, address, now + wait, now=now)
        if fresh:
            log.warning("sign-in refused: too many recent failures from one address")
        return _throttled(max(pair_wait, source_wait))
    ok = _verify(digest or _dummy(), password)  # no transaction open: no lock held while hashing
    if ok is None:
        return SignIn(refused="busy", retry_after=1)
    if not ok or account is None or digest is None:
        with store.tx() as session:
            session.execute(delete(SignInFailureRow).where(SignInFailureRow.at <= now - THROTTLE_WINDOW))
            session.add(SignInFailureRow(username=name, source=address, at=now))
            total = recent_failures(session, name, now=now)
        log.info("sign-in failed%s", f" for account {account.id}" if account is not None else "")
        if total and total % _ALERT_FAILURES == 0:
            log.warning("%d failed sign-ins for one account name in the last hour, from any address", total)
        return SignIn(refused="credentials")
    if not account.active:
        return SignIn(refused="inactive")
    rehashed = hash_password(password) if _hasher.check_needs_rehash(digest) else None
    with store.tx() as session:
        row = session.get(UserRow, account.id)
        if row is None:  # deleted meanwhile
            return SignIn(refused="credentials")
        if rehashed is not None and row.password_hash == digest:
            row.password_hash = rehashed
        row.last_sign_in_at = now
        session.execute(
            delete(SignInFailureRow).where(SignInFailureRow.username == name, SignInFailureRow.source == address)
        )
        return SignIn(user=_user(row))


def _verify(digest: str, password: str) -> bool | None:
    """argon2 verification, on this process's one low-priority hashing thread; None when
    :data:`HASH_WAITERS` sign-ins of this process already wait for it.

    A guessed password costs the server tens of milliseconds of both cores; the webhooks answered
    meanwhile must not wait for it. So the hash runs at the lowest CPU priority (``nice`` 19, which
    argon2's own lane threads inherit) and one at a time per process, while the request thread waits
    without holding the GIL or any store lock. A waiting request still holds one of its web worker's
    threads: were every thread waiting for a hash, the webhooks reaching that worker would queue
    behind the guesses. So at most :data:`HASH_WAITERS` requests per process wait; a further one is
    answered "busy" at once, without a hash.
    """
    waiters = _hash_waiters()
    if not waiters.acquire(blocking=False):
        return None
    try:
        return _hashing_thread().submit(_check, digest, password).result()
    finally:
        waiters.release()


def _check(digest: str, password: str) -> bool:
    try:
        return _hasher.verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


#: Sign-ins one process lets wait for a password hash at once (gunicorn's threaded workers have 4
#: threads each: two stay free for webhooks whatever the sign-in traffic).
HASH_WAITERS = 2
#: This process's hashing thread and waiting places: (pid, pool, places), made again after a fork.
_hashing: tuple[int, ThreadPoolExecutor, threading.BoundedSemaphore] | None = None
_hashing_lock = threading.Lock()


def _per_process() -> tuple[ThreadPoolExecutor, threading.BoundedSemaphore]:
    global _hashing
    with _hashing_lock:
        if _hashing is None or _hashing[0] != os.getpid():  # made after a fork (gunicorn workers)
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2", initializer=_lowest_priority)
            _hashing = (os.getpid(), pool, threading.BoundedSemaphore(HASH_WAITERS))
        return _hashing[1], _hashing[2]


def _hashing_thread() -> ThreadPoolExecutor:
    return _per_process()[0]


def _hash_waiters() -> threading.BoundedSemaphore:
    return _per_process()[1]


def _lowest_priority() -> None:
    # This thread only, on Linux; elsewhere the hash runs at the usual priority.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def sso_sign_in(store: Store, *, subject: str, username: str, display_name: str, role: Role, now: datetime) -> SignIn:
    """Sign in an account vouched for by the identity provider, making it on first use.

    The provider's role claim decides the role at every sign-in. An account made locally with the same
    name is not taken over: the sign-in is refused.
    """
    name = normalize_username(username)[:120]
    with store.tx() as session:
        row = session.scalars(select(UserRow).where(UserRow.sso_subject == subject)).one_or_none()
        if row is None:
            if not name or _row(session, username=name) is not None:
                log.warning("single sign-on refused: the name is missing or used by a local account")
                return SignIn(refused="credentials")
            row = UserRow(
                username=name,
                display_name=display_name.strip()[:200],
                password_hash=None,
                role=role.value,
                active=True,
                sso_subject=subject[:400],
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            repo.audit(
                session,
                actor="sso",
                action="user.add",
                subject_type="user",
                subject_id=str(row.id),
                now=now,
                detail={"role": role.value, "sso": True},
            )
        if not row.active:
            return SignIn(refused="inactive")
        if row.role != role.value:
            repo.audit(
                session,
                actor="sso",
                action="user.role",
                subject_type="user",
                subject_id=str(row.id),
                now=now,
                detail={"from": row.role, "to": role.value},
            )
            row.role = role.value
        row.last_sign_in_at, row.updated_at = now, now
        return SignIn(user=_user(row))

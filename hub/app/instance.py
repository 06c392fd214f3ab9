"""The instance folder holds patient data and keys — the SQLite database and its ``-wal``/``-shm``
files (leads are plain columns by design), the data key, the cookie key, the demo's secrets and admin
password, the sandboxes' TLS keys and state, demo events — so only the account running the hub may
read it: the folder and every folder in it 0700, every file 0600, whatever the umask.

Every process of the hub calls :func:`make_private` when it starts: it sets the process umask to
0077 (so what SQLite, the sandboxes and the demo create later is private too) and repairs what
exists, saying in the log when it found something readable by others. ``check-config`` reports the
same without changing anything (:func:`exposed`). What the hub writes there itself — keys, the demo's
secrets and records, backups — is created 0600 from the start by :func:`write_private`.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "exposed", "make_private", "write_private"]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def exposed(instance: Path) -> list[Path]:
    """The instance folder and what is in it that the group or other accounts may read, write or
    enter (empty when it does not exist)."""
    if not instance.exists():
        return []
    found = []
    for path in (instance, *sorted(instance.rglob("*"))):
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:  # removed while we looked (SQLite's -shm, a draft key)
            continue
        if stat.S_ISLNK(mode):
            continue
        if mode & _OTHERS:
            found.append(path)
    return found


def make_private(instance: Path, *, create: bool = False) -> list[Path]:
    """Set the umask to 0077 and make ``instance`` and everything in it private.

    Args:
        instance: the instance folder.
        create: make the folder (0700) when it does not exist.

    Returns:
        What was readable by others before (also logged as a warning, with the count only).
    """
    os.umask(0o077)
    if create:
        instance.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    found = exposed(instance)
    for path in found:
        try:
            path.chmod(PRIVATE_DIR if path.is_dir() else PRIVATE_FILE)
        except FileNotFoundError:
            continue
    if found:
        log.warning(
            "the instance folder %s had %d file(s) or folder(s) readable by other accounts; made them private "
            "(folders 0700, files 0600)",
            instance.resolve(),
            len(found),
        )
    return found


def write_private(
    path: Path, data: bytes | str, *, exclusive: bool = True, atomic: bool = False, encoding: str = "utf-8"
) -> None:
    """Write ``data`` to a file only its owner may read and write (0600) from the moment it exists,
    whatever the umask.

    Args:
        path: the file.
        data: its content (text is encoded with ``encoding``).
        exclusive: refuse to touch a file that exists (:class:`FileExistsError`); False replaces it.
        atomic: write a hidden draft beside ``path`` first and put it in place whole, so a reader
            sees no file (or the previous one) or the whole new content, never part of it: by a
            hard link when ``exclusive`` (the first writer wins, a later one gets
            :class:`FileExistsError`), else by a rename over the old file. The draft never stays.

    Raises:
        FileExistsError: ``exclusive`` and ``path`` exists.
    """
    content = data.encode(encoding) if isinstance(data, str) else data
    if not atomic:
        _write_new(path, content, exclusive=exclusive)
        return
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    _write_new(draft, content, exclusive=True)
    try:
        if exclusive:
            os.link(draft, path)
        else:
            draft.replace(path)
    finally:
        draft.unlink(missing_ok=True)


def _write_new(path: Path, content: bytes, *, exclusive: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        if not exclusive:  # the file may have existed with another mode
            os.fchmod(fh.fileno(), PRIVATE_FILE)
        fh.write(content)

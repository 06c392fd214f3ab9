"""The instance folder holds patient data and keys — the SQLite database and its ``-wal``/``-shm``
files (leads are plain columns by design), the data key, the cookie key, the demo's secrets and admin
password, the sandboxes' TLS keys and state, demo events — so only the account running the hub may
read it: the folder and every folder in it 0700, every file 0600, whatever the umask.

Every process of the hub calls :func:`make_private` when it starts: it sets the process umask to
0077 (so what SQLite, the sandboxes and the demo create later is private too) and repairs what
exists, saying in the log when it found something readable by others. ``check-config`` reports the
same without changing anything (:func:`exposed`).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "exposed", "make_private"]

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

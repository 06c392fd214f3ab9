"""Encryption at rest for what the hub keeps that it need not read often (raw inbound payloads,
OAuth tokens): Fernet (AES-128-CBC + HMAC-SHA256) with key rotation.

The key comes from ``NURTUREHUB_DATA_KEY``: one or more Fernet keys separated by commas; the first
encrypts, all decrypt. To rotate, put a new key first, restart, run ``nurturehub rekey`` (which
re-encrypts stored values and recomputes their blind indexes with the first key, see
:mod:`hub.ops.rekey`), then drop the old key. ``nurturehub run`` (the demo) creates one in the
instance folder when the environment has none.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hub.app.instance import write_private
from nurture.errors import ConfigError, FatalError

__all__ = ["ENV_DATA_KEY", "Vault", "demo_data_key"]

if TYPE_CHECKING:
    from cryptography.fernet import Fernet, MultiFernet

# cryptography is imported when a vault is made (not by the command line's parser, which names
# ENV_DATA_KEY in its help).

ENV_DATA_KEY = "NURTUREHUB_DATA_KEY"


def _invalid_token() -> type[Exception]:
    from cryptography.fernet import InvalidToken

    return InvalidToken


class Vault:
    """Encrypts and decrypts bytes with the configured keys."""

    _primary: Fernet
    _fernet: MultiFernet

    def __init__(self, keys: str) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ConfigError([f"{ENV_DATA_KEY}: empty; generate one with `nurturehub keygen`"], source="environment")
        try:
            fernets = [Fernet(k.encode("ascii")) for k in parts]
            # Keys for blind indexes (looking up an encrypted value without decrypting every row),
            # derived from each data key so that a value can be found under any key still held.
            self._index_keys = [hashlib.sha256(b"nurturehub blind index\0" + k.encode("ascii")).digest() for k in parts]
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(
                [f"{ENV_DATA_KEY}: not a Fernet key (32 url-safe base64-encoded bytes)"], source="environment"
            ) from None
        self._primary = fernets[0]
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Vault:
        env = os.environ if environ is None else environ
        value = env.get(ENV_DATA_KEY)
        if not value:
            raise ConfigError(
                [f"{ENV_DATA_KEY}: not set; the hub encrypts raw payloads and tokens with it"],
                source="environment",
            )
        return cls(value)

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def blind_index(self, value: str) -> str:
        """A keyed hash of ``value`` (already normalised) under the first key: equal values give
        equal indexes, and the index says nothing about the value without the key."""
        return self.blind_indexes(value)[0]

    def blind_indexes(self, value: str) -> list[str]:
        """The blind index of ``value`` under every key, the first key's first (for look-ups that
        must find rows written before a key rotation)."""
        data = value.encode("utf-8")
        return [hmac.new(key, data, hashlib.sha256).hexdigest() for key in self._index_keys]

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except _invalid_token():
            raise FatalError("stored data cannot be decrypted with the configured keys (was a key removed?)") from None

    def opens_with_first_key(self, token: bytes) -> bool:
        """True when the first (encrypting) key alone decrypts ``token``: no older key is needed for it."""
        try:
            self._primary.decrypt(token)
        except _invalid_token():
            return False
        return True

    def rotate(self, token: bytes) -> bytes:
        """``token`` re-encrypted with the first key (decrypted with whichever configured key opens it).

        Raises:
            FatalError: no configured key opens it.
        """
        try:
            return self._fernet.rotate(token)
        except _invalid_token():
            raise FatalError("stored data cannot be decrypted with the configured keys (was a key removed?)") from None


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def demo_data_key(instance: Path) -> str:
    """The demo's data key, kept in the instance folder (mode 0600) and created on first use."""
    path = instance / "data.key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = new_key()
    write_private(path, key + "\n", encoding="ascii")
    return key

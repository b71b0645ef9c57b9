"""Virtual keys: made from 256 random bits, shown once, kept only as a keyed hash.

A key reads `ck-` followed by 43 URL-safe characters. The store keeps its HMAC-SHA256 under
the gateway's key-hashing secret and its first characters (the prefix), so a leaked
database reveals no usable key, and logs and the console can still tell keys apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["KEY_MARK", "IssuedKey", "hash_key", "issue_key", "new_id", "prefix_of"]

KEY_MARK = "ck-"
_RANDOM_BYTES = 32
_PREFIX_CHARACTERS = 10
"""`ck-` and 7 random characters: enough to tell keys apart, far too few to guess one."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: `secret` is shown to its owner once and never stored."""

    secret: str
    key_hash: str
    prefix: str


def issue_key(hashing_secret: bytes) -> IssuedKey:
    secret = KEY_MARK + secrets.token_urlsafe(_RANDOM_BYTES)
    return IssuedKey(secret, hash_key(hashing_secret, secret), prefix_of(secret))


def hash_key(hashing_secret: bytes, key: str) -> str:
    """The keyed hash a key is stored and looked up by. Lookup is by this digest, so no
    comparison ever runs over the key itself."""
    return hmac.new(hashing_secret, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def prefix_of(key: str) -> str:
    return key[:_PREFIX_CHARACTERS]


def new_id(kind: str) -> str:
    """A stable public id: `key_3f9a…`, `team_…` (64 random bits, never a secret)."""
    return f"{kind}_{secrets.token_hex(8)}"

"""User ids never reach the logs in clear: a short keyed hash still lets one follow a user's
requests through one process's log lines without revealing who they are."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["hash_user_id"]

_KEY = secrets.token_bytes(16)  # per process: log hashes cannot be joined with other data


def hash_user_id(user_id: str | None) -> str:
    if user_id is None:
        return "-"
    return hashlib.blake2b(user_id.encode(), key=_KEY, digest_size=6).hexdigest()

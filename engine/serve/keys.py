"""API keys for `koncept serve`: a YAML file of hashed keys, each allowed some rulesets.

    keys:
      - id: hubspot-webhook          # names the caller in the decision log and metrics
        sha256: 3f1c...              # hash of the key; the key itself is never stored
        rulesets: [contech-saas]     # or ["*"] for every ruleset

A key is a random token (`koncept serve --new-key ID` makes one and adds its hash to the
file), so one SHA-256 is enough: there is nothing to guess from the hash. A caller sends it as
`Authorization: Bearer <key>` or `X-API-Key: <key>`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.files import atomic_file

__all__ = ["ALL", "ApiKey", "KeyFileError", "KeyRing", "add_key", "hash_key", "load_keys"]

#: The ruleset list that allows every ruleset.
ALL = "*"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HEX = re.compile(r"[0-9a-f]{64}")


class KeyFileError(ValueError):
    """A key file that cannot be used, with the place and the reason."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One caller: its id, the hash of its key, and the rulesets it may use."""

    id: str
    sha256: str
    rulesets: frozenset[str]

    def allows(self, ruleset_id: str) -> bool:
        """Whether this key may use the ruleset."""
        return ALL in self.rulesets or ruleset_id in self.rulesets

    @property
    def allows_all(self) -> bool:
        """Whether this key may use every ruleset (and so may learn which exist)."""
        return ALL in self.rulesets


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The keys of a key file, found by the hash of what a caller sends."""

    by_hash: Mapping[str, ApiKey]

    def find(self, secret: str) -> ApiKey | None:
        """The key a caller sent, or None; compared in constant time."""
        digest = hash_key(secret)
        for known, key in self.by_hash.items():
            if hmac.compare_digest(known, digest):
                return key
        return None


def hash_key(secret: str) -> str:
    """The SHA-256 of a key, as stored in the key file."""
    return hashlib.sha256(secret.encode()).hexdigest()


def load_keys(path: Path) -> KeyRing:
    """Read a key file; raises KeyFileError naming the file and the entry at fault."""
    return _ring(path, _entries(_read(path), path))


def add_key(path: Path, key_id: str, rulesets: Sequence[str]) -> str:
    """Make a new random key, add its hash to the key file (created if absent), return the key
    (shown once: only its hash is kept)."""
    raw = _read(path) if path.exists() else {"keys": []}
    entries = _entries(raw, path)
    if any(key.id == key_id for key in _ring(path, entries).by_hash.values()):
        raise KeyFileError(f"{path}: a key named {key_id!r} already exists")
    secret = "kr_" + secrets.token_urlsafe(32)
    entries.append({"id": key_id, "sha256": hash_key(secret), "rulesets": list(rulesets)})
    _ring(path, entries)  # the new entry is checked as the file's others are
    text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    with atomic_file(path, mode=0o600) as stream:  # readable by its owner only
        stream.write(text)
    return secret


def _entries(raw: dict[str, Any], path: Path) -> list[Any]:
    entries = raw.setdefault("keys", [])
    if not isinstance(entries, list):
        raise KeyFileError(f"{path}: expected `keys:` followed by a list of keys")
    return entries


def _ring(path: Path, entries: list[Any]) -> KeyRing:
    """The keys of a file's entries, each checked; an id or a key used twice is refused."""
    keys: dict[str, ApiKey] = {}
    ids: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        key = _entry(path, number, entry)
        if key.id in ids:
            raise KeyFileError(f"{path}: key {number}: id {key.id!r} is used twice")
        if key.sha256 in keys:
            raise KeyFileError(f"{path}: key {number}: the same key as {keys[key.sha256].id!r}")
        ids.add(key.id)
        keys[key.sha256] = key
    return KeyRing(keys)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise KeyFileError(f"{path}: {error.strerror or error}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise KeyFileError(f"{where}: not valid YAML") from None
    if raw is None:
        return {"keys": []}
    if not isinstance(raw, dict):
        raise KeyFileError(f"{path}: expected `keys:` followed by a list of keys")
    return raw


def _entry(path: Path, number: int, entry: object) -> ApiKey:
    where = f"{path}: key {number}"
    if not isinstance(entry, dict):
        raise KeyFileError(f"{where}: expected id, sha256 and rulesets")
    unknown = sorted(set(map(str, entry)) - {"id", "sha256", "rulesets"})
    if unknown:
        raise KeyFileError(f"{where}: unknown field {unknown[0]!r} (expected id, sha256, rulesets)")
    key_id, digest, rulesets = entry.get("id"), entry.get("sha256"), entry.get("rulesets")
    if not isinstance(key_id, str) or not _ID.fullmatch(key_id):
        raise KeyFileError(f"{where}: id must be a name of letters, digits, `-`, `_` or `.`")
    if not isinstance(digest, str) or not _HEX.fullmatch(digest):
        raise KeyFileError(
            f"{where} ({key_id}): sha256 must be 64 lowercase hex digits, the hash of the key "
            "(`koncept serve --new-key` writes it)"
        )
    if (
        not isinstance(rulesets, list)
        or not rulesets
        or not all(isinstance(r, str) and r for r in rulesets)
    ):
        raise KeyFileError(f'{where} ({key_id}): rulesets must be a list of ruleset ids, or ["*"]')
    return ApiKey(key_id, digest, frozenset(rulesets))

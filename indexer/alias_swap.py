"""Versioned indices behind an alias: verify, swap atomically, roll back, prune, clean orphans.

Each load writes a fresh index ``<alias>-<UTC timestamp>`` whose ``_meta.divrank.complete`` is
``false`` until the load is verified (document count = accepted rows, a sample k-NN query
answers). Only then one ``_aliases`` request moves the alias, so searches never see a
half-written index. A run killed mid-bulk leaves an index still marked incomplete; the next run
recognises it as an orphan (incomplete, not serving, its writer process gone) and deletes it.
Works with an OpenSearch or an Elasticsearch client (differences: :mod:`indexer.engine_dialect`).
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from indexer.engine_dialect import SearchClient, dialect_of

__all__ = [
    "AliasError",
    "Version",
    "cleanup_orphans",
    "create_version",
    "index_meta",
    "list_versions",
    "mark_complete",
    "prune",
    "rollback",
    "serving_index",
    "swap",
    "verify",
    "version_name",
]

_STAMP = r"\d{8}-\d{6}-\d{6}"
ORPHAN_GRACE_S = 3600.0  # an incomplete index from another host counts as orphan after this


class AliasError(RuntimeError):
    """The alias cannot be moved (verification failed, nothing to roll back to, ...)."""


@dataclass(frozen=True)
class Version:
    name: str
    meta: dict[str, Any]
    serving: bool

    @property
    def complete(self) -> bool:
        return bool(self.meta.get("complete"))

    @property
    def created_at(self) -> str:
        return str(self.meta.get("created_at", ""))


def version_name(alias: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S-%f")
    return f"{alias}-{stamp}"


def _writer() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def create_version(client: SearchClient, alias: str, body: dict[str, Any]) -> str:
    """Create a new, incomplete version of ``alias`` from an index ``body`` (see mapping)."""
    if alias != alias.lower() or not alias or alias.startswith(("-", "_", "+")):
        raise AliasError(f"alias {alias!r}: use lower case, not starting with -, _ or +")
    if client.indices.exists(index=alias) and not client.indices.exists_alias(name=alias):
        raise AliasError(f"{alias!r} is a concrete index, not an alias; pick another --alias")
    name = version_name(alias)
    inherited = _inherited_settings(client, alias)
    if inherited:
        body = {**body, "settings": {**body.get("settings", {}), **inherited}}
    meta = body["mappings"]["_meta"]["divrank"]
    meta.update(
        {
            "alias": alias,
            "complete": False,
            "created_at": datetime.now(UTC).isoformat(),
            "writer": _writer(),
        }
    )
    client.indices.create(index=name, body=body)
    return name


# Per-index settings an operator set on the serving version that a new version must keep:
# without this, a reindex would silently drop the divrank default search pipeline.
INHERITED_SETTINGS = ("index.search.default_pipeline",)


def _inherited_settings(client: SearchClient, alias: str) -> dict[str, Any]:
    serving = serving_index(client, alias)
    if serving is None:
        return {}
    flat = client.indices.get_settings(index=serving, flat_settings=True)[serving]["settings"]
    return {key: flat[key] for key in INHERITED_SETTINGS if key in flat}


def list_versions(client: SearchClient, alias: str) -> list[Version]:
    """All ``<alias>-<stamp>`` indices, oldest first."""
    pattern = re.compile(rf"^{re.escape(alias)}-{_STAMP}$")
    try:
        mappings = client.indices.get_mapping(index=f"{alias}-*")
    except dialect_of(client).not_found:
        return []
    serving = set(_holders(client, alias))
    versions = []
    for name in sorted(mappings):
        if not pattern.match(name):
            continue
        meta = _divrank_meta(mappings[name].get("mappings", {}))
        versions.append(Version(name=name, meta=meta, serving=name in serving))
    return versions


def _divrank_meta(mappings: dict[str, Any]) -> dict[str, Any]:
    """``_meta.divrank`` of one index's ``mappings`` (a copy; empty when it has none)."""
    return dict((mappings.get("_meta") or {}).get("divrank") or {})


def index_meta(client: SearchClient, index: str) -> dict[str, Any]:
    """What divrank wrote into ``index``'s ``_meta`` (alias, source, complete flag, writer)."""
    return _divrank_meta(client.indices.get_mapping(index=index)[index]["mappings"])


def _holders(client: SearchClient, alias: str) -> list[str]:
    try:
        return sorted(client.indices.get_alias(name=alias))
    except dialect_of(client).not_found:
        return []


def serving_index(client: SearchClient, alias: str) -> str | None:
    holders = _holders(client, alias)
    return holders[0] if holders else None


def verify(
    client: SearchClient,
    index: str,
    expected: int,
    vector_field: str | None,
    sample_vector: list[float] | None,
) -> None:
    """Refresh, then check the count and (with a sample vector) that k-NN answers."""
    client.indices.put_settings(index=index, body={"index": {"refresh_interval": "1s"}})
    client.indices.refresh(index=index)
    count = int(client.count(index=index)["count"])
    if count != expected:
        raise AliasError(f"{index} holds {count} documents, expected {expected}; alias not moved")
    if vector_field and sample_vector is not None and expected:
        body = dialect_of(client).knn_probe(vector_field, sample_vector, 1)
        hits = client.search(index=index, body=body)["hits"]["hits"]
        if not hits:
            raise AliasError(f"{index}: a sample k-NN query returned nothing; alias not moved")


def mark_complete(client: SearchClient, index: str, extra: dict[str, Any] | None = None) -> None:
    """Flag a verified version as complete (``_meta`` is replaced whole, so merge first)."""
    meta = index_meta(client, index)
    meta.update(extra or {})
    meta["complete"] = True
    meta["completed_at"] = datetime.now(UTC).isoformat()
    client.indices.put_mapping(index=index, body={"_meta": {"divrank": meta}})


def swap(client: SearchClient, alias: str, index: str) -> str | None:
    """Point ``alias`` at ``index`` in one atomic ``_aliases`` call; returns the previous index."""
    holders = _holders(client, alias)
    actions: list[dict[str, Any]] = [
        {"remove": {"index": old, "alias": alias}} for old in holders if old != index
    ]
    actions.append({"add": {"index": index, "alias": alias}})
    client.indices.update_aliases(body={"actions": actions})
    previous = [h for h in holders if h != index]
    return previous[0] if previous else None


def rollback(client: SearchClient, alias: str, to: str | None = None) -> tuple[str | None, str]:
    """Serve the newest complete version older than the current one (or ``to``)."""
    versions = list_versions(client, alias)
    current = next((v for v in versions if v.serving), None)
    if to is not None:
        target = next((v for v in versions if v.name == to), None)
        if target is None:
            raise AliasError(f"{to!r} is not a version of {alias!r}")
        if not target.complete:
            raise AliasError(f"{to!r} is incomplete (an interrupted load); refusing to serve it")
    else:
        older = [
            v
            for v in versions
            if v.complete and not v.serving and (current is None or v.name < current.name)
        ]
        if not older:
            raise AliasError(f"no earlier complete version of {alias!r} to roll back to")
        target = older[-1]
    previous = swap(client, alias, target.name)
    return previous, target.name


def prune(client: SearchClient, alias: str, keep: int) -> list[str]:
    """Delete complete versions beyond the newest ``keep`` (the serving one always stays)."""
    if keep < 1:
        raise AliasError("--keep must be at least 1 (the serving version)")
    complete = [v for v in list_versions(client, alias) if v.complete]
    serving = [v for v in complete if v.serving]
    others = [v for v in complete if not v.serving]
    room = max(keep - len(serving), 0)
    survivors = {v.name for v in serving}
    if room:
        survivors |= {v.name for v in others[-room:]}
    doomed = [v.name for v in complete if v.name not in survivors]
    if doomed:
        client.indices.delete(index=",".join(doomed))
    return doomed


def _writer_alive(meta: dict[str, Any]) -> bool:
    writer = meta.get("writer") or {}
    if writer.get("host") == socket.gethostname():
        pid = writer.get("pid")
        if not isinstance(pid, int) or pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    created = meta.get("created_at")
    try:
        age = time.time() - datetime.fromisoformat(str(created)).timestamp()
    except ValueError:
        return False
    return age < ORPHAN_GRACE_S


def cleanup_orphans(client: SearchClient, alias: str) -> list[str]:
    """Delete incomplete, non-serving versions whose writer is gone (an interrupted run)."""
    doomed = [
        v.name
        for v in list_versions(client, alias)
        if not v.complete and not v.serving and not _writer_alive(v.meta)
    ]
    if doomed:
        client.indices.delete(index=",".join(doomed))
    return doomed

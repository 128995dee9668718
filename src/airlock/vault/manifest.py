"""A snapshot's manifest: what it is of, which objects hold it, and how to check them.

The manifest is stored beside the snapshot's objects (`snapshots/<id>/manifest.json`) and is
written last: a snapshot exists exactly when its manifest does. It makes the vault
self-describing — `airlock restore --vault LOCATION` needs nothing else (plus the key). It
carries an HMAC under a key derived from the vault key, so a manifest forged or edited by
someone without the key is refused on restore.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from airlock.model import canonical_json
from airlock.vault.crypto import VaultKey
from airlock.vault.errors import IntegrityError

FORMAT = "airlock-vault-manifest/1"
PREFIX = "snapshots/"


def snapshot_prefix(snapshot_id: str) -> str:
    return f"{PREFIX}{snapshot_id}/"


def manifest_key(snapshot_id: str) -> str:
    return f"{PREFIX}{snapshot_id}/manifest.json"


@dataclass(frozen=True, slots=True)
class ObjectEntry:
    name: str  # within the snapshot: "data", "rows", "post"
    key: str  # in the store
    size: int  # stored bytes
    sha256: str  # of the stored bytes
    content_size: int
    content_sha256: str
    version: str | None = None  # S3 version id

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key, "size": self.size, "sha256": self.sha256,
                "content_size": self.content_size, "content_sha256": self.content_sha256,
                "version": self.version}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ObjectEntry:
        return cls(name=obj["name"], key=obj["key"], size=int(obj["size"]), sha256=obj["sha256"],
                   content_size=int(obj["content_size"]), content_sha256=obj["content_sha256"],
                   version=obj.get("version"))


@dataclass(frozen=True, slots=True)
class Manifest:
    id: str
    kind: str  # postgres-rows | postgres-table | postgres-schema | postgres-database | sqlite | files
    resource: str
    environment: str
    created_at: str
    retain_until: str | None
    key_id: str
    action_id: str | None = None
    objects: tuple[ObjectEntry, ...] = ()
    source: Mapping[str, Any] = field(default_factory=dict)  # what it is of, how to restore it
    stats: Mapping[str, Any] = field(default_factory=dict)  # row counts, content hashes
    summary: str = ""
    mac: str = ""

    @property
    def size(self) -> int:
        return sum(o.size for o in self.objects)

    def entry(self, name: str) -> ObjectEntry:
        for obj in self.objects:
            if obj.name == name:
                return obj
        raise IntegrityError(f"snapshot {self.id} has no object {name!r}")

    def body(self) -> dict[str, Any]:
        return {"format": FORMAT, "id": self.id, "kind": self.kind, "resource": self.resource,
                "environment": self.environment, "created_at": self.created_at,
                "retain_until": self.retain_until, "key_id": self.key_id,
                "action_id": self.action_id, "objects": [o.to_json() for o in self.objects],
                "source": dict(self.source), "stats": dict(self.stats), "summary": self.summary}

    def sealed(self, key: VaultKey) -> Manifest:
        return replace(self, mac=key.mac(canonical_json(self.body()).encode()))

    def to_bytes(self) -> bytes:
        return (json.dumps({**self.body(), "mac": self.mac}, indent=1, sort_keys=True,
                           ensure_ascii=False) + "\n").encode("utf-8")

    def check_mac(self, key: VaultKey) -> None:
        expected = key.mac(canonical_json(self.body()).encode())
        import hmac

        if not hmac.compare_digest(expected, self.mac):
            raise IntegrityError(f"snapshot {self.id}: the manifest's MAC does not match (it was "
                                 "changed, or written with another vault key)")

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "manifest") -> Manifest:
        try:
            obj = json.loads(data)
            if obj.get("format") != FORMAT:
                raise IntegrityError(f"{where}: not an airlock manifest (format "
                                     f"{obj.get('format')!r})")
            return cls(id=obj["id"], kind=obj["kind"], resource=obj["resource"],
                       environment=obj["environment"], created_at=obj["created_at"],
                       retain_until=obj.get("retain_until"), key_id=obj["key_id"],
                       action_id=obj.get("action_id"),
                       objects=tuple(ObjectEntry.from_json(o) for o in obj["objects"]),
                       source=obj.get("source", {}), stats=obj.get("stats", {}),
                       summary=obj.get("summary", ""), mac=obj.get("mac", ""))
        except IntegrityError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IntegrityError(f"{where}: the manifest is unreadable ({exc!r})") from None

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

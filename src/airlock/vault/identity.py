"""The vault's identity: a vault that existed and is gone or damaged stops every snapshot.

An agent with a shell can move the vault folder away or overwrite its objects. A vault that
just creates an empty folder again and carries on would then "protect" the next destructive
action with a backup in a vault that no longer holds any of the earlier ones — and nobody would
know until a restore failed. So:

- on first use the vault gets an identity object (`airlock/identity.json`: a random id, when it
  was made, an HMAC under a key derived from the vault key) and the state records its id;
- before each snapshot (`ensure`) the identity must be there, intact and the one the state
  recorded, and the newest catalogued snapshots of this vault must still be in it: their
  manifests byte for byte (sha256), their objects at their sizes, and the newest snapshot's
  objects by sha256 up to a byte budget (the cost stays bounded however big the vault grows);
- otherwise the snapshot fails with `VaultGone`, so every destructive action is held, until a
  human looks (`airlock vault verify`) and repairs it: puts the vault back, or accepts the vault
  found there with `airlock vault adopt` (recorded in the audit log).

A state that never recorded an identity adopts an unmarked vault silently only when every
snapshot the catalog lists for it is there (an upgrade from before identities, or a first use);
a marked vault it does not know is held as another state's until a human adopts it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from airlock.model import new_id, utcnow
from airlock.store import SnapshotRecord, Store
from airlock.vault.core import Vault
from airlock.vault.errors import IntegrityError, SnapshotError, VaultError
from airlock.vault.manifest import manifest_key, snapshot_prefix

IDENTITY_KEY = "airlock/identity.json"
META_KEY = "vault_identity"
SPOT_CHECK_SNAPSHOTS = 3  # the newest catalogued snapshots whose manifests and sizes are checked
HASH_BUDGET = 32 * 1024 * 1024  # bytes of the newest snapshot's objects read back and hashed
REPAIR = ("a human must repair it: `airlock vault verify` shows what is there; put the vault "
          "back, or accept the vault found there with `airlock vault adopt`")


class VaultGone(SnapshotError):
    """The vault is not the one the state knows, or lost what the catalog says it holds."""

    def __init__(self, location: str, why: str) -> None:
        super().__init__(f"the vault at {location} is gone or damaged: {why}", hint=REPAIR)
        self.why = why


@dataclass(frozen=True, slots=True)
class Identity:
    id: str
    created_at: str
    mac: str = ""

    def body(self) -> bytes:
        return json.dumps({"id": self.id, "created_at": self.created_at},
                          sort_keys=True).encode()

    def to_bytes(self) -> bytes:
        return json.dumps({"id": self.id, "created_at": self.created_at, "mac": self.mac},
                          indent=1, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Identity:
        try:
            obj = json.loads(data)
            return cls(str(obj["id"]), str(obj["created_at"]), str(obj["mac"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"{IDENTITY_KEY} is not an identity ({exc})") from None


def _mac(vault: Vault, identity: Identity) -> str:
    if vault.key is None:
        raise VaultError("the vault's identity cannot be checked without the vault key")
    return vault.key.mac(b"airlock vault identity\0" + identity.body())


def read_identity(vault: Vault) -> Identity | None:
    """The identity stored in the vault, MAC-checked; None when there is none."""
    if not vault.store.exists(IDENTITY_KEY):
        return None
    with vault.store.open(IDENTITY_KEY) as f:
        identity = Identity.from_bytes(f.read(4096))
    if not hmac.compare_digest(_mac(vault, identity), identity.mac):
        raise IntegrityError(f"{IDENTITY_KEY} does not carry this vault key's MAC: it was "
                             "written by someone else, or with another key")
    return identity


def write_identity(vault: Vault, *, now: datetime | None = None) -> Identity:
    """A new identity, written to the vault (never over an existing one)."""
    identity = Identity(new_id("vault"), (now or utcnow()).isoformat())
    identity = Identity(identity.id, identity.created_at, _mac(vault, identity))
    writer = vault.store.writer(IDENTITY_KEY, retain_until=None)
    try:
        writer.write(identity.to_bytes())
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return identity


def recorded_identity(store: Store) -> str | None:
    """The identity id the state recorded for its vault."""
    value = store.get_meta(META_KEY)
    if value is None:
        return None
    try:
        return str(json.loads(value)["id"])
    except (ValueError, KeyError, TypeError):
        return value


def record(store: Store, vault: Vault, identity: Identity, *, expected: str | None) -> bool:
    return store.put_meta(META_KEY, json.dumps({"id": identity.id, "location": vault.location,
                                                "created_at": identity.created_at}),
                          expected=expected)


def ensure(vault: Vault, store: Store, *,
           sleep: Callable[[float], None] = time.sleep) -> Identity:
    """Before a snapshot: this is the vault the state knows, and it still holds what the
    catalog says. Raises VaultGone otherwise; on first use, gives the vault its identity."""
    location = vault.location
    try:
        expected = recorded_identity(store)
        if expected is None:
            if (found := _read(vault, location)) is not None:
                raise _another_state(location, found)
            identity = _first_use(vault, store, location)
        else:
            identity = _the_expected(vault, location, expected, sleep)
        spot_check(vault, store)
    except VaultGone:
        raise
    except VaultError as exc:
        raise VaultGone(location, f"it cannot be checked: {exc.message}") from None
    except OSError as exc:
        raise VaultGone(location, f"it cannot be checked: {exc}") from None
    return identity


def problem(vault: Vault, store: Store, *, spot: bool = True) -> str:
    """What `ensure` would refuse, without marking anything ('' when nothing): for `airlock
    vault verify` and before anchoring the audit log (`spot=False`: the identity alone). A vault
    not marked yet is no problem (its first snapshot marks it)."""
    location = vault.location
    try:
        expected = recorded_identity(store)
        if expected is None:
            found = _read(vault, location)
            if found is not None:
                raise _another_state(location, found)
            return ""
        _the_expected(vault, location, expected, lambda _seconds: None)
        if spot:
            spot_check(vault, store)
    except VaultGone as exc:
        return exc.why
    except VaultError as exc:
        return f"it cannot be checked: {exc.message}"
    except OSError as exc:
        return f"it cannot be checked: {exc}"
    return ""


def _the_expected(vault: Vault, location: str, expected: str,
                  sleep: Callable[[float], None]) -> Identity:
    found = _read(vault, location)
    if found is None:  # a first use racing with this one writes the object a moment later
        sleep(0.2)
        found = _read(vault, location)
    if found is None:
        raise VaultGone(location, f"its identity ({expected}) is not there: the vault was moved "
                        "away, emptied or replaced")
    if found.id != expected:
        raise VaultGone(location, f"it is another vault ({found.id}) than the one this state "
                        f"knows ({expected})")
    return found


def _another_state(location: str, found: Identity) -> VaultGone:
    return VaultGone(location, f"it belongs to another airlock state (identity {found.id}, made "
                     f"{found.created_at}) and this state has never used it; if it is this "
                     "state's vault (the state was restored or recreated), adopt it")


def _read(vault: Vault, location: str) -> Identity | None:
    try:
        return read_identity(vault)
    except IntegrityError as exc:
        raise VaultGone(location, exc.message) from None


def _first_use(vault: Vault, store: Store, location: str) -> Identity:
    """No identity anywhere: a new vault, or one from before identities. Every snapshot the
    catalog lists for this location must be there; then the vault is marked and recorded."""
    missing = [r.id for r in _catalogued(store, location, limit=100_000)
               if not vault.store.exists(manifest_key(r.id))]
    if missing:
        raise VaultGone(location, f"{len(missing)} catalogued snapshot(s) are not in it (e.g. "
                        f"{missing[0]}) and it carries no identity: it was emptied or replaced")
    try:
        identity = write_identity(vault)
    except VaultError:
        found = _read(vault, location)  # another process marked it a moment ago
        if found is None:
            raise
        identity = found
    if not record(store, vault, identity, expected=None) and \
            recorded_identity(store) != identity.id:
        raise VaultGone(location, "another process recorded a different identity for it at "
                        "the same moment")
    return identity


def _catalogued(store: Store, location: str, limit: int) -> list[SnapshotRecord]:
    return [r for r in store.list_snapshots(limit=limit) if r.location == location]


def spot_check(vault: Vault, store: Store, *, newest: int = SPOT_CHECK_SNAPSHOTS,
               budget: int = HASH_BUDGET) -> None:
    """The newest catalogued snapshots are in the vault as catalogued (bounded work)."""
    location = vault.location
    records = _catalogued(store, location, limit=newest * 20)[:newest]
    for position, snap in enumerate(records):
        key = manifest_key(snap.id)
        try:
            with vault.store.open(key) as f:
                data = f.read()
        except VaultError:
            raise VaultGone(location, f"snapshot {snap.id} is catalogued but its manifest is "
                            "not in it") from None
        if hashlib.sha256(data).hexdigest() != snap.digest:
            raise VaultGone(location, f"the manifest of snapshot {snap.id} was changed")
        manifest = vault.manifest(snap.id)
        sizes = {info.key: info.size for info in vault.store.list(snapshot_prefix(snap.id))}
        for entry in manifest.objects:
            if sizes.get(entry.key) != entry.size:
                raise VaultGone(location, f"object {entry.key} of snapshot {snap.id} is missing "
                                "or changed in size")
        if position == 0:  # the newest: read its objects back, within the budget
            spent = 0
            for entry in manifest.objects:
                if spent + entry.size > budget:
                    break
                spent += entry.size
                problem = vault.check_object(entry)
                if problem:
                    raise VaultGone(location, problem)

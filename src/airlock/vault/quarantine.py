"""Soft drop: `DROP TABLE` becomes a move into the schema `airlock_quarantine`.

Enabled per resource (`soft_drop = true`) and only where airlock runs the statement itself
(`airlock sql`, later the wire proxy), for a plain `DROP TABLE` of tables nothing else depends
on. The move happens in the statement's transaction and the statement itself is then skipped.
The table keeps its data, indexes, constraints and grants; undo moves it back (instant). A
manifest in the vault records where it went; `airlock vault purge` drops quarantined tables
whose grace period has passed.
"""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from typing import Any

from airlock.model import utcnow
from airlock.upstream.postgres import PgConn
from airlock.upstream.transaction import ProtectedTransaction
from airlock.vault.core import Vault
from airlock.vault.errors import RestoreError
from airlock.vault.manifest import Manifest
from airlock.vault.snapshot.pgcatalog import Relation
from airlock.vault.snapshot.pgtools import qualified, quote_ident
from airlock.vault.snapshot.postgres import PgSource

SCHEMA = "airlock_quarantine"
_postgast: Any = importlib.import_module("postgast")


def is_plain_drop_table(text: str) -> bool:
    """One `DROP TABLE` (of one or more tables) and nothing else: what a soft drop replaces."""
    try:
        stmts = _postgast.parse(text).stmts
    except Exception:
        return False
    if len(stmts) != 1 or stmts[0].stmt.WhichOneof("node") != "drop_stmt":
        return False
    drop = stmts[0].stmt.drop_stmt
    return bool(drop.remove_type == _postgast.pg_query_pb2.ObjectType.Value("OBJECT_TABLE"))


def move(vault: Vault, src: PgSource, txn: ProtectedTransaction, rel: Relation,
         action_id: str | None, grace: timedelta) -> str:
    builder = vault.begin(kind="postgres-quarantine", resource=src.resource,
                          environment=src.environment, action_id=action_id)
    hidden = f"{rel.name[:30]}__{builder.id[-12:]}"
    conn = txn.conn
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(SCHEMA)}")
    conn.execute(f"ALTER TABLE {rel.qualified} RENAME TO {quote_ident(hidden)}")
    conn.execute(f"ALTER TABLE {qualified(rel.schema, hidden)} SET SCHEMA {quote_ident(SCHEMA)}")
    purge_after = (utcnow() + grace).isoformat()
    manifest = builder.commit(
        source={"engine": "postgres", "database": src.conn.dbname, "selector": src.selector,
                "schema": rel.schema, "table": rel.name, "quarantined": hidden,
                "purge_after": purge_after},
        summary=f"table {rel.schema}.{rel.name} moved to {SCHEMA}.{hidden} (soft drop)")
    return manifest.id


def plan_back(manifest: Manifest, target: PgConn) -> tuple[list[str], list[str], list[str]]:
    """(creates, overwrites, problems) for moving a quarantined table back."""
    src = manifest.source
    with target.connect() as conn:
        hidden = conn.execute("SELECT to_regclass(%s)",
                              (qualified(SCHEMA, str(src["quarantined"])),)).fetchone()
        original = conn.execute("SELECT to_regclass(%s)",
                                (qualified(str(src["schema"]), str(src["table"])),)).fetchone()
    if not hidden or hidden[0] is None:
        return [], [], [f"the quarantined table {SCHEMA}.{src['quarantined']} is gone (purged?)"]
    if original and original[0] is not None:
        return [], [f"table {src['schema']}.{src['table']}"], []
    return [f"table {src['schema']}.{src['table']} (moved back from quarantine)"], [], []


def move_back(manifest: Manifest, target: PgConn, *, force: bool) -> None:
    src = manifest.source
    _, overwrites, problems = plan_back(manifest, target)
    if problems:
        raise RestoreError(problems[0])
    if overwrites and not force:
        raise RestoreError(f"{overwrites[0]} exists again; moving the quarantined one back would "
                           "replace it", hint="use --force to drop the new one first")
    schema, table, hidden = str(src["schema"]), str(src["table"]), str(src["quarantined"])
    with target.connect() as conn:
        if overwrites:
            conn.execute(f"DROP TABLE {qualified(schema, table)} CASCADE")
        conn.execute(f"ALTER TABLE {qualified(SCHEMA, hidden)} SET SCHEMA {quote_ident(schema)}")
        conn.execute(f"ALTER TABLE {qualified(schema, hidden)} RENAME TO {quote_ident(table)}")
        conn.commit()


def purge(vault: Vault, resource: str, target: PgConn, now: datetime | None = None) -> list[str]:
    """Drop quarantined tables of `resource` whose grace period has passed; their names."""
    now = now or utcnow()
    dropped = []
    with target.connect() as conn:
        for manifest in vault.manifests():
            if manifest.kind != "postgres-quarantine" or manifest.resource != resource:
                continue
            if datetime.fromisoformat(str(manifest.source["purge_after"])) > now:
                continue
            name = qualified(SCHEMA, str(manifest.source["quarantined"]))
            row = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
            if row and row[0] is not None:
                conn.execute(f"DROP TABLE {name}")
                dropped.append(name)
        conn.commit()
    return dropped

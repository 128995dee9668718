"""Drills: prove a snapshot restores. Restore it into a scratch target, compare what comes back
(row counts and content hashes per table; files and a hash over the tree) with what was
recorded when it was taken, report, clean up.

    postgres dumps    a scratch database `airlock_drill_…` on the resource's server (the role
                      needs CREATEDB); when the source database is reachable its schema is
                      loaded first, so objects the snapshot depends on exist. That schema has
                      no rows, so the dump's foreign keys into tables outside the snapshot are
                      added NOT VALID there (the rows they point at are in the real database,
                      not in the scratch one) — and the report says so
    postgres rows     temporary tables in the resource's database, rolled back afterwards
    sqlite, files     a private temporary file or folder
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from airlock.upstream.postgres import PgConn
from airlock.vault import quarantine
from airlock.vault.core import Vault
from airlock.vault.errors import VaultError
from airlock.vault.manifest import Manifest
from airlock.vault.snapshot import files as files_snap
from airlock.vault.snapshot import pgrestore
from airlock.vault.snapshot import sqlite as sqlite_snap
from airlock.vault.snapshot.pgcatalog import Relation
from airlock.vault.snapshot.pgtools import feed, quote_ident, streamed


@dataclass
class DrillReport:
    snapshot: str
    resource: str
    kind: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.checks) and all(c["ok"] for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot, "resource": self.resource, "kind": self.kind,
                "ok": self.ok, "checks": self.checks, "error": self.error,
                "seconds": round(self.seconds, 3)}


def drill_selection(manifests: list[Manifest], resource: str | None, *, every: bool = False,
                    snapshot: str | None = None) -> list[Manifest]:
    """Which snapshots a drill restores: by default the newest of each (resource, kind) — a
    resource's full backups, table dumps and row before-images restore by different paths, and
    each must be proved, not only whichever was taken last. Oldest first within a resource."""
    picked = [m for m in sorted(manifests, key=lambda m: (m.resource, m.created_at, m.id))
              if (resource is None or m.resource == resource)
              and (snapshot is None or m.id == snapshot)]
    if every or snapshot is not None:
        return picked
    newest: dict[tuple[str, str], Manifest] = {}
    for m in picked:
        newest[(m.resource, m.kind)] = m
    return sorted(newest.values(), key=lambda m: (m.resource, m.created_at, m.id))


def _compare(report: DrillReport, expected: dict[str, Any], found: dict[str, Any]) -> None:
    for name in sorted(set(expected) | set(found)):
        want, got = expected.get(name), found.get(name)
        report.checks.append({"what": name, "expected": want, "found": got, "ok": want == got})


def drill(vault: Vault, manifest: Manifest, pg: PgConn | None = None) -> DrillReport:
    report = DrillReport(manifest.id, manifest.resource, manifest.kind)
    start = time.monotonic()
    try:
        problems = vault.verify(manifest)
        report.checks.append({"what": "object digests", "expected": "intact",
                              "found": "; ".join(problems) or "intact", "ok": not problems})
        if not problems:
            _drill_kind(vault, manifest, pg, report)
    except (VaultError, psycopg.Error, OSError) as exc:
        report.error = getattr(exc, "message", None) or str(exc).strip()
    report.seconds = time.monotonic() - start
    return report


def _drill_kind(vault: Vault, manifest: Manifest, pg: PgConn | None, report: DrillReport) -> None:
    kind = manifest.kind
    if kind == "sqlite":
        result = sqlite_snap.drill_sqlite(vault, manifest)
        _compare(report, result["expected"], result["found"])
    elif kind == "files":
        result = files_snap.drill_files(vault, manifest)
        _compare(report, {"tree": result["expected"]}, {"tree": result["found"]})
    elif kind == "postgres-rows":
        if pg is None:
            raise VaultError("a rows drill needs the database the rows came from")
        _drill_rows(vault, manifest, pg, report)
    elif kind in ("postgres-table", "postgres-schema", "postgres-database"):
        if pg is None:
            raise VaultError("a PostgreSQL drill needs a server to create its scratch database on")
        _drill_dump(vault, manifest, pg, report)
    elif kind == "postgres-quarantine":
        if pg is None:
            raise VaultError("a quarantine drill needs the database")
        _, _, problems = quarantine.plan_back(manifest, pg)
        report.checks.append({"what": "quarantined table present", "expected": True,
                              "found": not problems, "ok": not problems})
    else:
        raise VaultError(f"no drill for snapshots of kind {kind}")


def _drill_rows(vault: Vault, manifest: Manifest, pg: PgConn, report: DrillReport) -> None:
    expected = manifest.stats.get("objects", {})
    with pg.connect() as conn:
        for index, t in enumerate(pgrestore.rows_tables(manifest)):
            tmp = quote_ident(f"airlock_drill_{index}")
            cols = ", ".join(quote_ident(c.name) for c in t.columns)
            defs = ", ".join(f"{quote_ident(c.name)} {c.type}" for c in t.columns)
            conn.execute(f"CREATE TEMP TABLE {tmp} ({defs}) ON COMMIT DROP")
            with conn.cursor() as cur, cur.copy(f"COPY {tmp} ({cols}) FROM STDIN") as copy:
                for chunk in vault.chunks(manifest, t.object):
                    copy.write(chunk)
            digest, rows = hashlib.sha256(), 0
            with conn.cursor() as cur, cur.copy(f"COPY {tmp} ({cols}) TO STDOUT") as copy:
                for data in copy:
                    chunk = bytes(data)
                    digest.update(chunk)
                    rows += chunk.count(b"\n")
            _compare(report, {f"{t.schema}.{t.table}": expected.get(t.object)},
                     {f"{t.schema}.{t.table}": {"rows": rows, "sha256": digest.hexdigest()}})
        conn.rollback()


def _drill_dump(vault: Vault, manifest: Manifest, pg: PgConn, report: DrillReport) -> None:
    scratch = f"airlock_drill_{manifest.id[-12:]}"
    admin = pg.with_dbname("postgres")
    target = pg.with_dbname(scratch)
    with admin.connect(autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(scratch)}")
        if manifest.kind != "postgres-database":
            conn.execute(f"CREATE DATABASE {quote_ident(scratch)}")
    try:
        if manifest.kind != "postgres-database":
            _load_schema_of_source(pg.with_dbname(str(manifest.source.get("database")
                                                      or pg.dbname)), target)
        foreign_keys = ForeignKeysNotValid()
        pgrestore.apply_dump(vault, manifest, target, force=True, rewrite=foreign_keys.rewrite)
        relations = [Relation.from_json(r) for r in manifest.source.get("relations", [])]
        schema = manifest.source.get("schema")
        if manifest.kind == "postgres-database":
            found = pgrestore.data_stats(target)
        elif manifest.kind == "postgres-schema":
            found = pgrestore.data_stats(target, relations, schema=str(schema))
        else:
            found = pgrestore.data_stats(target, relations)
        _compare(report, dict(manifest.stats.get("tables", {})), found)
        if foreign_keys.count:
            report.checks.append({
                "what": "foreign keys", "expected": f"{foreign_keys.count} restored",
                "found": f"{foreign_keys.count} restored NOT VALID (the rows they reference "
                         "are not in the scratch database)", "ok": True})
    finally:
        with admin.connect(autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(scratch)} WITH (FORCE)")


def _load_schema_of_source(source: PgConn, scratch: PgConn) -> None:
    """The source database's schema (no data) in the scratch database, when it can be read: the
    snapshot's objects may depend on others (types, sequences, functions)."""
    try:
        with source.connect():
            pass
    except VaultError:
        return  # the source is gone: restore into the empty scratch database
    dsn, env = source.tool_args()
    scratch_dsn, scratch_env = scratch.tool_args()
    with streamed([source.tool("pg_dump"), "--schema-only", "--no-password", "--dbname", dsn],
                  env, "pg_dump --schema-only") as chunks:
        feed([scratch.tool("psql"), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1",
              "--single-transaction", "--dbname", scratch_dsn, "-f", "-"], scratch_env, chunks,
             "psql (drill schema)")



_FOREIGN_KEY = b"    ADD CONSTRAINT "
_NOT_VALID = b" NOT VALID;\n"
_END_OF_COPY = b"\\.\n"


class ForeignKeysNotValid:
    """Rewrites a plain dump as it streams so that its foreign keys are added `NOT VALID`.

    pg_dump writes each one as `ALTER TABLE ONLY t` followed by the line
    `    ADD CONSTRAINT name FOREIGN KEY (…) REFERENCES …;`. Only lines outside COPY blocks are
    looked at (row data passes through untouched, found by its `\\.` terminator the way
    `pgcopy` finds it), and only complete lines are ever passed on, so a line split across
    chunks is seen whole."""

    def __init__(self) -> None:
        self.count = 0

    def rewrite(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        buf = bytearray()
        in_copy = False
        for chunk in chunks:
            buf += chunk
            pos = 0
            while True:
                if in_copy:
                    if buf.startswith(_END_OF_COPY, pos):
                        end = pos + len(_END_OF_COPY)
                    else:
                        found = buf.find(b"\n" + _END_OF_COPY, pos)
                        end = found + 1 + len(_END_OF_COPY) if found >= 0 else -1
                    if end < 0:
                        last = buf.rfind(b"\n", pos)
                        if last >= 0:  # whole rows, none of them the terminator
                            yield bytes(buf[pos:last + 1])
                            pos = last + 1
                        break
                    yield bytes(buf[pos:end])
                    pos, in_copy = end, False
                    continue
                newline = buf.find(b"\n", pos)
                if newline < 0:
                    break
                line = bytes(buf[pos:newline + 1])
                pos = newline + 1
                if line.startswith(b"COPY "):
                    in_copy = True
                elif (line.startswith(_FOREIGN_KEY) and b" FOREIGN KEY " in line
                      and line.endswith(b";\n") and not line.endswith(_NOT_VALID)):
                    line = line[:-2] + _NOT_VALID
                    self.count += 1
                yield line
            del buf[:pos]
        if buf:
            yield bytes(buf)

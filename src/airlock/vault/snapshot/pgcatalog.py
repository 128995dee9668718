"""What PostgreSQL's catalogs say about the objects an action would destroy.

Everything here is a cheap catalog query (no table is scanned), so a safety plan can run it
while an approval is being requested. The *closure* of a table is what dies with it under
`DROP TABLE … CASCADE` and so what a snapshot must be able to recreate: the table, its
partitions and inheritance children, the views and materialised views that depend on it (to
any depth), and the foreign keys of other tables that point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from airlock.vault.errors import VaultError
from airlock.vault.snapshot.pgtools import qualified, quote_ident

Conn = psycopg.Connection[Any]


@dataclass(frozen=True, slots=True)
class Relation:
    schema: str
    name: str
    kind: str  # r table, p partitioned table, v view, m materialised view, f foreign table

    @property
    def qualified(self) -> str:
        return qualified(self.schema, self.name)

    def to_json(self) -> dict[str, str]:
        return {"schema": self.schema, "name": self.name, "kind": self.kind}

    @classmethod
    def from_json(cls, obj: dict[str, str]) -> Relation:
        return cls(obj["schema"], obj["name"], obj["kind"])


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A constraint on another table that points into what is being destroyed."""

    schema: str
    table: str
    name: str
    definition: str

    def sql(self) -> str:
        return (f"ALTER TABLE {qualified(self.schema, self.table)} ADD CONSTRAINT "
                f"{quote_ident(self.name)} {self.definition};")

    def to_json(self) -> dict[str, str]:
        return {"schema": self.schema, "table": self.table, "name": self.name,
                "definition": self.definition}

    @classmethod
    def from_json(cls, obj: dict[str, str]) -> ForeignKey:
        return cls(obj["schema"], obj["table"], obj["name"], obj["definition"])


@dataclass(frozen=True, slots=True)
class Closure:
    relations: tuple[Relation, ...]  # tables first, then dependent views
    foreign_keys: tuple[ForeignKey, ...] = ()
    size_bytes: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def tables(self) -> tuple[Relation, ...]:
        return tuple(r for r in self.relations if r.kind in ("r", "p", "f"))


def resolve_table(conn: Conn, name: str) -> tuple[int, str, str]:
    """(oid, schema, name) of a table as the session would resolve `name` (search_path)."""
    row = conn.execute(
        "SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
        (name,)).fetchone()
    if row is None:
        raise VaultError(f"table {name} does not exist in {conn.info.dbname}")
    if row[3] not in ("r", "p", "f", "m", "v", "S"):
        raise VaultError(f"{name} is not a table, view or sequence (relkind {row[3]})")
    return int(row[0]), str(row[1]), str(row[2])


_CLOSURE = """
WITH RECURSIVE
  tables(oid) AS (
    SELECT %(oid)s::oid
    UNION
    SELECT i.inhrelid FROM pg_inherits i JOIN tables t ON i.inhparent = t.oid
  ),
  deps(oid) AS (
    SELECT oid FROM tables
    UNION
    SELECT r.ev_class FROM pg_depend d
      JOIN pg_rewrite r ON r.oid = d.objid
      JOIN deps ON d.refobjid = deps.oid
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
      AND r.ev_class <> deps.oid
  )
SELECT n.nspname, c.relname, c.relkind, c.oid IN (SELECT oid FROM tables) AS is_table,
       pg_table_size(c.oid)
FROM deps JOIN pg_class c ON c.oid = deps.oid JOIN pg_namespace n ON n.oid = c.relnamespace
ORDER BY is_table DESC, c.oid
"""

_REFERENCING_FKS = """
SELECT n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype = 'f' AND con.confrelid = ANY(%(oids)s) AND NOT (con.conrelid = ANY(%(oids)s))
ORDER BY n.nspname, c.relname, con.conname
"""


def table_closure(conn: Conn, name: str) -> Closure:
    oid, _, _ = resolve_table(conn, name)
    return closure_of(conn, [oid])


def closure_of(conn: Conn, oids: list[int]) -> Closure:
    relations: dict[tuple[str, str], Relation] = {}
    size = 0
    table_oids: list[int] = []
    for oid in oids:
        for schema, rel, kind, _is_table, rel_size in conn.execute(_CLOSURE, {"oid": oid}):
            key = (str(schema), str(rel))
            if key not in relations:
                relations[key] = Relation(key[0], key[1], str(kind))
                size += int(rel_size or 0)
        table_oids.extend(int(r[0]) for r in conn.execute(
            "WITH RECURSIVE t(oid) AS (SELECT %s::oid UNION SELECT i.inhrelid FROM pg_inherits i "
            "JOIN t ON i.inhparent = t.oid) SELECT oid FROM t", (oid,)))
    all_oids = [int(r[0]) for r in conn.execute(
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([k[0] for k in relations], [k[1] for k in relations]))]
    # pg_get_constraintdef qualifies names only where search_path would not find them; with an
    # empty search_path (as in a dump) every name comes out qualified.
    fks = _referencing_fks(conn, all_oids)
    ordered = sorted(relations.values(), key=lambda r: r.kind in ("v", "m"))
    return Closure(tuple(ordered), fks, size)


def _referencing_fks(conn: Conn, oids: list[int]) -> tuple[ForeignKey, ...]:
    found: list[ForeignKey] = []
    with conn.transaction() as savepoint:
        conn.execute("SELECT set_config('search_path', '', true)")
        found = [ForeignKey(str(s), str(t), str(n), str(d))
                 for s, t, n, d in conn.execute(_REFERENCING_FKS, {"oids": oids})]
        _rollback(savepoint)  # undo the setting, keep the caller's transaction
    return tuple(found)


def _rollback(savepoint: Any) -> None:
    raise psycopg.Rollback(savepoint)


def with_referencing_tables(conn: Conn, closure: Closure) -> Closure:
    """The closure plus every table that references it through foreign keys, transitively: what
    `TRUNCATE … CASCADE` empties along with it."""
    oids = [int(r[0]) for r in conn.execute(
        "SELECT to_regclass(name)::oid FROM unnest(%s::text[]) AS name",
        ([r.qualified for r in closure.tables],)) if r[0] is not None]
    seen = set(oids)
    frontier = list(oids)
    while frontier:
        rows = conn.execute("SELECT DISTINCT conrelid FROM pg_constraint WHERE contype = 'f' AND "
                            "confrelid = ANY(%s)", (frontier,)).fetchall()
        frontier = [int(r[0]) for r in rows if int(r[0]) not in seen]
        seen.update(frontier)
    return closure_of(conn, sorted(seen)) if len(seen) > len(oids) else closure


def schema_closure(conn: Conn, schema: str) -> Closure:
    row = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if row is None:
        raise VaultError(f"schema {schema} does not exist in {conn.info.dbname}")
    oids = [int(r[0]) for r in conn.execute(
        "SELECT oid FROM pg_class WHERE relnamespace = %s AND relkind IN ('r', 'p', 'f', 'm')",
        (row[0],))]
    closure = closure_of(conn, oids) if oids else Closure(())
    size_row = conn.execute("SELECT coalesce(sum(pg_table_size(oid)), 0) FROM pg_class "
                            "WHERE relnamespace = %s AND relkind IN ('r', 'p', 'm')",
                            (row[0],)).fetchone()
    outside = tuple(r for r in closure.relations if r.schema != schema)
    outside_fks = tuple(fk for fk in closure.foreign_keys if fk.schema != schema)
    return Closure(outside, outside_fks, int(size_row[0]) if size_row else 0)


def database_size(conn: Conn, dbname: str) -> int:
    row = conn.execute("SELECT pg_database_size(%s)", (dbname,)).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    identity: str = ""  # '' | 'a' (always) | 'd' (by default)

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "identity": self.identity}

    @classmethod
    def from_json(cls, obj: dict[str, str]) -> Column:
        return cls(obj["name"], obj["type"], obj.get("identity", ""))


def writable_columns(conn: Conn, oid: int) -> tuple[Column, ...]:
    """Columns whose values a row restore writes back (generated columns recompute)."""
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attidentity FROM pg_attribute "
        "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped AND attgenerated = '' "
        "ORDER BY attnum", (oid,)).fetchall()
    return tuple(Column(str(n), str(t), str(i or "")) for n, t, i in rows)


def row_key(conn: Conn, oid: int) -> tuple[str, ...]:
    """The primary key's columns, else those of a unique index over NOT NULL columns, else ()."""
    rows = conn.execute(
        "SELECT i.indisprimary, array_agg(a.attname ORDER BY k.ord), bool_and(a.attnotnull) "
        "FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL "
        "GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indisprimary DESC, i.indexrelid",
        (oid,)).fetchall()
    for _primary, columns, not_null in rows:
        if not_null:
            return tuple(str(c) for c in columns)
    return ()


def user_triggers(conn: Conn, oid: int) -> tuple[str, ...]:
    rows = conn.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s AND NOT tgisinternal "
                        "ORDER BY tgname", (oid,)).fetchall()
    return tuple(str(r[0]) for r in rows)


@dataclass(frozen=True, slots=True)
class Reference:
    """A foreign key *into* a table whose rows are deleted or updated."""

    schema: str
    table: str
    oid: int
    columns: tuple[str, ...]  # in the referencing table
    referenced: tuple[str, ...]  # in the referenced table
    on_delete: str  # a no action, r restrict, c cascade, n set null, d set default
    on_update: str


def references_into(conn: Conn, oid: int) -> tuple[Reference, ...]:
    rows = conn.execute(
        "SELECT n.nspname, c.relname, c.oid, con.confdeltype, con.confupdtype, "
        "  ARRAY(SELECT attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o) "
        "        JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.n ORDER BY k.o), "
        "  ARRAY(SELECT attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o) "
        "        JOIN pg_attribute ON attrelid = con.confrelid AND attnum = k.n ORDER BY k.o) "
        "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE con.contype = 'f' AND con.confrelid = %s ORDER BY con.oid", (oid,)).fetchall()
    return tuple(Reference(str(s), str(t), int(o), tuple(a), tuple(b), str(d), str(u))
                 for s, t, o, d, u, a, b in rows)


def data_directory(conn: Conn) -> str | None:
    """The server's data directory, when the role may see it (superuser, pg_read_all_settings).
    Runs in a savepoint, so a refusal does not abort the caller's transaction."""
    try:
        with conn.transaction():
            row = conn.execute("SELECT current_setting('data_directory')").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


# ---- the whole database, for the inventory (inventory/discovery.py) ---------------------------

MAX_CATALOG_RELATIONS = 5000  # a tree of more is unreadable; the listing says it was cut


@dataclass(frozen=True, slots=True)
class CatalogRelation:
    schema: str
    name: str
    kind: str  # r table, p partitioned table, v view, m materialised view, f foreign table
    rows: int | None  # the planner's estimate (None: never analysed)
    size_bytes: int

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True, slots=True)
class CatalogLink:
    """`source` depends on `target`: a foreign key (`on_delete`: a no action, r restrict,
    c cascade, n set null, d set default) or a view reading a relation (`on_delete` "v")."""

    source: str  # schema.name
    target: str
    on_delete: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class DatabaseCatalog:
    relations: tuple[CatalogRelation, ...]
    links: tuple[CatalogLink, ...]
    truncated: bool = False


def database_catalog(conn: Conn, limit: int = MAX_CATALOG_RELATIONS) -> DatabaseCatalog:
    """Every user relation with its estimated rows and size, every foreign key and every
    view's dependency (pg_depend through the view's rewrite rule). Catalog reads only."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname, c.relkind, c.reltuples::bigint, "
        "  CASE WHEN c.relkind IN ('r', 'p', 'm') THEN pg_total_relation_size(c.oid) ELSE 0 END "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition "
        "  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%' "
        "ORDER BY 1, 2 LIMIT %s", (limit + 1,)).fetchall()
    relations = tuple(CatalogRelation(str(s), str(n), str(k), int(t) if t >= 0 else None, int(b))
                      for s, n, k, t, b in rows[:limit])
    fks = conn.execute(
        "SELECT cn.nspname || '.' || c.relname, fn.nspname || '.' || f.relname, "
        "  con.confdeltype, con.conname "
        "FROM pg_constraint con "
        "JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace "
        "JOIN pg_class f ON f.oid = con.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace "
        "WHERE con.contype = 'f' AND fn.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2, 4").fetchall()
    views = conn.execute(
        "SELECT DISTINCT vn.nspname || '.' || v.relname, tn.nspname || '.' || t.relname "
        "FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
        "JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace vn ON vn.oid = v.relnamespace "
        "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace "
        "WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass "
        "  AND t.oid <> v.oid AND tn.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2").fetchall()
    links = tuple([CatalogLink(str(a), str(b), str(d), str(n)) for a, b, d, n in fks]
                  + [CatalogLink(str(a), str(b), "v") for a, b in views])
    return DatabaseCatalog(relations, links, len(rows) > limit)

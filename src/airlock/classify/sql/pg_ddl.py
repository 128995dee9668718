"""The shape of PostgreSQL's definition statements: CREATE, ALTER, GRANT, roles, maintenance.

The policy behind the verdicts is written at the top of `pg_statements.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airlock.classify.sql.pg_statements import JsonNode, handles, object_kind
from airlock.classify.sql.postgres import Walk, relation_name, set_values, setting, svals
from airlock.classify.sql.verdict import dotted, ident, table, thing, words
from airlock.model import Risk, Target, Verb


def _write(w: Walk, reason: str, target: Target | None = None, scope: str = "", *,
           reversible: bool = True) -> None:
    w.j.add(Verb.WRITE, Risk.WRITE, reason, target, scope, reversible=reversible)


def _options(f: JsonNode, key: str = "options") -> dict[str, Any]:
    """A statement's DefElem options by name (the last one wins, as in the server)."""
    out: dict[str, Any] = {}
    for option in f.get(key, []) or []:
        fields = option.get("DefElem", {}) if isinstance(option, dict) else {}
        out[str(fields.get("defname", ""))] = fields.get("arg")
    return out


# --------------------------------------------------------------------------------------------
# Creating


@handles("CreateStmt", "CreateForeignTableStmt")
def _create_table(w: Walk, f: JsonNode) -> None:
    base = f.get("base", f)  # CREATE FOREIGN TABLE wraps a CreateStmt
    name = relation_name(base.get("relation", {}))
    _write(w, f"CREATE TABLE creates table {name}", table(name), "table")


@handles("CreateTableAsStmt")
def _create_table_as(w: Walk, f: JsonNode) -> None:
    name = relation_name(f.get("into", {}).get("rel", {}))
    if f.get("objtype") == "OBJECT_MATVIEW":
        _write(w, f"CREATE MATERIALIZED VIEW creates view {name}", thing("view", name), "view")
    else:
        _write(w, f"CREATE TABLE … AS creates table {name} from a query", table(name), "table")


@handles("ViewStmt")
def _view(w: Walk, f: JsonNode) -> None:
    name = relation_name(f.get("view", {}))
    does = "defines or replaces" if f.get("replace") else "defines"
    _write(w, f"CREATE VIEW {does} view {name}", thing("view", name), "view",
           reversible=not f.get("replace"))


@handles("IndexStmt")
def _index(w: Walk, f: JsonNode) -> None:
    relation = f.get("relation", {})
    on = relation_name(relation)
    name = dotted(relation.get("schemaname"), f.get("idxname")) if f.get("idxname") else ""
    _write(w, f"CREATE INDEX builds an index on {on}", thing("index", name) if name else table(on),
           "index")
    w.j.read(table(on), f"CREATE INDEX reads every row of {on}")


@handles("CreateSchemaStmt")
def _create_schema(w: Walk, f: JsonNode) -> None:
    name = ident(str(f.get("schemaname") or f.get("authrole", {}).get("rolename", "")))
    _write(w, f"CREATE SCHEMA creates schema {name}", thing("schema", name), "schema")


@handles("CreateFunctionStmt")
def _create_function(w: Walk, f: JsonNode) -> None:
    name = dotted(*svals(f.get("funcname", [])))
    word = "PROCEDURE" if f.get("is_procedure") else "FUNCTION"
    language = _options(f).get("language")
    if isinstance(language, dict) and "String" in language:
        w.j.saw_literal()  # LANGUAGE 'c' is a literal, LANGUAGE c is not
        if str(language["String"].get("sval", "")).lower() in ("c", "internal"):
            w.j.add(Verb.EXECUTE, Risk.UNKNOWN, f"CREATE {word} {name} in LANGUAGE C loads "
                    "native code into the server, which can do anything", thing("function", name))
            return
    does = "defines or replaces" if f.get("replace") else "defines"
    _write(w, f"CREATE {word} {does} function {name}", thing("function", name), "function",
           reversible=not f.get("replace"))


@handles("CreateExtensionStmt")
def _create_extension(w: Walk, f: JsonNode) -> None:
    name = ident(str(f.get("extname", "")))
    _write(w, f"CREATE EXTENSION installs extension {name}", thing("extension", name),
           "extension")


@handles("CreatedbStmt")
def _createdb(w: Walk, f: JsonNode) -> None:
    name = ident(str(f.get("dbname", "")))
    _write(w, f"CREATE DATABASE creates database {name}", thing("database", name), "database")


@handles("CreateSeqStmt")
def _create_sequence(w: Walk, f: JsonNode) -> None:
    name = relation_name(f.get("sequence", {}))
    _write(w, f"CREATE SEQUENCE creates sequence {name}", thing("sequence", name), "sequence")


@handles("AlterSeqStmt")
def _alter_sequence(w: Walk, f: JsonNode) -> None:
    name = relation_name(f.get("sequence", {}))
    _write(w, f"ALTER SEQUENCE changes sequence {name}", thing("sequence", name), "sequence")


# --------------------------------------------------------------------------------------------
# Altering


_AT_WRITE = words("""
    AT_AddColumn AT_AddColumnToView AT_ColumnDefault AT_CookedColumnDefault AT_DropNotNull
    AT_SetNotNull AT_SetExpression AT_DropExpression AT_SetStatistics AT_SetOptions
    AT_ResetOptions AT_SetStorage AT_SetCompression AT_AddIndex AT_ReAddIndex AT_AddConstraint
    AT_ReAddConstraint AT_ReAddDomainConstraint AT_AlterConstraint AT_ValidateConstraint
    AT_AddIndexConstraint AT_DropConstraint AT_ReAddComment AT_AlterColumnGenericOptions
    AT_ChangeOwner AT_ClusterOn AT_DropCluster AT_SetLogged AT_SetUnLogged AT_DropOids
    AT_SetAccessMethod AT_SetTableSpace AT_SetRelOptions AT_ResetRelOptions AT_ReplaceRelOptions
    AT_EnableTrig AT_EnableAlwaysTrig AT_EnableReplicaTrig AT_DisableTrig AT_EnableTrigAll
    AT_DisableTrigAll AT_EnableTrigUser AT_DisableTrigUser AT_EnableRule AT_EnableAlwaysRule
    AT_EnableReplicaRule AT_DisableRule AT_AddInherit AT_DropInherit AT_AddOf AT_DropOf
    AT_ReplicaIdentity AT_EnableRowSecurity AT_DisableRowSecurity AT_ForceRowSecurity
    AT_NoForceRowSecurity AT_GenericOptions AT_AttachPartition AT_DetachPartition
    AT_DetachPartitionFinalize AT_AddIdentity AT_SetIdentity AT_DropIdentity AT_ReAddStatistics
""")


@handles("AlterTableStmt")
def _alter_table(w: Walk, f: JsonNode) -> None:
    objtype = str(f.get("objtype", "OBJECT_TABLE"))
    kind = object_kind(objtype)
    word = objtype.removeprefix("OBJECT_").replace("_", " ").replace("MATVIEW",
                                                                     "MATERIALIZED VIEW")
    name = relation_name(f.get("relation", {}))
    target = table(name) if kind == "table" else thing(kind, name)
    _write(w, f"ALTER {word} changes the definition of {name}", target, kind)
    for cmd in f.get("cmds", []):
        c = cmd.get("AlterTableCmd", {}) if isinstance(cmd, dict) else {}
        subtype, column = str(c.get("subtype", "")), ident(str(c.get("name", "")))
        cascade = c.get("behavior") == "DROP_CASCADE"
        tail = " and everything that depends on it" if cascade else ""
        if subtype == "AT_DropColumn":
            w.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"ALTER {word} … DROP COLUMN destroys "
                    f"column {column} of {name} and all its values{tail}", target, "column")
        elif subtype == "AT_DropConstraint" and cascade:
            w.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"ALTER {word} … DROP CONSTRAINT … CASCADE "
                    f"drops constraint {column} of {name}{tail}", target, "constraint")
        elif subtype == "AT_AlterColumnType":
            w.j.add(Verb.WRITE, Risk.DESTRUCTIVE, f"ALTER {word} … TYPE rewrites every value of "
                    f"column {column} of {name}; a lossy conversion cannot be undone", target,
                    "column")
        elif subtype not in _AT_WRITE:
            w.j.unknown(f"ALTER {word} … {subtype} is a change airlock has no rule for")


@handles("AlterDomainStmt")
def _alter_domain(w: Walk, f: JsonNode) -> None:
    name = dotted(*svals(f.get("typeName", [])))
    if f.get("subtype") == "X" and f.get("behavior") == "DROP_CASCADE":
        w.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"ALTER DOMAIN … DROP CONSTRAINT … CASCADE drops "
                f"a constraint of domain {name} and everything that depends on it",
                thing("type", name), "constraint")
    else:
        _write(w, f"ALTER DOMAIN changes domain {name}", thing("type", name), "type")


@handles("AlterSystemStmt")
def _alter_system(w: Walk, f: JsonNode) -> None:
    w.j.add(Verb.WRITE, Risk.DESTRUCTIVE, "ALTER SYSTEM changes the configuration of the whole "
            "server, including settings that run shell commands", scope="server")


@handles("AlterDatabaseStmt", "AlterDatabaseSetStmt", "AlterDatabaseRefreshCollStmt")
def _alter_database(w: Walk, f: JsonNode) -> None:
    name = ident(str(f.get("dbname", "")))
    if isinstance(f.get("setstmt"), dict):
        setting(w, str(f["setstmt"].get("name", "")), "ALTER DATABASE … SET",
                set_values(f["setstmt"]))
    _write(w, f"ALTER DATABASE changes database {name}", thing("database", name), "database")


@handles("RenameStmt")
def _rename(w: Walk, f: JsonNode) -> None:
    objtype = str(f.get("renameType", ""))
    kind = object_kind(objtype)
    relation = f.get("relation")
    name = relation_name(relation) if isinstance(relation, dict) else _name_of(f.get("object"))
    target = table(name) if kind in ("table", "column") and relation else thing(kind, name)
    _write(w, f"the statement renames {kind} {name}" if name else f"the statement renames a "
           f"{kind}", target if name else None, kind)


def _name_of(node: Any) -> str:
    if isinstance(node, dict) and len(node) == 1:
        inner = next(iter(node.values()))
        if isinstance(inner, dict):
            return dotted(*svals(inner.get("items") or inner.get("objname") or
                                 inner.get("names") or []))
        return ""
    return ""


# --------------------------------------------------------------------------------------------
# Roles and privileges

# Membership in these is as good as superuser: they run programs or read and write files on the
# server, or are the superuser role of a managed cloud database.
POWERFUL_ROLES = frozenset({
    "pg_execute_server_program", "pg_write_server_files", "pg_read_server_files", "postgres",
    "rds_superuser", "cloudsqlsuperuser", "azure_pg_admin", "alloydbsuperuser", "supabase_admin",
})


def _role_options(w: Walk, f: JsonNode, role: str, word: str) -> None:
    options = _options(f)
    superuser = options.get("superuser")
    # SUPERUSER and NOSUPERUSER are keywords, not literals: this Boolean is part of the text's
    # fingerprint, so reading it does not make the verdict depend on a literal.
    if isinstance(superuser, dict) and superuser.get("Boolean", {}).get("boolval"):
        w.j.add(Verb.WRITE, Risk.DESTRUCTIVE, f"{word} gives role {role} SUPERUSER, which can "
                "do anything on the server out of airlock's reach", thing("role", role), "role")
    members = options.get("addroleto") or options.get("rolemembers")
    if isinstance(members, dict):
        granted = {_rolename(m) for m in members.get("List", {}).get("items", [])}
        _powerful(w, granted & POWERFUL_ROLES, role, word)


def _powerful(w: Walk, roles: set[str], grantee: str, word: str) -> None:
    for powerful in sorted(roles):
        w.j.add(Verb.WRITE, Risk.DESTRUCTIVE, f"{word} makes {grantee} a member of {powerful}, "
                "which can act on the server out of airlock's reach", thing("role", grantee),
                "role")


def _rolename(spec: Any) -> str:
    fields = spec.get("RoleSpec", spec) if isinstance(spec, dict) else {}
    return str(fields.get("rolename", ""))


@handles("CreateRoleStmt")
def _create_role(w: Walk, f: JsonNode) -> None:
    role = ident(str(f.get("role", "")))
    _write(w, f"CREATE ROLE creates role {role}", thing("role", role), "role")
    _role_options(w, f, role, "CREATE ROLE")


@handles("AlterRoleStmt")
def _alter_role(w: Walk, f: JsonNode) -> None:
    role = ident(_rolename(f.get("role", {})) or "?")
    _write(w, f"ALTER ROLE changes role {role}", thing("role", role), "role")
    _role_options(w, f, role, "ALTER ROLE")


@handles("AlterRoleSetStmt")
def _alter_role_set(w: Walk, f: JsonNode) -> None:
    role = ident(_rolename(f.get("role", {})) or "all")
    if isinstance(f.get("setstmt"), dict):
        setting(w, str(f["setstmt"].get("name", "")), "ALTER ROLE … SET",
                set_values(f["setstmt"]))
    _write(w, f"ALTER ROLE … SET changes a setting of role {role}", thing("role", role), "role")


@handles("GrantRoleStmt")
def _grant_role(w: Walk, f: JsonNode) -> None:
    granted = {str(p.get("AccessPriv", {}).get("priv_name", ""))
               for p in f.get("granted_roles", []) if isinstance(p, dict)}
    grantees = [ident(_rolename(g) or "?") for g in f.get("grantee_roles", [])]
    word = "GRANT" if f.get("is_grant") else "REVOKE"
    for grantee in grantees:
        _write(w, f"{word} changes the roles that {grantee} belongs to", thing("role", grantee),
               "role")
        if f.get("is_grant"):
            _powerful(w, granted & POWERFUL_ROLES, grantee, "GRANT")


@handles("GrantStmt")
def _grant(w: Walk, f: JsonNode) -> None:
    word = "GRANT" if f.get("is_grant") else "REVOKE"
    kind = object_kind(str(f.get("objtype", "")))
    if f.get("targtype") == "ACL_TARGET_ALL_IN_SCHEMA":
        kind = "schema"  # ON ALL TABLES IN SCHEMA s: the objects named are schemas
    names = []
    for obj in f.get("objects", []):
        if not isinstance(obj, dict):
            continue
        if "RangeVar" in obj:
            w.claim(obj)
            names.append(relation_name(obj["RangeVar"]))
        elif "String" in obj:
            names.append(ident(str(obj["String"].get("sval", ""))))
        else:
            names.append(_name_of(obj))
    for name in [n for n in names if n] or [""]:
        target = (table(name) if kind == "table" else thing(kind, name)) if name else None
        _write(w, f"{word} changes privileges on {kind} {name}".rstrip(), target, "privileges")


# --------------------------------------------------------------------------------------------
# Everything else that only changes definitions, settings or housekeeping

_PLAIN_WRITES = {
    "AlterExtensionStmt": "ALTER EXTENSION updates an extension",
    "AlterExtensionContentsStmt": "ALTER EXTENSION changes which objects an extension owns",
    "DefineStmt": "CREATE defines an aggregate, operator, type or collation",
    "CompositeTypeStmt": "CREATE TYPE defines a type",
    "CreateEnumStmt": "CREATE TYPE defines an enum type",
    "CreateRangeStmt": "CREATE TYPE defines a range type",
    "AlterEnumStmt": "ALTER TYPE changes an enum type",
    "AlterTypeStmt": "ALTER TYPE changes a type",
    "CreateDomainStmt": "CREATE DOMAIN defines a domain",
    "CreateTrigStmt": "CREATE TRIGGER installs a trigger, which runs on later changes",
    "CreateEventTrigStmt": "CREATE EVENT TRIGGER installs a trigger on schema changes",
    "AlterEventTrigStmt": "ALTER EVENT TRIGGER changes an event trigger",
    "CreatePolicyStmt": "CREATE POLICY changes which rows users can see or change",
    "AlterPolicyStmt": "ALTER POLICY changes which rows users can see or change",
    "CreateAmStmt": "CREATE ACCESS METHOD defines an access method",
    "CreateCastStmt": "CREATE CAST defines a cast",
    "CreateConversionStmt": "CREATE CONVERSION defines an encoding conversion",
    "CreateTransformStmt": "CREATE TRANSFORM defines a transform",
    "CreateOpClassStmt": "CREATE OPERATOR CLASS defines an operator class",
    "CreateOpFamilyStmt": "CREATE OPERATOR FAMILY defines an operator family",
    "AlterOpFamilyStmt": "ALTER OPERATOR FAMILY changes an operator family",
    "AlterOperatorStmt": "ALTER OPERATOR changes an operator",
    "CreateFdwStmt": "CREATE FOREIGN DATA WRAPPER defines a foreign-data wrapper",
    "AlterFdwStmt": "ALTER FOREIGN DATA WRAPPER changes a foreign-data wrapper",
    "CreateForeignServerStmt": "CREATE SERVER defines a foreign server",
    "AlterForeignServerStmt": "ALTER SERVER changes a foreign server",
    "CreateUserMappingStmt": "CREATE USER MAPPING stores credentials for a foreign server",
    "AlterUserMappingStmt": "ALTER USER MAPPING changes credentials for a foreign server",
    "ImportForeignSchemaStmt": "IMPORT FOREIGN SCHEMA creates foreign tables",
    "CreatePublicationStmt": "CREATE PUBLICATION publishes tables for replication",
    "AlterPublicationStmt": "ALTER PUBLICATION changes what is published for replication",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION starts replicating from another server",
    "AlterSubscriptionStmt": "ALTER SUBSCRIPTION changes a replication subscription",
    "CreatePLangStmt": "CREATE LANGUAGE installs a procedural language",
    "CreateStatsStmt": "CREATE STATISTICS defines extended statistics",
    "AlterStatsStmt": "ALTER STATISTICS changes extended statistics",
    "CreateTableSpaceStmt": "CREATE TABLESPACE defines a tablespace",
    "AlterTableSpaceOptionsStmt": "ALTER TABLESPACE changes a tablespace",
    "AlterTableMoveAllStmt": "ALTER TABLESPACE … MOVE moves tables to another tablespace",
    "AlterFunctionStmt": "ALTER FUNCTION changes a function",
    "AlterObjectDependsStmt": "ALTER … DEPENDS ON EXTENSION ties an object to an extension",
    "AlterObjectSchemaStmt": "ALTER … SET SCHEMA moves an object to another schema",
    "AlterOwnerStmt": "ALTER … OWNER TO changes an object's owner",
    "AlterCollationStmt": "ALTER COLLATION changes a collation",
    "AlterTSDictionaryStmt": "ALTER TEXT SEARCH DICTIONARY changes a dictionary",
    "AlterTSConfigurationStmt": "ALTER TEXT SEARCH CONFIGURATION changes a configuration",
    "AlterDefaultPrivilegesStmt": "ALTER DEFAULT PRIVILEGES changes privileges of future objects",
    "CommentStmt": "COMMENT changes an object's comment",
    "SecLabelStmt": "SECURITY LABEL changes an object's security label",
    "ReplicaIdentityStmt": "REPLICA IDENTITY changes what replication logs",
    "RuleStmt": "CREATE RULE installs a rule, which rewrites later statements",
    "NotifyStmt": "NOTIFY sends a notification that other sessions act on",
    "CheckPointStmt": "CHECKPOINT forces a checkpoint of the whole server",
    "ClusterStmt": "CLUSTER rewrites a table in index order",
    "ReindexStmt": "REINDEX rebuilds indexes",
    "ReassignOwnedStmt": "REASSIGN OWNED gives every object of a role to another role",
}


@handles("VacuumStmt")
def _vacuum(w: Walk, f: JsonNode) -> None:
    word = "VACUUM" if f.get("is_vacuumcmd") else "ANALYZE"
    names = [relation_name(r["VacuumRelation"]["relation"]) for r in f.get("rels", [])
             if isinstance(r, dict) and isinstance(r.get("VacuumRelation", {}).get("relation"),
                                                   dict)]
    for name in names or [""]:
        _write(w, f"{word} rewrites or re-reads {name or 'every table'}",
               table(name) if name else None, "table")


@handles("RefreshMatViewStmt")
def _refresh(w: Walk, f: JsonNode) -> None:
    name = relation_name(f.get("relation", {}))
    _write(w, f"REFRESH MATERIALIZED VIEW replaces the stored rows of view {name}",
           thing("view", name), "view", reversible=False)


def _plain_write(w: Walk, f: JsonNode, reason: str) -> None:
    relation = f.get("relation")
    target = table(relation_name(relation)) if isinstance(relation, dict) \
        and relation.get("relname") else None
    _write(w, reason, target)


def _plain_handler(reason: str) -> Callable[[Walk, JsonNode], None]:
    def handler(w: Walk, f: JsonNode) -> None:
        _plain_write(w, f, reason)
    return handler


for _kind, _reason in _PLAIN_WRITES.items():
    handles(_kind)(_plain_handler(_reason))

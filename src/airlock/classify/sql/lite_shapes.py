"""The shape of each MySQL or SQLite statement, from sqlglot's expression tree.

The policy follows PostgreSQL's (`pg_statements.py`): DROP of anything is destructive, DROP
DATABASE catastrophic; TRUNCATE, DELETE or UPDATE reaching every row, ALTER … DROP COLUMN and
column type changes destructive; a statement is judged by its content wherever it hides.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.tokenizer_core import Token, TokenType

from airlock.classify.sql.functions import lite_function
from airlock.classify.sql.lite_where import SQLITE_SYSTEM_COLUMNS, LiteWhereReader, table_names
from airlock.classify.sql.truth import Reach
from airlock.classify.sql.verdict import Judgement, dotted, table, thing, words
from airlock.model import Risk, Verb

# What sqlglot must have made of a statement, by the statement's first word.
_QUERIES = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
_EXPECTED: dict[str, tuple[type[exp.Expr], ...]] = {
    "SELECT": _QUERIES, "(": _QUERIES, "VALUES": _QUERIES, "TABLE": _QUERIES,
    "WITH": (*_QUERIES, exp.Insert, exp.Update, exp.Delete),
    "INSERT": (exp.Insert,), "REPLACE": (exp.Insert,), "UPDATE": (exp.Update,),
    "DELETE": (exp.Delete,), "DROP": (exp.Drop,), "CREATE": (exp.Create,),
    "ALTER": (exp.Alter,), "TRUNCATE": (exp.TruncateTable,), "DESCRIBE": (exp.Describe,),
    "DESC": (exp.Describe,), "EXPLAIN": (exp.Describe,), "SHOW": (exp.Show,),
    "SET": (exp.Set,), "USE": (exp.Use,), "BEGIN": (exp.Transaction,),
    "START": (exp.Transaction,), "COMMIT": (exp.Commit,), "ROLLBACK": (exp.Rollback,),
    "PRAGMA": (exp.Pragma,), "ATTACH": (exp.Attach,), "DETACH": (exp.Detach,),
    "ANALYZE": (exp.Analyze,), "KILL": (exp.Kill,), "GRANT": (exp.Grant,),
    "REVOKE": (exp.Revoke,),
}


LITERAL_TOKENS = frozenset({
    TokenType.STRING, TokenType.NUMBER, TokenType.HEX_STRING, TokenType.BIT_STRING,
    TokenType.NATIONAL_STRING, TokenType.BYTE_STRING, TokenType.RAW_STRING,
    TokenType.HEREDOC_STRING, TokenType.UNICODE_STRING,
})

# Statements sqlglot misreads but whose every form is harmless: SAVEPOINT a, RELEASE a, and
# SQLite's END (COMMIT).
_SESSION = frozenset({"SAVEPOINT", "RELEASE", "END"})
_NAME_TOKENS = frozenset({TokenType.VAR, TokenType.IDENTIFIER})


def judge_statement(dialect: str, chunk: list[Token], node: exp.Expr, j: Judgement) -> None:
    # Only keywords and names decide a verdict here: a literal's text is not in the fingerprint.
    said = [t.text.upper() for t in chunk if t.token_type not in LITERAL_TOKENS]
    lead = said[0] if chunk and chunk[0].token_type not in LITERAL_TOKENS else ""
    if lead in _SESSION and (lead != "END" or dialect == "sqlite") and len(chunk) <= 3 and all(
            t.token_type in _NAME_TOKENS or t.text.upper() in ("SAVEPOINT", "TRANSACTION")
            for t in chunk[1:]):
        return
    if isinstance(node, exp.Command):
        _command(dialect, [lead, *said[1:]] if lead else [], j)
        return
    expected = _EXPECTED.get(lead)
    if expected is None or not isinstance(node, expected):
        j.unknown(f"a statement starting with {lead or 'nothing'} was read as "
                  f"{type(node).__name__}, which is not what it says it is")
        return
    _Shapes(dialect, j).judge(node)


def agrees(chunk: list[Token], node: exp.Expr) -> bool:
    """sqlglot made of the statement what its first word says it is."""
    lead = chunk[0].text.upper() if chunk and chunk[0].token_type not in LITERAL_TOKENS else ""
    expected = _EXPECTED.get(lead)
    return expected is not None and isinstance(node, expected)


class _Shapes:
    def __init__(self, dialect: str, j: Judgement) -> None:
        self.dialect = dialect
        self.j = j
        self.targets: set[int] = set()  # Table nodes already judged as targets
        self.inert: set[int] = set()  # subtrees that do not run (plain EXPLAIN)
        self.judged: set[int] = set()  # nodes already judged as part of a statement

    def judge(self, root: exp.Expr) -> None:
        self.shape(root)
        cte_names = {cte.alias_or_name for cte in root.find_all(exp.CTE)}
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in self.inert:
                continue
            if node is not root and id(node) not in self.judged and isinstance(
                    node, exp.Insert | exp.Update | exp.Delete | exp.Merge | exp.Drop
                    | exp.TruncateTable):
                self.shape(node)  # a statement inside a statement
            elif isinstance(node, exp.Func):
                self.call(node)
            elif isinstance(node, exp.Table) and id(node) not in self.targets and node.name \
                    and not (node.name in cte_names and not node.db):
                self.j.read(table(_name(node)), f"reads {_name(node)}")
            stack.extend(node.iter_expressions())

    def call(self, node: exp.Func) -> None:
        if isinstance(node, exp.Anonymous):
            name = str(node.name).lower()
        else:
            name = _func_name(node)
            if name not in _NAMED_BUILTINS:
                return  # a built-in that sqlglot knows: a read
        rule = lite_function(self.dialect, name)
        if rule is not None:
            self.j.add(rule.verb, rule.risk, f"{name}() {rule.does}", scope="server")

    def shape(self, node: exp.Expr) -> None:
        handler = _HANDLERS.get(type(node))
        if handler is None:
            for kind, fn in _HANDLERS.items():
                if isinstance(node, kind):
                    handler = fn
                    break
        if handler is None:
            self.j.unknown(f"airlock has no rule for {type(node).__name__} statements")
            return
        handler(self, node)

    def target(self, node: exp.Expr | None) -> str:
        if isinstance(node, exp.Schema):
            node = node.this
        if isinstance(node, exp.Table):
            self.targets.add(id(node))
            return _name(node)
        return "?"

    # -- rows

    def select(self, node: exp.Expr) -> None:
        into = node.args.get("into")
        if isinstance(into, exp.Into) and isinstance(into.this, exp.Table) \
                and not isinstance(into.this.this, exp.Parameter):
            name = self.target(into.this)
            self.j.add(Verb.WRITE, Risk.WRITE, f"SELECT … INTO creates table {name}",
                       table(name), "table", reversible=True)

    def insert(self, node: exp.Expr) -> None:
        name = self.target(node.this)
        self.j.add(Verb.WRITE, Risk.WRITE, f"INSERT adds rows to {name}", table(name), "rows",
                   reversible=True)
        if node.args.get("alternative") or node.args.get("conflict"):
            self.j.add(Verb.WRITE, Risk.WRITE, f"INSERT … replaces or updates existing rows of "
                       f"{name}", table(name), "rows")

    def update(self, node: exp.Expr) -> None:
        self._rows(node, [node.this], deleting=False)

    def delete(self, node: exp.Expr) -> None:
        tables = node.args.get("tables") or [node.this]
        self._rows(node, list(tables), deleting=True)

    def _rows(self, node: exp.Expr, targets: list[exp.Expr], *, deleting: bool) -> None:
        joined = [*(node.args.get("using") or []), node.args.get("from_"),
                  *(node.this.args.get("joins") or [] if isinstance(node.this, exp.Table)
                    else [])]
        others: set[str] = set()
        for part in joined:
            if isinstance(part, exp.Expr):
                for t in part.find_all(exp.Table):
                    others |= table_names(t)
        where = node.args.get("where")
        predicate = where.this if isinstance(where, exp.Where) else None
        for on in _inner_join_conditions(node):
            predicate = on if predicate is None else exp.And(this=predicate, expression=on)
        word, verb = ("DELETE", Verb.DELETE) if deleting else ("UPDATE", Verb.WRITE)
        for target in targets:
            names = table_names(target)
            name = self.target(target)
            if isinstance(node.this, exp.Table) and target is not node.this:
                self.targets.add(id(node.this))
            system = SQLITE_SYSTEM_COLUMNS if self.dialect == "sqlite" else frozenset()
            found = LiteWhereReader(self.j, names, others, target, system).reach(predicate)
            reach, why = found.reach, found.why
            if reach is Reach.ALL:
                does = "removes every row of" if deleting else "overwrites every row of"
                self.j.add(verb, Risk.DESTRUCTIVE, f"{word} {why} {does} {name}", table(name),
                           "table")
            elif reach is Reach.NONE:
                self.j.add(verb, Risk.WRITE, f"{word} touches no row of {name}: its WHERE is "
                           "never true", table(name), "rows")
            else:
                does = "removes" if deleting else "changes"
                self.j.add(verb, Risk.WRITE, f"{word} {does} the rows of {name} that its "
                           "WHERE selects", table(name), "rows")

    def truncate(self, node: exp.Expr) -> None:
        for t in node.expressions:
            name = self.target(t)
            self.j.add(Verb.DELETE, Risk.DESTRUCTIVE, f"TRUNCATE removes every row of {name}",
                       table(name), "table")

    # -- objects

    def drop(self, node: exp.Expr) -> None:
        kind = str(node.args.get("kind") or "TABLE").upper()
        cascade = " and everything that depends on it" if node.args.get("cascade") else ""
        for t in node.args.get("tables") or []:
            name = self.target(t) if isinstance(t, exp.Table) else dotted(t.name)
            if kind in ("DATABASE", "SCHEMA"):
                self.j.add(Verb.DESTROY, Risk.CATASTROPHIC, f"DROP {kind} destroys database "
                           f"{name} and everything in it", thing("database", name), "database")
                continue
            what = f"table {name} and every row in it" if kind == "TABLE" \
                else f"{kind.lower()} {name}"
            target = table(name) if kind == "TABLE" else thing(kind.lower(), name)
            self.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"DROP {kind} destroys {what}{cascade}",
                       target, kind.lower())

    def create(self, node: exp.Expr) -> None:
        kind = str(node.args.get("kind") or "").upper()
        this = node.this
        if isinstance(this, exp.Index):
            name = dotted(this.name)
            self.j.add(Verb.WRITE, Risk.WRITE, f"CREATE INDEX builds index {name}",
                       thing("index", name), "index", reversible=True)
            on = this.args.get("table")
            if isinstance(on, exp.Table):
                self.j.read(table(self.target(on)), f"CREATE INDEX reads every row of "
                            f"{_name(on)}")
            return
        if isinstance(this, exp.UserDefinedFunction):
            this = this.this
        name = self.target(this) if isinstance(this, exp.Table | exp.Schema) else "?"
        target = table(name) if kind == "TABLE" else thing(
            "database" if kind == "SCHEMA" else kind.lower() or "object", name)
        self.j.add(Verb.WRITE, Risk.WRITE, f"CREATE {kind} creates {kind.lower()} {name}",
                   target, kind.lower(), reversible=not node.args.get("replace"))

    def alter(self, node: exp.Expr) -> None:
        name = self.target(node.this)
        self.j.add(Verb.WRITE, Risk.WRITE, f"ALTER TABLE changes the definition of {name}",
                   table(name), "table", reversible=True)
        for action in node.args.get("actions") or []:
            self._alter_action(name, action)

    def _alter_action(self, name: str, action: exp.Expr) -> None:
        self.judged.add(id(action))
        if isinstance(action, exp.Drop):
            kind = str(action.args.get("kind") or "").upper()
            if kind == "COLUMN":
                cols = ", ".join(c.name for c in action.args.get("tables") or [])
                self.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"ALTER TABLE … DROP COLUMN destroys "
                           f"column {cols} of {name} and all its values", table(name), "column")
            elif action.args.get("cascade"):
                self.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"ALTER TABLE … DROP {kind} … CASCADE "
                           f"drops part of {name} and everything that depends on it",
                           table(name), "constraint")
            for t in action.args.get("tables") or []:
                self.targets.add(id(t))
        elif isinstance(action, exp.ModifyColumn) or (
                isinstance(action, exp.AlterColumn) and action.args.get("dtype")):
            self.j.add(Verb.WRITE, Risk.DESTRUCTIVE, f"ALTER TABLE … changes the type of a "
                       f"column of {name}, rewriting every value; a lossy conversion cannot be "
                       "undone", table(name), "column")
        elif isinstance(action, exp.AlterRename):
            self.target(action.this)
        elif not isinstance(action, _PLAIN_ALTERS):
            self.j.unknown(f"ALTER TABLE … {type(action).__name__} is a change airlock has no "
                           "rule for")

    # -- everything else

    def describe(self, node: exp.Expr) -> None:
        style = str(node.args.get("style") or "").upper()
        if self.dialect == "mysql" and style == "ANALYZE":
            return  # MySQL's EXPLAIN ANALYZE runs the statement: judged like any other
        self.inert.add(id(node.this))
        for t in node.this.find_all(exp.Table) if isinstance(node.this, exp.Expr) else []:
            self.j.read(table(_name(t)), f"EXPLAIN describes {_name(t)} without changing it")

    def set(self, node: exp.Expr) -> None:
        for item in node.expressions:
            variable = item.this.this if isinstance(item.this, exp.EQ) else item.this
            name = str(getattr(variable, "name", "") or "").lower()
            scope = str(item.args.get("kind") or "").upper()
            if name == "sql_mode":
                self.j.unknown("SET sql_mode changes how MySQL reads quotes and backslashes, so "
                               "airlock could read later statements differently")
            elif scope in ("GLOBAL", "PERSIST", "PERSIST_ONLY"):
                self.j.add(Verb.WRITE, Risk.WRITE, f"SET {scope} changes a setting of the whole "
                           "server", scope="server")
            elif name in ("foreign_key_checks", "sql_log_bin", "unique_checks", "password"):
                self.j.add(Verb.WRITE, Risk.WRITE, f"SET {name} changes what the server checks "
                           "or records", scope="session", reversible=True)

    def pragma(self, node: exp.Expr) -> None:
        inner = node.this
        name = str(inner.this.name if isinstance(inner, exp.EQ) else inner.name).lower()
        if name in _READ_PRAGMAS:
            return
        if name == "writable_schema":
            self.j.add(Verb.WRITE, Risk.DESTRUCTIVE, "PRAGMA writable_schema lets the schema "
                       "table be edited directly, which can corrupt the database",
                       scope="database")
            return
        self.j.add(Verb.WRITE, Risk.WRITE, f"PRAGMA {name} changes how the database works",
                   scope="database", reversible=True)

    def kill(self, node: exp.Expr) -> None:
        if str(node.args.get("kind") or "").upper() == "QUERY":
            self.j.add(Verb.WRITE, Risk.WRITE, "KILL QUERY cancels another session's query",
                       scope="server")
        else:
            self.j.add(Verb.DESTROY, Risk.DESTRUCTIVE, "KILL ends another session and rolls "
                       "back its work", scope="server")

    def use(self, node: exp.Expr) -> None:
        """USE switches the session's database; its name is not a table read."""
        for t in node.find_all(exp.Table):
            self.targets.add(id(t))

    def write(self, reason: str) -> None:
        self.j.add(Verb.WRITE, Risk.WRITE, reason, reversible=True)

    def attach(self, node: exp.Expr) -> None:
        self.write("ATTACH opens or creates another database file")

    def analyze(self, node: exp.Expr) -> None:
        self.write("ANALYZE gathers statistics")

    def grant(self, node: exp.Expr) -> None:
        self.write(f"{type(node).__name__.upper()} changes privileges")


_PLAIN_ALTERS = tuple(c for c in (
    getattr(exp, n, None) for n in ("ColumnDef", "AddConstraint", "AlterColumn", "RenameColumn",
                                    "DropPrimaryKey", "AlterSet", "AlterIndex")
) if isinstance(c, type))

_READ_PRAGMAS = words("""
    table_info table_xinfo table_list index_list index_info index_xinfo foreign_key_list
    foreign_key_check integrity_check quick_check database_list compile_options function_list
    module_list pragma_list collation_list data_version freelist_count page_count user_version
    application_id schema_version encoding
""")


def _read(self: _Shapes, node: exp.Expr) -> None:
    """Shows, sessions and transactions: nothing beyond what the walk finds."""


_HANDLERS: dict[type[exp.Expr], Callable[[_Shapes, exp.Expr], None]] = {
    exp.Select: _Shapes.select, exp.SetOperation: _read, exp.Values: _read, exp.Subquery: _read,
    exp.Insert: _Shapes.insert, exp.Update: _Shapes.update, exp.Delete: _Shapes.delete,
    exp.TruncateTable: _Shapes.truncate, exp.Drop: _Shapes.drop, exp.Create: _Shapes.create,
    exp.Alter: _Shapes.alter, exp.Describe: _Shapes.describe, exp.Set: _Shapes.set,
    exp.Pragma: _Shapes.pragma, exp.Kill: _Shapes.kill, exp.Show: _read, exp.Use: _Shapes.use,
    exp.Transaction: _read, exp.Commit: _read, exp.Rollback: _read, exp.Detach: _read,
    exp.Attach: _Shapes.attach, exp.Analyze: _Shapes.analyze, exp.Grant: _Shapes.grant,
    exp.Revoke: _Shapes.grant,
}


def _name(node: exp.Table) -> str:
    return dotted(node.catalog or None, node.db or None, node.name)


def _func_name(node: exp.Func) -> str:
    try:
        return str(node.sql_name()).lower()
    except Exception:  # some sqlglot functions have no single SQL name
        return str(node.key).lower()


# sqlglot turns a few side-effecting functions into typed expressions; they are judged by name.
_NAMED_BUILTINS = frozenset({"sleep", "load_file", "load_extension", "writefile", "readfile"})


def _inner_join_conditions(node: exp.Expr) -> list[exp.Expr]:
    """ON conditions of inner joins restrict the rows an UPDATE or DELETE reaches."""
    out = []
    for join in node.find_all(exp.Join):
        if join.args.get("side") or str(join.args.get("kind") or "").upper() in ("CROSS",):
            continue
        on = join.args.get("on")
        if isinstance(on, exp.Expr):
            out.append(on)
    return out


# --------------------------------------------------------------------------------------------
# What sqlglot keeps only as text, judged by its leading words


def _command(dialect: str, words: list[str], j: Judgement) -> None:
    lead, rest = (words[0] if words else ""), words[1:]
    second = rest[0] if rest else ""
    if lead in ("DROP", "TRUNCATE"):
        j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"{lead} {second} destroys an object".replace(
            "  ", " "), scope=second.lower())
    elif lead == "GRANT" and ("*.*" in "".join(rest) or "*" in rest) and \
            {"ALL", "SUPER", "FILE"} & set(rest):
        j.add(Verb.WRITE, Risk.DESTRUCTIVE, "GRANT of ALL, SUPER or FILE on every database "
              "hands out an account that can act out of airlock's reach", scope="server")
    elif lead in ("GRANT", "REVOKE", "RENAME", "OPTIMIZE", "REPAIR", "LOCK", "VACUUM",
                  "REINDEX") or (lead in ("CREATE", "ALTER") and second in ("USER", "ROLE")):
        j.add(Verb.WRITE, Risk.WRITE, f"{lead} {second} changes the database".replace("  ", " "),
              reversible=True)
    elif lead in ("CALL", "PREPARE", "EXECUTE"):
        j.add(Verb.EXECUTE, Risk.UNKNOWN, f"{lead} runs SQL whose text is not part of this "
              "input (a procedure or a prepared statement)")
    elif lead == "REPLACE":
        j.add(Verb.WRITE, Risk.WRITE, "REPLACE adds rows, deleting rows with the same key")
    elif lead in ("SHOW", "UNLOCK", "DEALLOCATE", "SAVEPOINT", "RELEASE", "CHECKSUM", "CHECK",
                  "HELP") or (lead == "EXPLAIN" and (dialect == "sqlite" or second != "ANALYZE")):
        return  # reads, or session-local
    else:
        j.unknown(f"{lead or 'this'} {second} is a statement airlock cannot read".replace(
            "  ", " "))

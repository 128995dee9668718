"""Database clients: psql, mysql, sqlite3, redis-cli, mongosh, and the server tools around them.

SQL given by `psql -c`, `mysql -e`, `sqlite3 DB 'SQL'`, heredocs, here-strings or `echo … |` is
judged by the SQL classifier (embedded.py); SQL in a file or on a stdin that cannot be seen is
unknown. Client-side commands (psql backslash commands, sqlite3 dot-commands, redis commands)
are judged here. Every effect names the server and database: Target("postgres",
"host:port/db") and friends, from options, connection URLs and conninfo strings, PG*/MYSQL_*
variables set by the command, or a $DATABASE_URL it refers to.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airlock.classify.shell import targets
from airlock.classify.shell.argv import Args, parse_args
from airlock.classify.shell.base import unknown
from airlock.classify.shell.embedded import sql_effects
from airlock.classify.shell.rules import Program, decide
from airlock.classify.shell.words import Word
from airlock.model import Effect, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Env, Handler, Runner, Stdin



_PSQL_READ_META = ("\\d", "\\l", "\\x", "\\timing", "\\conninfo", "\\q", "\\echo", "\\encoding",
                   "\\pset", "\\set", "\\unset", "\\a", "\\t", "\\H", "\\C", "\\f", "\\T",
                   "\\z", "\\sf", "\\sv", "\\lo_list", "\\copyright", "\\?", "\\h", "\\g",
                   "\\errverbose", "\\prompt", "\\qecho", "\\warn", "\\if", "\\elif", "\\else",
                   "\\endif", "\\dconfig", "\\getenv", "\\setenv", "\\bind", "\\close")


def _psql_meta(run: Runner, line: str, target: Target, depth: int) -> list[Effect]:
    command = line.split(None, 1)[0] if line.split() else line
    if command in ("\\!",) or command.startswith("\\!"):
        return run.script(line[2:].strip(), depth + 1, "by psql \\!")
    if command in ("\\i", "\\ir", "\\include", "\\include_relative", "\\gexec", "\\c",
                   "\\connect"):
        return [unknown(f"psql {command} runs SQL or connects where airlock cannot see",
                        target)]
    if command in ("\\copy",):
        verb = Risk.WRITE
        return [Effect(Verb.WRITE, verb, "psql \\copy moves data between a file and a table",
                       target, "table")]
    if command in ("\\o", "\\out", "\\w", "\\write", "\\lo_import", "\\lo_export", "\\s"):
        return [Effect(Verb.WRITE, Risk.WRITE, f"psql {command} writes", target)]
    if command == "\\lo_unlink":
        return [Effect(Verb.DELETE, Risk.DESTRUCTIVE, "psql \\lo_unlink deletes a large object",
                       target)]
    if command.startswith(_PSQL_READ_META):
        return [Effect(Verb.READ, Risk.READ, f"psql {command}", target)]
    return [unknown(f"psql meta-command {command} is not known", target)]


def psql_script(run: Runner, text: str | None, target: Target, origin: str,
                depth: int) -> list[Effect]:
    """psql input: SQL, with backslash meta-commands on lines of their own."""
    if text is None:
        return sql_effects(None, "postgres", target, origin)
    sql_lines: list[str] = []
    effects: list[Effect] = []
    for line in text.splitlines():
        if line.lstrip().startswith("\\"):
            effects.extend(_psql_meta(run, line.strip(), target, depth))
        else:
            sql_lines.append(line)
    sql = "\n".join(sql_lines)
    if sql.strip():
        effects.extend(sql_effects(sql, "postgres", target, origin))
    return effects or [Effect(Verb.READ, Risk.READ, "psql with no statements", target)]


def postgres_target(args: Args, env: Env, dbname: Word | None = None,
                    user: Word | None = None) -> list[Target]:
    """The server and database a libpq client connects to, and any variable naming it."""
    found: list[Target] = []
    host = args.last("-h", "--host") or env.get("PGHOST")
    port = args.last("-p", "--port") or env.get("PGPORT")
    user_name = args.last("-U", "--username") or (user.value if user else None) or \
        env.get("PGUSER")
    db_words = args.values(frozenset({"-d", "--dbname", "--maintenance-db"}))
    word = db_words[0] if db_words else dbname
    name: str | None = None
    if word is not None:
        text = _resolve(word, env, found)
        if text is None:
            return [*found, Target("postgres", f"{(host or '?').lower()}:{port or '?'}/?")]
        if "://" in text:
            url_target = targets.database_url(text)
            if url_target is not None:
                return [*found, url_target]
        elif "=" in text:
            info = targets.conninfo(text)
            host = info.get("host", host)
            port = info.get("port", port)
            name = info.get("dbname")
            user_name = info.get("user", user_name)
        else:
            name = text
    name = name or env.get("PGDATABASE") or user_name
    return [*found, targets.database("postgres", host, port, name)]


def _resolve(word: Word, env: Env, found: list[Target]) -> str | None:
    """A word's value, or the value of the one variable it names when assigned earlier."""
    if word.value is not None:
        return word.value
    names = word.variables
    if len(names) == 1 and word.template == "${" + names[0] + "}":
        found.append(Target("env", names[0]))
        return env.get(names[0])
    return None


def _psql(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if args.opaque:
        return [unknown("psql's options are computed at run time (they may hold SQL)")]
    dbname = args.positionals[0] if args.positionals else None
    user = args.positionals[1] if len(args.positionals) > 1 else None
    found = postgres_target(args, env, dbname, user)
    target = found[-1]
    extra = found[:-1]
    if any(f.name in program.help_flags for f in args.flags):
        return [Effect(Verb.READ, Risk.READ, "psql --help")]
    effects: list[Effect] = []
    inputs = [f for f in args.flags if f.name in ("-c", "--command", "-f", "--file")]
    for flag in inputs:
        value = flag.value
        if flag.name in ("-c", "--command"):
            text = value.value if value is not None else None
            effects.extend(psql_script(run, text, target, "by psql -c", depth))
        elif value is not None and value.value == "-":
            effects.extend(psql_script(run, stdin.text if stdin else None, target,
                                       f"by psql from {stdin.origin if stdin else 'stdin'}",
                                       depth))
        else:
            shown = value.display if value is not None else "?"
            effects.append(unknown(f"psql runs the SQL file {shown}, which cannot be seen",
                                   target))
    if not inputs:
        if args.has(frozenset({"-l", "--list"})):
            effects.append(Effect(Verb.READ, Risk.READ, "psql --list lists databases", target))
        elif stdin is not None:
            effects.extend(psql_script(run, stdin.text, target, f"by psql from {stdin.origin}",
                                       depth))
        else:
            effects.append(unknown("psql reads SQL from standard input, which cannot be seen",
                                   target))
    return effects + named_by_variables(extra, effects)


def named_by_variables(variables: Sequence[Target], effects: Sequence[Effect]) -> list[Effect]:
    """When a variable names the database (`psql "$DATABASE_URL"`), one effect on
    Target("env", NAME) with the worst risk, so the gate can resolve the variable too."""
    if not variables:
        return []
    worst = max(effects, key=lambda e: e.risk.rank, default=None)
    if worst is None:
        return []
    return [Effect(worst.verb, worst.risk, f"acts on the database named by ${v.value}", v,
                   "database") for v in variables]


def _pg_tool(run: Runner, program: Program, words: list[Word], env: Env,
             stdin: Stdin | None, depth: int) -> list[Effect]:
    """dropdb, createdb, pg_dump, pg_restore …: rules decide, the connection names the target."""
    decision = decide(program, words[1:], env)
    args = decision.args
    name = words[0].value or ""
    positional = args.positionals[0] if args.positionals else None
    if name.startswith(("pg_dump", "pg_restore")) and positional is not None and \
            not args.values(frozenset({"-d", "--dbname"})):
        positional = positional if name.startswith("pg_dump") else None
    found = postgres_target(args, env, positional)
    effects = _retarget(decision.effects(), found[-1])
    return effects + named_by_variables(found[:-1], effects)


# --------------------------------------------------------------------------------------------
# MySQL, SQLite


def mysql_target(args: Args, env: Env, dbname: Word | None) -> Target:
    host = args.last("-h", "--host") or env.get("MYSQL_HOST")
    port = args.last("-P", "--port") or env.get("MYSQL_TCP_PORT")
    db = args.last("-D", "--database") or (dbname.value if dbname else None)
    return targets.database("mysql", host, port, db)


def _mysql(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if args.opaque:
        return [unknown("mysql's options are computed at run time (they may hold SQL)")]
    if any(f.name in program.help_flags for f in args.flags):
        return [Effect(Verb.READ, Risk.READ, "mysql --help")]
    target = mysql_target(args, env, args.positionals[0] if args.positionals else None)
    executes = args.values(frozenset({"-e", "--execute"}))
    if executes:
        return [e for w in executes for e in sql_effects(w.value, "mysql", target,
                                                           "by mysql -e")]
    if stdin is not None:
        return sql_effects(stdin.text, "mysql", target, f"by mysql from {stdin.origin}")
    return [unknown("mysql reads SQL from standard input, which cannot be seen", target)]


def _mysql_tool(run: Runner, program: Program, words: list[Word], env: Env,
                stdin: Stdin | None, depth: int) -> list[Effect]:
    decision = decide(program, words[1:], env)
    args = decision.args
    rest = args.positionals
    db = rest[1] if len(rest) > 1 and (rest[0].value or "").lower() in (
        "drop", "create") else (rest[0] if rest and (words[0].value or "") != "mysqladmin"
                                else None)
    target = mysql_target(args, env, db)
    return _retarget(decision.effects(), target)


_SQLITE_READ_DOTS = frozenset([".tables", ".table", ".schema", ".indexes", ".indices", ".dump",
                               ".headers", ".header", ".mode", ".show", ".help", ".databases",
                               ".dbinfo", ".print", ".width", ".nullvalue", ".separator",
                               ".timer", ".echo", ".bail", ".explain", ".eqp", ".stats",
                               ".changes", ".sha3sum", ".lint", ".expert", ".fullschema",
                               ".quit", ".exit", ".prompt", ".parameter", ".timeout",
                               ".vfsinfo", ".vfsname", ".vfslist", ".limit", ".selftest",
                               ".recover", ".cd", ".scanstats", ".nonce", ".check", ".testcase",
                               ".binary", ".crnl", ".intck"])
_SQLITE_WRITE_DOTS = frozenset([".output", ".once", ".save", ".backup", ".clone", ".log",
                                ".excel", ".archive", ".ar", ".import", ".iotrace", ".dbconfig"])


def sqlite_script(run: Runner, text: str | None, target: Target | None, origin: str,
                  depth: int) -> list[Effect]:
    if text is None:
        return sql_effects(None, "sqlite", target, origin)
    effects: list[Effect] = []
    sql_lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("."):
            sql_lines.append(line)
            continue
        dot = stripped.split(None, 1)[0].lower()
        if dot in _SQLITE_READ_DOTS:
            effects.append(Effect(Verb.READ, Risk.READ, f"sqlite3 {dot}", target))
        elif dot in _SQLITE_WRITE_DOTS:
            effects.append(Effect(Verb.WRITE, Risk.WRITE, f"sqlite3 {dot} writes", target))
        elif dot == ".restore":
            effects.append(Effect(Verb.DESTROY, Risk.CATASTROPHIC,
                                  "sqlite3 .restore replaces the whole database", target,
                                  "database"))
        elif dot in (".shell", ".system"):
            effects.extend(run.script(stripped.split(None, 1)[1] if " " in stripped else "",
                                      depth + 1, f"by sqlite3 {dot}"))
        else:
            effects.append(unknown(f"sqlite3 {dot} reads files, loads code or switches "
                                   "databases", target))
    sql = "\n".join(sql_lines)
    if sql.strip():
        effects.extend(sql_effects(sql, "sqlite", target, origin))
    return effects


def _sqlite(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
            depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if args.opaque:
        return [unknown("sqlite3's options are computed at run time")]
    if any(f.name in program.help_flags for f in args.flags):
        return [Effect(Verb.READ, Risk.READ, "sqlite3 --help")]
    if args.values(frozenset({"-init"})):
        return [unknown("sqlite3 -init runs a file of commands that cannot be seen")]
    pos = args.positionals
    db = pos[0] if pos else None
    target = None
    if db is not None and db.display not in (":memory:", ""):
        target = Target("path", db.display, contextual=True)
    commands = list(args.values(frozenset({"-cmd"}))) + list(pos[1:])
    effects: list[Effect] = []
    for command in commands:
        effects.extend(sqlite_script(run, command.value, target, "by sqlite3", depth))
    if not pos[1:]:
        if stdin is not None:
            effects.extend(sqlite_script(run, stdin.text, target,
                                         f"by sqlite3 from {stdin.origin}", depth))
        elif not commands:
            effects.append(unknown("sqlite3 reads SQL from standard input, which cannot be "
                                   "seen", target))
    return effects


# --------------------------------------------------------------------------------------------
# Redis, MongoDB


def _redis(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    url = args.last("-u")
    if url is not None:
        target = targets.database_url(url) or targets.database("redis", None, None, "?")
    else:
        host = args.last("-h") or env.get("REDISCLI_HOST")
        target = targets.database("redis", host, args.last("-p"), args.last("-n") or "0")
    if args.opaque:
        return [unknown("redis-cli's arguments are computed at run time", target)]
    if args.values(frozenset({"--eval"})) or args.has(frozenset({"--cluster"})):
        return [unknown("redis-cli runs a script or cluster command that cannot be seen",
                        target)]
    if any(f.name in program.help_flags for f in args.flags):
        return [Effect(Verb.READ, Risk.READ, "redis-cli --help")]
    if args.has(frozenset({"--scan", "--bigkeys", "--memkeys", "--hotkeys", "--latency",
                           "--latency-history", "--latency-dist", "--stat", "--rdb"})):
        return [Effect(Verb.READ, Risk.READ, "redis-cli inspects the server", target)]
    if args.positionals:
        return _retarget(decide(program, words[1:], env).effects(), target)
    if stdin is None or stdin.text is None:
        return [unknown("redis-cli reads commands from standard input, which cannot be seen",
                        target)]
    effects: list[Effect] = []
    for line in stdin.text.splitlines():
        try:
            parts = shlex.split(line)
        except ValueError:
            return [unknown("a redis command on standard input does not parse", target)]
        if parts:
            effects.extend(_retarget(decide(program, [Word.literal(p) for p in parts], env)
                                     .effects(), target))
    return effects


def _retarget(effects: Sequence[Effect], target: Target) -> list[Effect]:
    """Effects that name no target act on the client's database."""
    return [dataclasses.replace(e, target=target) if e.target is None else e for e in effects]


def _mongo(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if args.opaque:
        return [unknown("mongosh's options are computed at run time")]
    if any(f.name in program.help_flags for f in args.flags):
        return [Effect(Verb.READ, Risk.READ, "mongosh --help")]
    target = mongo_target(args, env)
    scripts = args.values(frozenset({"--eval"}))
    if args.values(frozenset({"-f", "--file"})) or [p for p in args.positionals
                                                   if (p.value or "").endswith(".js")]:
        return [unknown("mongosh runs a script file that cannot be seen", target)]
    texts = [w.value for w in scripts] if scripts else [stdin.text if stdin else None]
    effects: list[Effect] = []
    for text in texts:
        effects.extend(_retarget(mongo_script(text), target))
    return effects


# --------------------------------------------------------------------------------------------
# MongoDB shell JavaScript: a token scan (the same caution as inline.py: code built at run
# time is unknown)

_MONGO_CATASTROPHIC = re.compile(r"\bdropDatabase\s*\(")
_MONGO_DESTRUCTIVE = re.compile(r"\.(drop|deleteMany|deleteOne|remove|findOneAndDelete|"
                                r"findAndModify|bulkWrite|dropUser|dropAllUsers|dropRole|"
                                r"dropAllRoles)\s*\(|\$out\b|\$merge\b|dropTarget")
_MONGO_DYNAMIC = re.compile(r"\b(eval|load|adminCommand|runCommand|Function)\s*\(")
_MONGO_WRITE = re.compile(r"\.(insert|insertOne|insertMany|update|updateOne|updateMany|"
                          r"replaceOne|findOneAndUpdate|findOneAndReplace|createCollection|"
                          r"createIndex|createIndexes|dropIndex|dropIndexes|createUser|"
                          r"grantRolesToUser|save|renameCollection)\s*\(")
_MONGO_READ = re.compile(r"\.(find|findOne|count|countDocuments|estimatedDocumentCount|"
                         r"distinct|aggregate|getCollectionNames|getCollectionInfos|stats|"
                         r"getIndexes|listCollections|serverStatus|hostInfo|isMaster|hello|"
                         r"ping|getName|getSiblingDB|getMongo|explain|version|"
                         r"getCollection)\s*\(|\bshow\s+\w+|\bprintjson\b|\bprint\s*\(")


def mongo_script(code: str | None) -> list[Effect]:
    if code is None:
        return [unknown("the MongoDB shell code cannot be seen before it runs")]
    if _MONGO_DYNAMIC.search(code):
        return [unknown("the MongoDB shell code runs commands airlock cannot read")]
    if _MONGO_CATASTROPHIC.search(code):
        return [Effect(Verb.DESTROY, Risk.CATASTROPHIC, "drops a whole MongoDB database", None,
                       "database")]
    found = _MONGO_DESTRUCTIVE.search(code)
    if found:
        return [Effect(Verb.DELETE, Risk.DESTRUCTIVE, f"MongoDB {found.group(0).strip('.(')} "
                       "deletes documents or collections", None, "collection")]
    if _MONGO_WRITE.search(code):
        return [Effect(Verb.WRITE, Risk.WRITE, "writes to MongoDB", None, "collection")]
    if _MONGO_READ.search(code):
        return [Effect(Verb.READ, Risk.READ, "reads from MongoDB", None, "collection")]
    return [unknown("the MongoDB shell code is not understood")]



def mongo_target(args: Args, env: Env) -> Target:
    for word in [*args.values(frozenset({"--uri", "--host"})), *args.positionals]:
        if word.value and word.value.startswith(("mongodb://", "mongodb+srv://")):
            found = targets.database_url(word.value)
            if found is not None:
                return found
    host = args.last("--host")
    db = next((w.value for w in args.positionals if w.value and "/" not in w.value
               and not w.value.endswith(".js")), None)
    if db and "/" in db:
        host, db = db.split("/", 1)
    return targets.database("mongodb", host, args.last("--port"), db)


def _mongo_tool(run: Runner, program: Program, words: list[Word], env: Env,
                stdin: Stdin | None, depth: int) -> list[Effect]:
    decision = decide(program, words[1:], env)
    target = mongo_target(decision.args, env)
    db = decision.args.last("-d", "--db")
    if db and target.value.endswith("/?"):
        target = Target("mongodb", target.value[:-1] + db)
    return _retarget(decision.effects(), target)


HANDLERS: dict[str, Handler] = {
    "psql": _psql,
    "pg-tool": _pg_tool,
    "mysql": _mysql,
    "mysql-tool": _mysql_tool,
    "sqlite3": _sqlite,
    "redis-cli": _redis,
    "mongosh": _mongo,
    "mongo-tool": _mongo_tool,
}

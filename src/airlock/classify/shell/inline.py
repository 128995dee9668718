"""Inline interpreters: `python -c`, `node -e`, `ruby -e`, `perl -e`, `php -r`, heredocs fed to
them, `mongosh --eval`.

Python is read with the stdlib `ast` module, so calls are resolved through imports
(`from shutil import rmtree as r; r(x)` is shutil.rmtree). The other languages are scanned for
tokens instead: a careful scan of call names and of the string literal that follows them. A
token scan can be fooled by code built at run time, which is why `eval`, `Function`, dynamic
`require` and the like make the code unknown rather than guessed.

What the scans look for: destructive library calls (shutil.rmtree, os.remove, fs.rmSync,
FileUtils.rm_rf, unlink…), commands handed to a shell (os.system, subprocess, execSync, system,
backticks) which are judged as shell code, SQL handed to a database driver (judged by the SQL
classifier) and HTTP calls with a literal URL (judged by the HTTP classifier). Code that does
none of these still runs with the user's rights: it is a write, like any local program.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from airlock.classify.shell import embedded, targets
from airlock.classify.shell.argv import Args, parse_args
from airlock.classify.shell.base import unknown
from airlock.classify.shell.rules import Program
from airlock.classify.shell.scripts import run_script
from airlock.classify.shell.words import Word
from airlock.model import Effect, HttpRequest, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import CodeFile, Env, Handler, Language, Runner, Stdin


def _write(language: str) -> Effect:
    return Effect(Verb.WRITE, Risk.WRITE, f"runs inline {language} code")


def _destroy(reason: str, target: Target | None = None, scope: str = "file") -> Effect:
    return Effect(Verb.DELETE, Risk.DESTRUCTIVE, reason, target, scope)


# --------------------------------------------------------------------------------------------
# Python

_PY_DESTRUCTIVE = {"shutil.rmtree": "directory", "os.remove": "file", "os.unlink": "file",
                   "os.rmdir": "directory", "os.removedirs": "directory", "os.truncate": "file",
                   "send2trash.send2trash": "file"}
_PY_SHELL = frozenset({"os.system", "os.popen", "subprocess.getoutput",
                       "subprocess.getstatusoutput", "commands.getoutput", "pty.spawn"})
_PY_PROCESS = frozenset({"subprocess.run", "subprocess.call", "subprocess.check_call",
                         "subprocess.check_output", "subprocess.Popen",
                         "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell"})
_PY_DYNAMIC = frozenset({"eval", "exec", "compile", "__import__", "importlib.import_module",
                         "ctypes.CDLL", "ctypes.cdll.LoadLibrary", "marshal.loads",
                         "pickle.loads", "runpy.run_path", "runpy.run_module", "code.interact",
                         "globals", "locals", "vars", "setattr", "delattr"})
# Calls that start programs in ways not followed here (execv's argv, spawn modes): unknown.
_PY_EXEC = re.compile(r"^os\.(exec|spawn|posix_spawn|fork)\w*$")
# Libraries whose calls run shell commands or remote commands.
_PY_RUNNERS = ("sh", "plumbum", "pexpect", "invoke", "fabric", "paramiko", "sarge", "envoy",
               "delegator", "ptyprocess", "docker", "kubernetes")
_PY_HTTP = re.compile(r"^(requests|httpx|urllib3)\.(get|post|put|patch|delete|head|options|"
                      r"request)$")
_PY_WRITES = frozenset({"shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree",
                        "shutil.move", "os.rename", "os.replace", "os.makedirs", "os.mkdir",
                        "os.symlink", "os.link", "os.chmod", "os.chown"})
_PY_PURE_ROOTS = frozenset({
    "json", "sys", "platform", "math", "re", "datetime", "time", "hashlib", "base64",
    "binascii", "urllib.parse", "textwrap", "string", "collections", "itertools", "functools",
    "statistics", "random", "uuid", "decimal", "fractions", "pprint", "locale", "shlex", "glob",
    "fnmatch", "struct", "zlib", "sysconfig", "site", "inspect", "typing", "tomllib", "csv",
    "os.path", "operator", "calendar", "html", "unicodedata", "ipaddress", "difflib", "heapq",
    "bisect", "copy", "enum", "dataclasses", "importlib.metadata", "email.utils", "keyword",
})
_PY_PURE_NAMES = frozenset({
    "print", "len", "str", "int", "float", "bool", "repr", "sorted", "reversed", "list", "dict",
    "set", "tuple", "range", "enumerate", "zip", "min", "max", "sum", "abs", "round",
    "isinstance", "issubclass", "type", "format", "any", "all", "map", "filter", "hex", "ord",
    "chr", "hash", "id", "iter", "next", "divmod", "pow", "bin", "oct", "frozenset", "bytes",
    "bytearray", "slice", "dir", "vars", "input", "callable", "hasattr", "ascii", "object",
    "os.getcwd", "os.getenv", "os.environ.get", "os.listdir", "os.stat", "os.walk",
    "os.scandir", "os.cpu_count", "os.getpid", "os.uname", "os.get_terminal_size",
    "pathlib.Path", "open",
})
_PY_PURE_METHODS = frozenset({
    "split", "rsplit", "strip", "lstrip", "rstrip", "join", "format", "upper", "lower",
    "replace", "startswith", "endswith", "get", "keys", "values", "items", "read", "readlines",
    "readline", "decode", "encode", "append", "extend", "count", "index", "find", "sort", "copy",
    "title", "capitalize", "splitlines", "isdigit", "isalpha", "group", "groups", "match",
    "search", "findall", "sub", "hexdigest", "digest", "update", "total_seconds", "strftime",
    "isoformat", "timestamp", "exists", "is_file", "is_dir", "resolve", "absolute", "read_text",
    "read_bytes", "iterdir", "glob", "rglob", "stat", "setdefault", "most_common", "partition",
    "zfill", "ljust", "rjust", "center", "casefold", "as_posix", "relative_to", "with_suffix",
    "joinpath", "parent", "exit", "flush", "write", "dumps", "loads", "fromisoformat", "now",
    "utcnow", "today", "date", "pop", "add", "discard", "union", "intersection",
})
_DB_MODULES = {"sqlite3": "sqlite", "psycopg": "postgres", "psycopg2": "postgres",
               "asyncpg": "postgres", "pg8000": "postgres", "pymysql": "mysql",
               "MySQLdb": "mysql", "mysql": "mysql", "aiomysql": "mysql", "sqlalchemy": "",
               "django": "", "peewee": "", "records": "", "duckdb": ""}
_SQL_METHODS = frozenset({"execute", "executemany", "executescript", "exec_driver_sql",
                          "fetch", "fetchrow", "fetchval", "query", "raw", "run_sql"})
_DESTRUCTIVE_METHOD = re.compile(r"^(delete|drop|destroy|terminate|purge|remove|truncate|"
                                 r"flush|wipe|erase)(_|$)|^(unlink|rmdir|rmtree|flushall|"
                                 r"flushdb|dropDatabase|drop_all|drop_database)$")
_CATASTROPHIC_METHOD = re.compile(r"^(flushall|flushdb|dropDatabase|drop_database|drop_all|"
                                  r"delete_bucket|delete_db_instance|delete_db_cluster|"
                                  r"delete_volume|delete_table|delete_backup.*|"
                                  r"delete_snapshot|delete_namespace|delete_project)$")


def python(run: Runner, code: str | None, depth: int) -> list[Effect]:
    try:
        return _python(run, code, depth)
    except RecursionError:
        return [unknown("the inline Python code nests too deeply to analyse")]


def _python(run: Runner, code: str | None, depth: int) -> list[Effect]:
    if code is None:
        return [unknown("the inline Python code cannot be seen before it runs")]
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [unknown("the inline Python code does not parse")]
    aliases: dict[str, str] = {}
    try:
        nodes = list(ast.walk(tree))
    except RecursionError:
        return [unknown("the inline Python code nests too deeply")]
    for node in nodes:
        if isinstance(node, ast.Import):
            for imported in node.names:
                aliases[imported.asname or imported.name.split(".")[0]] = \
                    imported.name if imported.asname else imported.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for imported in node.names:
                aliases[imported.asname or imported.name] = f"{node.module}.{imported.name}"
    dialect = next((d for module, d in _DB_MODULES.items()
                    if any(v == module or v.startswith(module + ".") for v in aliases.values())),
                   None)
    db_target = _python_db_target(nodes, aliases)
    effects: list[Effect] = []
    pure = True
    for node in nodes:
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(
            first.value, str) else None
        if name in _PY_DYNAMIC or (name == "getattr" and len(node.args) > 1 and not isinstance(
                node.args[1], ast.Constant)) or isinstance(node.func, ast.Subscript):
            return [unknown(f"the inline Python runs code built at run time ({name or 'x[…]()'})")]
        if name is not None and (_PY_EXEC.match(name) or name.split(".")[0] in _PY_RUNNERS):
            return [unknown(f"the inline Python starts programs through {name}()")]
        if name in _PY_DESTRUCTIVE:
            target = Target("path", literal, contextual=True) if literal else None
            effects.append(_destroy(f"{name}() deletes files", target, _PY_DESTRUCTIVE[name]))
        elif name in _PY_SHELL or name in _PY_PROCESS:
            effects.extend(_python_process(run, node, name, depth))
        elif name is not None and _PY_HTTP.match(name):
            effects.extend(_python_http(node, name))
        elif method in _SQL_METHODS and dialect is not None:
            sql = literal if literal is not None else _joined_literal(first)
            effects.extend(embedded.sql_effects(sql, dialect or "postgres", db_target,
                                               "by inline Python"))
        elif name == "sqlalchemy.text" and literal is not None:
            effects.extend(embedded.sql_effects(literal, dialect or "postgres", db_target,
                                               "by inline Python"))
        elif method is not None and _CATASTROPHIC_METHOD.match(method):
            effects.append(Effect(Verb.DESTROY, Risk.CATASTROPHIC,
                                  f"the inline Python calls {method}()", db_target, "database"))
        elif (method is not None and _DESTRUCTIVE_METHOD.match(method) and method not in (
                "remove",)) or method in ("unlink", "rmdir", "rmtree"):
            effects.append(_destroy(f"the inline Python calls {method}()"))
        elif name in _PY_WRITES or method in ("write_text", "write_bytes", "touch", "mkdir",
                                              "rename", "replace", "symlink_to", "chmod"):
            effects.append(Effect(Verb.WRITE, Risk.WRITE, f"the inline Python calls "
                                                           f"{name or method}()"))
        elif name == "open" and _opens_for_writing(node):
            target = Target("path", literal, contextual=True) if literal else None
            effects.append(Effect(Verb.WRITE, Risk.WRITE, "the inline Python writes a file",
                                  target, "file"))
        elif not _pure_python(name, method):
            pure = False
    if not effects:
        return [Effect(Verb.READ, Risk.READ, "inline Python that only computes and prints")] \
            if pure else [_write("Python")]
    return effects


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == "getattr" and len(node.args) == 2 and \
            isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
        base = _dotted(node.args[0], aliases)  # getattr(os, "system") is os.system
        return f"{base}.{node.args[1].value}" if base else None
    if isinstance(node, ast.Call):
        base = _dotted(node.func, aliases)
        return f"{base}()" if base else None
    return None


def _pure_python(name: str | None, method: str | None) -> bool:
    if name is not None and (name in _PY_PURE_NAMES or any(
            name == root or name.startswith(root + ".") for root in _PY_PURE_ROOTS)):
        return True
    return method is not None and method in _PY_PURE_METHODS


def _opens_for_writing(node: ast.Call) -> bool:
    mode: ast.expr | None = node.args[1] if len(node.args) > 1 else next(
        (k.value for k in node.keywords if k.arg == "mode"), None)
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(c in mode.value for c in "wax+")
    return True


def _joined_literal(node: ast.expr | None) -> str | None:
    """Adjacent or +-joined string constants; None for anything computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _joined_literal(node.left), _joined_literal(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _python_process(run: Runner, node: ast.Call, name: str, depth: int) -> list[Effect]:
    first = node.args[0] if node.args else None
    shell = name in _PY_SHELL or name.endswith("_shell") or any(
        k.arg == "shell" and not (isinstance(k.value, ast.Constant) and not k.value.value)
        for k in node.keywords)
    text = _joined_literal(first)
    if text is not None:
        return run.script(text, depth + 1, f"by Python {name}()")
    if isinstance(first, ast.List | ast.Tuple):
        items = [_joined_literal(e) for e in first.elts]
        if any(i is None for i in items) or not items:
            return [unknown(f"Python {name}() runs a command built at run time")]
        if shell:
            return run.script(items[0], depth + 1, f"by Python {name}(shell=True)")
        return run.invoke([Word.literal(i or "") for i in items], {}, None, depth + 1)
    if name == "asyncio.create_subprocess_exec" and node.args:
        items = [_joined_literal(e) for e in node.args]
        if all(i is not None for i in items):
            return run.invoke([Word.literal(i or "") for i in items], {}, None, depth + 1)
    return [unknown(f"Python {name}() runs a command built at run time")]


def _python_http(node: ast.Call, name: str) -> list[Effect]:
    method = name.rsplit(".", 1)[1].upper()
    args = list(node.args)
    if method == "REQUEST":
        verb = _joined_literal(args.pop(0)) if args else None
        if verb is None:
            return embedded.http_effects(None, "by inline Python")
        method = verb.upper()
    url = _joined_literal(args[0]) if args else next(
        (_joined_literal(k.value) for k in node.keywords if k.arg == "url"), None)
    if url is None:
        return embedded.http_effects(None, "by inline Python")
    return embedded.http_effects(HttpRequest(method, url), "by inline Python")


def _python_db_target(nodes: Sequence[ast.AST], aliases: dict[str, str]) -> Target | None:
    for node in nodes:
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases) or ""
        literal = _joined_literal(node.args[0]) if node.args else None
        if name.endswith("sqlite3.connect") or name == "sqlite3.connect":
            if literal and literal != ":memory:":
                return Target("path", literal, contextual=True)
        elif name.endswith(("connect", "create_engine", "create_async_engine",
                            "create_pool", "Connection")):
            if literal and "://" in literal:
                return targets.database_url(literal.replace("+psycopg2", "").replace(
                    "+psycopg", "").replace("+asyncpg", "").replace("+pymysql", ""))
            if literal and "=" in literal:
                info = targets.conninfo(literal)
                return targets.database("postgres", info.get("host"), info.get("port"),
                                        info.get("dbname"))
            keywords = {k.arg: _joined_literal(k.value) for k in node.keywords if k.arg}
            if keywords:
                return targets.database("postgres", keywords.get("host"), keywords.get("port"),
                                        keywords.get("dbname") or keywords.get("database"))
    return Target("postgres", "?:?/?")


# --------------------------------------------------------------------------------------------
# Token scans for JavaScript, Ruby, Perl, PHP

_STRING = r"""('(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`)"""


def _literal(text: str, language: str) -> str | None:
    """The value of a quoted literal; None when it interpolates (`${}`, `#{}`, `$var`)."""
    quote, body = text[0], text[1:-1]
    if language == "js" and quote == "`" and "${" in body:
        return None
    if language == "ruby" and quote in '"`' and "#{" in body:
        return None
    if language in ("perl", "php") and quote in '"`' and re.search(r"[$@][\w{]", body):
        return None
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt) if quote != "'" or nxt in "'\\"
                       else "\\" + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _calls(code: str, pattern: str) -> Iterator[tuple[str, str | None, bool]]:
    """(name, first-argument literal or None, whether an argument was present) per call."""
    for match in re.finditer(pattern + r"\s*\(?\s*(" + _STRING[1:-1] + r")?", code):
        literal = match.group(match.lastindex) if match.lastindex and match.lastindex > 1 \
            else None
        yield match.group(1), literal, literal is not None


_TOKEN_RULES: dict[str, dict[str, str]] = {
    "js": {
        # Distinctive names count wherever they appear (`fs['rmSync'](…)` too); generic
        # ones only as calls.
        "destructive": r"\b(rmSync|rmdirSync|unlinkSync|truncateSync|ftruncateSync|"
                       r"emptyDirSync|removeSync|rimraf|deleteSync|dropDatabase|deleteMany|"
                       r"dropTable|dropSchema|truncateTable)\b|(?:\.|\b)(rm|rmdir|unlink|"
                       r"truncate|emptyDir|remove)\s*\(",
        "shell": r"\b(execSync|exec|spawnSync|spawn|execFileSync|execFile|fork)\s*\(",
        "dynamic": r"(\b(?:eval|Function|vm\.run\w*|require\s*\(\s*[^'\"`\s)]|import\s*\(|"
                   r"process\.binding|process\.dlopen|Bun\.spawn\w*|Deno\.(?:run|Command))|"
                   r"\[\s*['\"`](?:exec|execSync|spawn|spawnSync|execFile|execFileSync|fork)"
                   r"['\"`]\s*\])\s*\(?",
        "write": r"\.(writeFileSync|writeFile|appendFileSync|appendFile|mkdirSync|mkdir|"
                 r"copyFileSync|copyFile|renameSync|rename|cpSync|cp|symlinkSync|"
                 r"createWriteStream|outputFile|outputFileSync|move|moveSync)\s*\(",
        "sql": r"\.(query|execute|exec|run|prepare|all|raw|unsafe|\$executeRawUnsafe|"
               r"\$queryRawUnsafe|\$executeRaw|\$queryRaw)",
        "db": r"require\s*\(\s*['\"](pg|postgres|mysql2?|sqlite3|better-sqlite3|"
              r"@prisma/client|knex|sequelize|typeorm|drizzle-orm|@neondatabase/serverless|"
              r"@vercel/postgres|kysely)['\"]|from\s+['\"](pg|postgres|mysql2?|sqlite3|"
              r"better-sqlite3|@prisma/client|knex)['\"]",
    },
    "ruby": {
        "destructive": r"\b(FileUtils\.(?:rm_rf|rm_r|rm_f|rm|remove_dir|remove_entry_secure|"
                       r"remove_entry|rmdir|remove_file|safe_unlink|rmtree|remove)|"
                       r"File\.(?:delete|unlink)|Dir\.(?:rmdir|delete|unlink)|\.rmtree|"
                       r"drop_table|drop_database|destroy_all|delete_all)\b",
        "shell": r"(\bsystem|\bexec|\bspawn|IO\.popen|Open3\.\w+|Kernel\.(?:system|exec|"
                 r"spawn)|%x)\s*[\(\{]?",
        "dynamic": r"\b(eval|instance_eval|class_eval|module_eval|send|public_send|"
                   r"Kernel\.eval|binding\.eval)\b",
        "write": r"\b(File\.write|File\.open|FileUtils\.(?:mv|cp|cp_r|mkdir_p|touch|ln_s|"
                 r"chmod))\b",
        "sql": r"\.(execute|exec_query|exec_update|exec_delete|exec|query|select_all|run)",
        "db": r"ActiveRecord|\bSequel\b|\bPG\b|Mysql2|SQLite3|require\s*['\"](pg|mysql2|"
              r"sqlite3|sequel)['\"]",
    },
    "perl": {
        "destructive": r"\b(unlink|rmdir|rmtree|remove_tree|truncate)\b",
        "shell": r"\b(system|exec|qx)\s*[\(\{]?",
        "dynamic": r"(\beval\s*[\"'$q]|\bdo\s+['\"$]|\bopen\s*\(?[^;]*['\"]\s*(?:\|-|-\||\|))",
        "write": r"\bopen\s*\(?[^;]*['\"][>+]|\brename\b|\bmkdir\b|\bsymlink\b",
        "sql": r"->(do|prepare|selectall_\w+|selectrow_\w+|selectcol_\w+)",
        "db": r"\bDBI\b",
    },
    "php": {
        "destructive": r"\b(unlink|rmdir|ftruncate)\s*\(",
        "shell": r"\b(exec|system|shell_exec|passthru|popen|proc_open|pcntl_exec)\s*\(",
        "dynamic": r"(\b(?:eval|assert|create_function|include|require|include_once|"
                   r"require_once|call_user_func|call_user_func_array|array_map|array_walk|"
                   r"usort|preg_replace_callback)\b|\$\w+\s*\()",
        "write": r"\b(file_put_contents|fopen|rename|mkdir|copy|symlink|touch)\s*\(",
        "sql": r"->(exec|query|prepare)",
        "db": r"\bPDO\b|mysqli|pg_connect|SQLite3",
    },
}
_BACKTICK = re.compile(r"`((?:\\.|[^`\\])*)`")


def token_scan(run: Runner, code: str | None, language: str, depth: int) -> list[Effect]:
    """Judge inline code in a language without a parser here: a scan for known calls."""
    label = {"js": "JavaScript", "ruby": "Ruby", "perl": "Perl", "php": "PHP"}[language]
    if code is None:
        return [unknown(f"the inline {label} code cannot be seen before it runs")]
    rules = _TOKEN_RULES[language]
    found = re.search(rules["dynamic"], code)
    if found:
        return [unknown(f"the inline {label} runs code built at run time ({found.group(1)})")]
    effects: list[Effect] = []
    for match in re.finditer(rules["destructive"], code):
        name = match.group(1) or match.group(match.lastindex or 1)
        risk = Risk.CATASTROPHIC if name in ("dropDatabase", "drop_database") else \
            Risk.DESTRUCTIVE
        effects.append(Effect(Verb.DELETE if risk is Risk.DESTRUCTIVE else Verb.DESTROY, risk,
                              f"the inline {label} calls {name}", None, "file"))
    for name, literal, _ in _calls(code, rules["shell"]):
        text = _literal(literal, language) if literal else None
        effects.extend(run.script(text, depth + 1, f"by {label} {name}"))
    if language in ("ruby", "perl", "php") or "child_process" in code:
        for match in _BACKTICK.finditer(code):
            if language == "js":
                break
            text = _literal("`" + match.group(1) + "`", language)
            effects.extend(run.script(text, depth + 1, f"by {label} backticks"))
    if re.search(rules["db"], code):
        for name, literal, _ in _calls(code, rules["sql"]):
            text = _literal(literal, language) if literal else None
            effects.extend(embedded.sql_effects(text, "postgres", Target("postgres", "?:?/?"),
                                               f"by {label} {name}"))
    if language == "js":
        effects.extend(_js_http(code))
    if re.search(rules["write"], code):
        effects.append(Effect(Verb.WRITE, Risk.WRITE, f"the inline {label} writes files"))
    return effects or [_write(label)]


_JS_FETCH = re.compile(r"\bfetch\s*\(\s*" + _STRING + r"(?:\s*,\s*\{[^}]*?method\s*:\s*"
                       + _STRING + r")?")
_JS_AXIOS = re.compile(r"\baxios\.(get|post|put|patch|delete|head)\s*\(\s*" + _STRING + r"?")
_JS_HTTP_DYNAMIC = re.compile(r"\b(fetch|axios(\.\w+)?|got|superagent|request)\s*\(\s*[^'\"`\s]")


def _js_http(code: str) -> list[Effect]:
    effects: list[Effect] = []
    for match in _JS_FETCH.finditer(code):
        url = _literal(match.group(1), "js")
        method = _literal(match.group(2), "js") if match.group(2) else "GET"
        request = HttpRequest(method.upper(), url) if url and method else None
        effects.extend(embedded.http_effects(request, "by inline JavaScript"))
    for match in _JS_AXIOS.finditer(code):
        url = _literal(match.group(2), "js") if match.group(2) else None
        request = HttpRequest(match.group(1).upper(), url) if url else None
        effects.extend(embedded.http_effects(request, "by inline JavaScript"))
    if not effects and _JS_HTTP_DYNAMIC.search(code):
        effects.extend(embedded.http_effects(None, "by inline JavaScript"))
    return effects


def javascript(run: Runner, code: str | None, depth: int) -> list[Effect]:
    return token_scan(run, code, "js", depth)


# --------------------------------------------------------------------------------------------
# Interpreter programs


def _interpreter(language: str, code_options: str, script_names: dict[str, str]) -> Handler:
    codes = frozenset(code_options.split())

    def handle(run: Runner, program: Program, words: list[Word], env: Env,
               stdin: Stdin | None, depth: int) -> list[Effect]:
        name = words[0].value or language
        args = parse_args(words[1:], program.options)
        if any(f.name in program.help_flags for f in args.flags):
            return [Effect(Verb.READ, Risk.READ, f"{name} --help")]
        if args.opaque:
            return [unknown(f"the options of {name} are computed at run time")]
        preloaded = _preloads(run, language, args, depth)
        inline = [f.value for f in args.flags if f.name in codes]
        if inline:
            effects: list[Effect] = list(preloaded)
            for code in inline:
                effects.extend(_scan(run, language, code.value if code else None, depth))
            if args.has(frozenset({"-i"})) and language == "perl":
                effects.append(Effect(Verb.WRITE, Risk.WRITE, "perl -i edits files in place"))
            return effects
        modules = args.values(frozenset({"-m"})) if language == "python" else []
        if modules:
            module = modules[0].value
            if module is None:
                return [unknown("python -m runs a module named at run time")]
            mapped = script_names.get(module, module)
            if run.registry.program(mapped) is None:
                return [Effect(Verb.WRITE, Risk.WRITE, f"runs the Python module {module}")]
            return run.invoke([Word.literal(mapped), *args.positionals], env, stdin, depth + 1)
        script = args.positionals[0] if args.positionals else None
        if script is not None and script.value not in ("-", "/dev/stdin"):
            # The script is read and judged; a framework's entry script (manage.py, artisan)
            # is also judged as the command it runs.
            effects = preloaded + run_script(run, script, language, depth, name)
            base = (script.value or "").rsplit("/", 1)[-1]
            if base in script_names:
                effects += run.invoke([Word.literal(script_names[base]),
                                       *args.positionals[1:]], env, stdin, depth + 1)
            return effects
        if preloaded:
            return preloaded + _interpreter_stdin(run, language, name, stdin, depth)
        if stdin is None:
            return [unknown(f"{name} reads code from standard input, which cannot be seen")]
        return _scan(run, language, stdin.text, depth)

    return handle


def _interpreter_stdin(run: Runner, language: str, name: str, stdin: Stdin | None,
                       depth: int) -> list[Effect]:
    if stdin is None:
        return [unknown(f"{name} reads code from standard input, which cannot be seen")]
    return _scan(run, language, stdin.text, depth)


# Options that load a file before the program: `node -r ./setup.js`, `ruby -r ./x.rb`.
_PRELOAD_OPTIONS = {"js": frozenset({"-r", "--require", "--import", "--loader",
                                     "--experimental-loader"}),
                    "ruby": frozenset({"-r"}), "perl": frozenset(), "python": frozenset(),
                    "php": frozenset({"-f"})}


def _preloads(run: Runner, language: str, args: Args, depth: int) -> list[Effect]:
    """Local files loaded by an option are judged like the script (a package name is
    installed code, like any library)."""
    effects: list[Effect] = []
    for word in args.values(_PRELOAD_OPTIONS.get(language, frozenset())):
        if word.value is None or word.value.startswith(("./", "../", "/")) or (
                language == "php"):
            effects.extend(run_script(run, word, language, depth, f"{language} {word.text}"))
    return effects


def _deno(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    """`deno eval CODE` is inline JavaScript; `deno run file` runs a local script."""
    args = parse_args(words[1:], program.options)
    pos = args.positionals
    if args.opaque:
        return [unknown("the options of deno are computed at run time")]
    if pos and pos[0].value == "eval":
        return token_scan(run, pos[1].value if len(pos) > 1 else None, "js", depth)
    if any(f.name in program.help_flags for f in args.flags) or (pos and pos[0].value in (
            "--version", "help", "info", "lint", "fmt", "check", "doc", "types", "completions")):
        return [Effect(Verb.READ, Risk.READ, "deno inspects code")]
    if pos and pos[0].value == "run" and len(pos) > 1:
        return run_script(run, pos[1], "js", depth, "deno run")
    if pos and pos[0].value not in ("task", "test", "bench", "compile", "install", "repl",
                                    "serve", "upgrade", "cache", "vendor", "publish"):
        return run_script(run, pos[0], "js", depth, "deno")
    return [Effect(Verb.WRITE, Risk.WRITE, "deno runs a local program")]


def _scan(run: Runner, language: str, code: str | None, depth: int) -> list[Effect]:
    if depth > 6:
        return [unknown("inline code nested too deeply")]
    if language == "python":
        return python(run, code, depth)
    return token_scan(run, code, language, depth)


HANDLERS: dict[str, Handler] = {
    "python": _interpreter("python", "-c", {"manage.py": "manage.py",
                                            "django": "django-admin",
                                            "alembic": "alembic", "django-admin": "django-admin"}),
    "node": _interpreter("js", "-e --eval -p --print", {}),
    "deno": _deno,
    "ruby": _interpreter("ruby", "-e", {"rails": "rails", "rake": "rake"}),
    "perl": _interpreter("perl", "-e -E", {}),
    "php": _interpreter("php", "-r", {"artisan": "artisan"}),
}


def _file_judge(language: str) -> Language:
    def judge(run: Runner, code: CodeFile, depth: int) -> list[Effect]:
        return _scan(run, language, code.text, depth)

    return judge


LANGUAGES: dict[str, Language] = {language: _file_judge(language)
                                  for language in ("python", "js", "ruby", "perl", "php")}

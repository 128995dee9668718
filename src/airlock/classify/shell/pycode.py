"""Python code (`python -c`, heredocs, script files), read with the stdlib `ast` and judged by
what it calls — whatever the spelling.

Every name is followed to what it stands for before a call is judged: imports with their
aliases and star imports (`from shutil import *; rmtree(x)`), assignments
(`rm = shutil.rmtree`, `s = requests.Session()`, `self.http = httpx.Client(base_url=…)`),
`with … as` and `getattr(mod, "name")`. A dangerous function is judged wherever it is named,
not only where it is called: `map(shutil.rmtree, paths)`, `partial(os.remove, x)` and
`handlers = [shutil.rmtree]` delete files too.

HTTP calls through requests, httpx, urllib3, urllib.request (`urlopen(Request(…, method=…))`),
http.client connections and aiohttp sessions are rebuilt as requests (URL, method, headers,
body; a module constant used in a URL is followed) and judged by the HTTP classifier, so
`volumeDelete` in a JSON body is catastrophic. SQL handed to a database driver goes to the SQL
classifier; commands handed to the shell are parsed as shell code.

Anything the analysis cannot follow is unknown, never a read or a write: a call of a function
it does not know (`mylib.wipe()`, a parameter called as a function), code built at run time,
`sys.path` changes. Calls of functions defined in the same code are followed (their bodies are
judged where they are written). A module the code imports is looked for next to the script (or
in the working directory for `-c`): a local file shadows the installed module, so it is read
and judged too — `import json` may be the agent's json.py.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin

from airlock.classify.shell import embedded, paths, targets
from airlock.classify.shell.base import CodeFile, unknown
from airlock.classify.shell.words import Word
from airlock.model import Effect, HttpRequest, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Runner

_DESTRUCTIVE = {"shutil.rmtree": "directory", "os.remove": "file", "os.unlink": "file",
                "os.rmdir": "directory", "os.removedirs": "directory", "os.truncate": "file",
                "send2trash.send2trash": "file", "os.ftruncate": "file"}
_SHELL = frozenset({"os.system", "os.popen", "subprocess.getoutput",
                    "subprocess.getstatusoutput", "commands.getoutput", "pty.spawn",
                    "asyncio.create_subprocess_shell"})
_PROCESS = frozenset({"subprocess.run", "subprocess.call", "subprocess.check_call",
                      "subprocess.check_output", "subprocess.Popen",
                      "asyncio.create_subprocess_exec"})
_DYNAMIC = frozenset({
    "eval", "exec", "compile", "__import__", "importlib.import_module", "importlib.reload",
    "importlib.util.spec_from_file_location", "importlib.machinery.SourceFileLoader",
    "ctypes.CDLL", "ctypes.cdll.LoadLibrary", "ctypes.PyDLL", "marshal.loads", "marshal.load",
    "pickle.loads", "pickle.load", "dill.load", "dill.loads", "shelve.open", "runpy.run_path",
    "runpy.run_module", "code.interact", "code.InteractiveInterpreter", "globals", "locals",
    "vars", "setattr", "delattr", "breakpoint", "sys.path.insert", "sys.path.append",
    "sys.path.extend", "site.addsitedir", "yaml.load", "yaml.unsafe_load", "yaml.full_load",
    "os.execv", "multiprocessing.Process", "threading.Thread", "concurrent.futures",
})
_EXEC = re.compile(r"^os\.(exec|spawn|posix_spawn|fork)\w*$")
# Libraries whose calls run shell or remote commands in ways not followed here.
_RUNNERS = frozenset({"sh", "plumbum", "pexpect", "invoke", "fabric", "paramiko", "sarge",
                      "envoy", "delegator", "ptyprocess", "docker", "kubernetes"})
_WRITES = frozenset({"shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree",
                     "shutil.move", "os.rename", "os.replace", "os.makedirs", "os.mkdir",
                     "os.symlink", "os.link", "os.chmod", "os.chown", "os.utime",
                     "os.mkfifo", "tempfile.mkdtemp", "tempfile.mkstemp",
                     "tempfile.NamedTemporaryFile", "tempfile.TemporaryDirectory",
                     "tempfile.TemporaryFile", "json.dump", "pickle.dump", "shutil.make_archive",
                     "shutil.unpack_archive", "os.putenv", "os.environ.update",
                     "os.environ.setdefault", "os.environ.pop", "logging.basicConfig",
                     "zipfile.ZipFile", "tarfile.open"})
_PURE_ROOTS = frozenset({
    "json", "sys", "platform", "math", "cmath", "re", "datetime", "time", "hashlib", "hmac",
    "base64", "binascii", "urllib.parse", "textwrap", "string", "collections", "itertools",
    "functools", "statistics", "random", "secrets", "uuid", "decimal", "fractions", "pprint",
    "locale", "shlex", "glob", "fnmatch", "struct", "zlib", "gzip.decompress", "sysconfig",
    "inspect", "typing", "typing_extensions", "tomllib", "csv", "os.path", "operator",
    "calendar", "html", "unicodedata", "ipaddress", "difflib", "heapq", "bisect", "copy",
    "enum", "dataclasses", "importlib.metadata", "email.utils", "keyword", "contextlib",
    "abc", "numbers", "array", "io.StringIO", "io.BytesIO", "argparse", "getpass.getuser",
    "logging", "warnings", "traceback", "types", "weakref", "colorsys",
    "yaml.safe_load", "yaml.safe_dump", "yaml.dump", "toml.loads", "tomli.loads",
    "configparser", "zoneinfo", "pydoc", "unittest.mock", "string.Template",
    "pathlib.PurePath", "pathlib.PurePosixPath", "shutil.which", "shutil.get_terminal_size",
    "shutil.disk_usage", "os.environ.get", "os.environ.copy", "os.environ.items",
    "os.environ.keys", "os.environ.values", "__future__", "codecs.decode", "codecs.encode",
    "asyncio.run", "asyncio.gather", "asyncio.sleep", "asyncio.wait_for", "time.sleep",
})
_CLIENTS = ("requests.Session", "requests.session", "requests.sessions.Session", "httpx.Client",
            "httpx.AsyncClient", "aiohttp.ClientSession", "urllib3.PoolManager",
            "urllib3.ProxyManager", "http.client.HTTPConnection", "http.client.HTTPSConnection",
            "urllib.request.Request", "urllib.request.build_opener", "httpx.Timeout",
            "aiohttp.ClientTimeout", "requests.adapters.HTTPAdapter")
_PURE_NAMES = frozenset({
    "print", "len", "str", "int", "float", "bool", "repr", "sorted", "reversed", "list", "dict",
    "set", "tuple", "range", "enumerate", "zip", "min", "max", "sum", "abs", "round",
    "isinstance", "issubclass", "type", "format", "any", "all", "map", "filter", "hex", "ord",
    "chr", "hash", "id", "iter", "next", "divmod", "pow", "bin", "oct", "frozenset", "bytes",
    "bytearray", "slice", "dir", "input", "callable", "hasattr", "ascii", "object", "getattr",
    "complex", "memoryview", "property", "staticmethod", "classmethod", "super", "aiter",
    "anext", "exit", "quit", "NotImplemented", "Ellipsis",
    "os.getcwd", "os.getenv", "os.listdir", "os.stat", "os.lstat", "os.walk", "os.scandir",
    "os.cpu_count", "os.getpid", "os.getppid", "os.uname", "os.get_terminal_size",
    "os.getuid", "os.getgid", "os.geteuid", "os.getlogin", "os.access", "os.readlink",
    "os.fspath", "os.fsencode", "os.fsdecode", "os.urandom", "os.get_exec_path",
    "pathlib.Path", "pathlib.PosixPath", "pathlib.Path.cwd", "pathlib.Path.home", "open",
    # Making a client sends nothing: its requests are judged where they are sent.
    *(c for c in _CLIENTS),
})
_PURE_METHODS = frozenset({
    "split", "rsplit", "strip", "lstrip", "rstrip", "join", "format", "upper", "lower",
    "replace", "startswith", "endswith", "get", "keys", "values", "items", "read", "readlines",
    "readline", "decode", "encode", "append", "extend", "count", "index", "find", "sort",
    "copy", "title", "capitalize", "splitlines", "isdigit", "isalpha", "isalnum", "isspace",
    "group", "groups", "groupdict", "match", "fullmatch", "search", "findall", "finditer",
    "sub", "subn", "hexdigest", "digest", "update", "total_seconds", "strftime", "strptime",
    "isoformat", "timestamp", "exists", "is_file", "is_dir", "is_symlink", "resolve",
    "absolute", "read_text", "read_bytes", "iterdir", "glob", "rglob", "stat", "lstat",
    "setdefault", "most_common", "partition", "rpartition", "zfill", "ljust", "rjust",
    "center", "casefold", "as_posix", "relative_to", "with_suffix", "with_name", "joinpath",
    "parent", "exit", "flush", "write", "writelines", "dumps", "loads", "fromisoformat", "now",
    "utcnow", "today", "date", "pop", "popleft", "add", "discard", "union", "intersection",
    "difference", "issubset", "issuperset", "insert", "reverse", "clear", "close", "seek",
    "tell", "fileno", "isatty", "expanduser", "expandvars", "samefile", "translate",
    "maketrans", "removeprefix", "removesuffix", "to_bytes", "from_bytes", "bit_length",
    "astimezone", "weekday", "isoweekday", "ctime", "time", "hex", "fromhex",
    "elapsed", "json", "raise_for_status", "iter_lines", "iter_content", "add_argument",
    "parse_args", "add_parser", "add_subparsers", "set_defaults", "add_mutually_exclusive_group",
    "getLogger", "info", "debug", "warning", "error", "exception", "critical", "log",
    "setLevel", "addHandler", "setFormatter", "__enter__", "__exit__", "format_map",
    "is_absolute", "owner", "walk", "readlink", "sections", "getint",
    "getboolean", "getfloat", "has_section", "has_option", "options", "dict", "model_dump",
    "to_dict", "tolist", "apply_async",
})
_HARMLESS_METHOD_VERBS = frozenset({"get", "head", "options"})
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
_WRITE_METHODS = frozenset({"write_text", "write_bytes", "touch", "mkdir", "rename",
                            "symlink_to", "hardlink_to", "chmod", "lchmod", "link_to"})
_HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options")
# Module-level HTTP functions: (module, how the method is given).
_HTTP_MODULES = frozenset({"requests", "httpx"})
# Constructors whose instances send requests with the same verbs as the module.
_HTTP_CLIENTS = re.compile(r"^(requests\.(Session|session|sessions\.Session)|"
                           r"httpx\.(Client|AsyncClient)|aiohttp\.ClientSession)\(\)$")
_URLLIB3 = re.compile(r"^urllib3(\.(PoolManager|ProxyManager|HTTPConnectionPool|"
                      r"HTTPSConnectionPool|connection_from_url|poolmanager\.PoolManager)\(\))?$")
_HTTP_CONNECTIONS = {"http.client.HTTPConnection()": "http", "http.client.HTTPSConnection()":
                     "https"}
_UNKNOWN = "?"  # an origin airlock cannot tell (a parameter, a call's result it does not know)
_LOCAL = "<local>"  # a function or class defined in the code, or a local module
_DYNAMIC_ORIGIN = "<dynamic>"  # built at run time: a subscript, a computed getattr


# Entry points that run the management command named on the command line. Only a script that
# airlock also judges by that command line (manage.py: the frameworks pack) may call them.
_DISPATCHERS = frozenset({"django.core.management.execute_from_command_line"})
DISPATCHING_SCRIPTS = frozenset({"manage.py", "django-admin", "django-admin.py"})


def judge(run: Runner, code: str | None, depth: int, homes: tuple[str, ...] | None,
          inline: bool = True, dispatches: bool = False) -> list[Effect]:
    """Judge Python source. `homes`: where its imports are looked for first (the script's
    folder; the working directories for -c and stdin); None when that cannot be told.
    `inline`: code given on the command line or stdin (its imports follow the working
    directory, so os.chdir moves them). `dispatches`: a manage.py, whose command line the
    frameworks pack judges, so its call of execute_from_command_line is followed."""
    label = "inline Python" if inline else "Python code"
    if code is None:
        return [unknown(f"the {label} code cannot be seen before it runs")]
    try:
        tree = ast.parse(code)
        module = _Module(run, tree, depth, homes, label, inline)
        module.dispatches = dispatches
        return module.effects()
    except (SyntaxError, ValueError, MemoryError):
        return [unknown(f"the {label} code does not parse")]
    except RecursionError:
        return [unknown(f"the {label} code nests too deeply to analyse")]


@dataclass
class _Request:
    method: str | None
    url: str | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    computed: list[str] = field(default_factory=list)


class _Module:
    def __init__(self, run: Runner, tree: ast.Module, depth: int,
                 homes: tuple[str, ...] | None, label: str, inline: bool) -> None:
        self.run = run
        self.depth = depth
        self.homes = homes
        self.label = label
        self.inline = inline
        self.nodes = list(ast.walk(tree))
        self.parents: dict[int, ast.AST] = {}
        for node in self.nodes:
            for child in ast.iter_child_nodes(node):
                self.parents[id(child)] = node
        self.imports: dict[str, str] = {}
        self.star: list[str] = []
        self.defined: set[str] = set()
        self.bindings: dict[str, list[ast.expr | None]] = {}
        self.local_modules: set[str] = set()
        self.effects_: list[Effect] = []
        self.unfollowed: list[str] = []
        self.dispatches = False
        self._collect()

    # ---------------------------------------------------------------------------------------
    # What names stand for

    def _collect(self) -> None:
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    self.imports[alias.asname or top] = alias.name if alias.asname else top
            elif isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                for alias in node.names:
                    if alias.name == "*":
                        self.star.append(module)
                    else:
                        self.imports[alias.asname or alias.name] = f"{module}.{alias.name}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.defined.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                self._bind(node.target, node.value if not isinstance(node, ast.AugAssign)
                           else None)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                self._bind(node.optional_vars, node.context_expr)
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                self._bind(node.target, None)
            elif isinstance(node, ast.arg):
                self.bindings.setdefault(node.arg, []).append(None)

    def _bind(self, target: ast.expr, value: ast.expr | None) -> None:
        key = _key(target)
        if key is not None:
            self.bindings.setdefault(key, []).append(value)
        elif isinstance(target, ast.Tuple | ast.List | ast.Starred):
            for element in (target.elts if not isinstance(target, ast.Starred)
                            else [target.value]):
                self._bind(element, None)

    def origins(self, expr: ast.expr, seen: frozenset[str] = frozenset()) -> set[str]:
        """What an expression may stand for, as dotted names: `shutil.rmtree`,
        `requests.Session()` (an instance), `?.post` (a method of something unknown)."""
        if len(seen) > 24:
            return {_UNKNOWN}
        if isinstance(expr, ast.Name):
            return self._name(expr.id, seen)
        if isinstance(expr, ast.Attribute):
            key = _key(expr)
            if key is not None and key in self.bindings and key not in seen:
                return self._bound(key, seen)
            return {_attribute(o, expr.attr) for o in self.origins(expr.value, seen)}
        if isinstance(expr, ast.Call):
            func = expr.func
            if isinstance(func, ast.Name) and func.id == "getattr" and \
                    self._name("getattr", seen) == {"getattr"}:
                if len(expr.args) >= 2 and isinstance(expr.args[1], ast.Constant) and \
                        isinstance(expr.args[1].value, str):
                    return {_attribute(o, expr.args[1].value)
                            for o in self.origins(expr.args[0], seen)}
                return {_DYNAMIC_ORIGIN}
            return {_called(o) for o in self.origins(func, seen)}
        if isinstance(expr, ast.Await):
            return self.origins(expr.value, seen)
        if isinstance(expr, ast.Subscript | ast.Lambda):
            return {_DYNAMIC_ORIGIN} if isinstance(expr, ast.Subscript) else {_LOCAL}
        if isinstance(expr, ast.Constant | ast.JoinedStr | ast.List | ast.Dict | ast.Set |
                      ast.Tuple | ast.ListComp | ast.DictComp | ast.SetComp | ast.BinOp |
                      ast.Compare | ast.BoolOp | ast.UnaryOp | ast.GeneratorExp):
            return {"<value>"}
        return {_UNKNOWN}

    def _name(self, name: str, seen: frozenset[str]) -> set[str]:
        if name in self.bindings and name not in seen:
            return self._bound(name, seen)
        if name in self.imports:
            dotted = self.imports[name]
            return {_LOCAL} if dotted.split(".")[0] in self.local_modules or \
                dotted.startswith(".") else {dotted}
        if name in self.defined:
            return {_LOCAL}
        if self.star:
            return {_LOCAL if m.split(".")[0] in self.local_modules or m.startswith(".")
                    else f"{m}.{name}" for m in self.star} | \
                ({name} if _builtin(name) else set())
        return {name}

    def _bound(self, key: str, seen: frozenset[str]) -> set[str]:
        found: set[str] = set()
        for value in self.bindings[key]:
            found |= {_UNKNOWN} if value is None else self.origins(value, seen | {key})
        if key in self.imports or key in self.defined:
            found |= self._name(key, seen | {key}) if "." not in key else set()
        return found or {_UNKNOWN}

    # ---------------------------------------------------------------------------------------
    # Judging

    def effects(self) -> list[Effect]:
        self._local_imports()
        dialect = next((d for module, d in _DB_MODULES.items()
                        if any(v == module or v.startswith(module + ".")
                               for v in [*self.imports.values(), *self.star])), None)
        db_target = _db_target(self, dialect)
        for node in self.nodes:
            if isinstance(node, ast.Call):
                self._call(node, dialect, db_target)
            elif isinstance(node, ast.Attribute | ast.Name) and \
                    isinstance(node.ctx, ast.Load) and not self._callee_or_inner(node):
                self._reference(node)
        if self.unfollowed:
            names = ", ".join(dict.fromkeys(self.unfollowed[:6]))
            self.effects_.append(unknown(f"the {self.label} calls {names}, which airlock does "
                                         "not follow"))
        if not self.effects_:
            return [Effect(Verb.READ, Risk.READ, f"{self.label} that only computes and "
                                                 "prints")]
        return self.effects_

    def _callee_or_inner(self, node: ast.expr) -> bool:
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Attribute):
            return True  # part of a longer name: the whole name is judged
        return isinstance(parent, ast.Call) and parent.func is node

    def _reference(self, node: ast.expr) -> None:
        """A dangerous function named without being called here: passed to map(), partial(),
        a thread, a list — it may be called with anything."""
        for origin in self.origins(node):
            if origin in _DESTRUCTIVE:
                self.effects_.append(_destroy(f"the {self.label} hands {origin} to other code "
                                              "(it may delete any path)", None,
                                              _DESTRUCTIVE[origin]))
            elif origin in _SHELL or origin in _PROCESS or _EXEC.match(origin) or \
                    origin in _DYNAMIC:
                self.effects_.append(unknown(f"the {self.label} hands {origin} to other code "
                                             "(it may run anything)"))

    def _call(self, node: ast.Call, dialect: str | None, db_target: Target | None) -> None:
        origins = self.origins(node.func)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        literal = _string(node.args[0]) if node.args else None
        for origin in origins:
            self._one(node, origin, method, literal, dialect, db_target)

    def _one(self, node: ast.Call, origin: str, method: str | None, literal: str | None,
             dialect: str | None, db_target: Target | None) -> None:
        label = self.label
        base = origin.removesuffix("()")
        root = base.split(".")[0]
        if origin == _LOCAL or origin.startswith(_LOCAL):
            return
        if origin == _DYNAMIC_ORIGIN or base in _DYNAMIC or root in ("importlib",):
            self.effects_.append(unknown(f"the {label} runs code built at run time "
                                         f"({_shown(node)})"))
            return
        if _EXEC.match(base) or root in _RUNNERS:
            self.effects_.append(unknown(f"the {label} starts programs through {base}()"))
            return
        if base in _DESTRUCTIVE:
            target = Target("path", literal, contextual=True) if literal else None
            self.effects_.append(_destroy(f"{base}() deletes files", target, _DESTRUCTIVE[base]))
            return
        if base in _SHELL or base in _PROCESS:
            self.effects_.extend(self._process(node, base))
            return
        if base in _DISPATCHERS and self.dispatches:
            return
        if base == "django.core.management.call_command":
            self.effects_.extend(self._management_command(node))
            return
        if base == "os.chdir" and self.inline:
            self.effects_.append(unknown(f"the {label} changes the directory its imports are "
                                         "found in (os.chdir)"))
            return
        request = self._http(node, origin)
        if request is not None:
            self.effects_.extend(_request_effects(request, f"by {label}"))
            return
        if method in _SQL_METHODS and dialect is not None:
            sql = literal if literal is not None else _joined(node.args[0] if node.args else None)
            self.effects_.extend(embedded.sql_effects(sql, dialect or "postgres", db_target,
                                                      f"by {label}"))
            return
        if base == "sqlalchemy.text" and literal is not None:
            self.effects_.extend(embedded.sql_effects(literal, dialect or "postgres", db_target,
                                                      f"by {label}"))
            return
        if base in ("open", "io.open", "codecs.open"):
            self._open(node, literal)
            return
        if base.startswith("pathlib.") and method == "open":
            mode = _string(node.args[0]) if node.args else None
            if mode is None or any(c in mode for c in "wax+"):
                self.effects_.append(Effect(Verb.WRITE, Risk.WRITE,
                                            f"the {label} opens a file to write"))
            return
        if root == "super":
            return
        if method is not None and _CATASTROPHIC_METHOD.match(method):
            self.effects_.append(Effect(Verb.DESTROY, Risk.CATASTROPHIC,
                                        f"the {label} calls {method}()", db_target, "database"))
            return
        if method is not None and ((_DESTRUCTIVE_METHOD.match(method) and method != "remove")
                                   or method in ("unlink", "rmdir", "rmtree")):
            self.effects_.append(_destroy(f"the {label} calls {method}()"))
            return
        if base in _WRITES or (method is not None and method in _WRITE_METHODS):
            self.effects_.append(Effect(Verb.WRITE, Risk.WRITE, f"the {label} calls "
                                                                 f"{base if base in _WRITES else method}()"))
            return
        if _pure(base):
            return
        if method is not None:
            receiver = base.rsplit(".", 1)[0]
            unknown_receiver = receiver.startswith((_UNKNOWN, "<value>"))
            if method in _PURE_METHODS and (unknown_receiver or receiver.endswith("()") or
                                            _known_root(receiver)):
                return  # a value's method; the call that made the value is judged itself
            if unknown_receiver and (method in _HARMLESS_METHOD_VERBS or method == "remove" or
                                     method in self.defined):
                return  # dict.get, list.remove, a method defined in this code
        if _builtin(base) and "." not in base:
            return
        self.unfollowed.append(f"{_shown(node)}()")

    def _open(self, node: ast.Call, literal: str | None) -> None:
        mode_node: ast.expr | None = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "mode"), None)
        if mode_node is None:
            return
        mode = _string(mode_node)
        if mode is not None and not any(c in mode for c in "wax+"):
            return
        target = Target("path", literal, contextual=True) if literal else None
        if literal and mode is not None and "w" in mode and paths.is_precious(
                Word.literal(literal)):
            self.effects_.append(_destroy(f"the {self.label} overwrites {literal}, which looks "
                                          "like a database or a backup", target))
            return
        self.effects_.append(Effect(Verb.WRITE, Risk.WRITE, f"the {self.label} writes a file",
                                    target, "file"))

    # ---------------------------------------------------------------------------------------
    # Programs started

    def _process(self, node: ast.Call, name: str) -> list[Effect]:
        run = self.run
        first = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg == "args"), None)
        shell = name in _SHELL or any(
            k.arg == "shell" and not (isinstance(k.value, ast.Constant) and not k.value.value)
            for k in node.keywords)
        text = self.text(first)
        if text is not None:
            return run.script(text, self.depth + 1, f"by Python {name}()")
        if isinstance(first, ast.List | ast.Tuple):
            items = [self.text(e) for e in first.elts]
            if any(i is None for i in items) or not items:
                return [unknown(f"Python {name}() runs a command built at run time")]
            if shell:
                return run.script(items[0], self.depth + 1, f"by Python {name}(shell=True)")
            return run.invoke([Word.literal(i or "") for i in items], {}, None, self.depth + 1)
        if name == "asyncio.create_subprocess_exec" and node.args:
            items = [self.text(e) for e in node.args]
            if all(i is not None for i in items):
                return run.invoke([Word.literal(i or "") for i in items], {}, None,
                                  self.depth + 1)
        return [unknown(f"Python {name}() runs a command built at run time")]

    def _management_command(self, node: ast.Call) -> list[Effect]:
        """`call_command("flush", "--noinput")`: judged as `django-admin flush --noinput`."""
        words = [self.text(a) for a in node.args]
        if not words or any(w is None for w in words) or (node.keywords and any(
                k.arg is None for k in node.keywords)):
            return [unknown(f"the {self.label} runs a Django command built at run time")]
        flags = [f"--{k.arg.replace('_', '-')}" for k in node.keywords if k.arg]
        return self.run.invoke([Word.literal(w or "") for w in ["django-admin", *words]] +
                               [Word.literal(f) for f in flags], {}, None, self.depth + 1)

    # ---------------------------------------------------------------------------------------
    # HTTP

    def _http(self, node: ast.Call, origin: str) -> _Request | None:
        base, _, verb = origin.rpartition(".")
        module = base.split(".")[0]
        if base in _HTTP_MODULES or _HTTP_CLIENTS.match(base):
            if verb in _HTTP_VERBS:
                return self._requests_call(node, verb.upper(), base)
            if verb in ("request", "stream"):
                return self._requests_call(node, None, base)
            if verb in ("send", "build_request") or (
                    base not in _HTTP_MODULES and verb not in (
                        "close", "mount", "__enter__", "__exit__", "aclose", "headers",
                        "auth", "cookies", "params")):
                return _Request(None, None, computed=[f"{verb}()"])
            return None
        if _URLLIB3.match(base) and verb in ("request", "urlopen", "request_encode_body",
                                            "request_encode_url"):
            return self._requests_call(node, None, base, body_key="body")
        if origin in ("urllib.request.urlopen", "urllib.request.build_opener().open") or (
                module == "urllib" and verb == "urlopen"):
            return self._urlopen(node)
        if base in _HTTP_CONNECTIONS and verb in ("request", "putrequest"):
            return self._connection(node, base)
        return None

    def _requests_call(self, node: ast.Call, method: str | None, base: str,
                       body_key: str = "data") -> _Request:
        args = list(node.args)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        computed: list[str] = []
        if method is None:
            method_node = args.pop(0) if args else keywords.get("method")
            method = self.text(method_node)
            if method is None:
                computed.append("method")
        url_node = args.pop(0) if args else keywords.get("url")
        url = self.text(url_node, computed, "URL")
        base_url = self._client_option(base, "base_url")
        if url is not None and base_url:
            url = urljoin(base_url.rstrip("/") + "/", url.lstrip("/")) \
                if not url.startswith(("http://", "https://")) else url
        request = _Request(method.upper() if method else None, url, computed=computed)
        headers = keywords.get("headers")
        if headers is not None:
            request.headers = self.headers(headers, computed)
        for key, value in keywords.items():
            if key in ("json",):
                request.body = self.json_body(value, computed)
                request.headers.append(("Content-Type", "application/json"))
            elif key in (body_key, "data", "content", "body"):
                request.body = self.body(value, computed)
        return request

    def _client_option(self, base: str, name: str) -> str | None:
        """`httpx.Client(base_url=…)`: an option given where the client was made."""
        for node in self.nodes:
            if isinstance(node, ast.Call) and f"{_dotted(self, node.func)}()" == base:
                for keyword in node.keywords:
                    if keyword.arg == name:
                        return self.text(keyword.value)
        return None

    def _urlopen(self, node: ast.Call) -> _Request:
        computed: list[str] = []
        target = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg == "url"), None)
        data = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "data"), None)
        request_call = self._request_object(target)
        if request_call is None:
            url = self.text(target, computed, "URL")
            body = self.body(data, computed) if data is not None else None
            return _Request("POST" if data is not None else "GET", url, body=body,
                            computed=computed)
        args = list(request_call.args)
        keywords = {k.arg: k.value for k in request_call.keywords if k.arg}
        url = self.text(args[0] if args else keywords.get("url"), computed, "URL")
        body_node = args[1] if len(args) > 1 else keywords.get("data", data)
        body = self.body(body_node, computed) if body_node is not None else None
        method_node = keywords.get("method")
        method = self.text(method_node) if method_node is not None else (
            "POST" if body_node is not None else "GET")
        if method is None:
            computed.append("method")
        request = _Request(method.upper() if method else None, url, body=body,
                           computed=computed)
        if "headers" in keywords:
            request.headers = self.headers(keywords["headers"], computed)
        return request

    def _request_object(self, node: ast.expr | None) -> ast.Call | None:
        """`Request(…)` given inline or through a name bound to it."""
        if node is None:
            return None
        candidates: list[ast.expr | None] = [node]
        key = _key(node)
        if key is not None and key in self.bindings:
            candidates = list(self.bindings[key])
        for candidate in candidates:
            if isinstance(candidate, ast.Call) and any(
                    o.endswith("Request") for o in self.origins(candidate.func)):
                return candidate
        return None

    def _connection(self, node: ast.Call, base: str) -> _Request:
        computed: list[str] = []
        scheme = _HTTP_CONNECTIONS[base]
        host = None
        port = None
        for call in self.nodes:
            if isinstance(call, ast.Call) and f"{_dotted(self, call.func)}()" == base:
                host = self.text(call.args[0] if call.args else next(
                    (k.value for k in call.keywords if k.arg == "host"), None), computed,
                                 "host")
                port_node = call.args[1] if len(call.args) > 1 else next(
                    (k.value for k in call.keywords if k.arg == "port"), None)
                port = self.text(port_node) if port_node is not None else None
                break
        args = list(node.args)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        method = self.text(args[0] if args else keywords.get("method"))
        path = self.text(args[1] if len(args) > 1 else keywords.get("url"), computed, "path")
        url = f"{scheme}://{host or embedded.COMPUTED}{':' + port if port else ''}" \
              f"{path or '/'}"
        if method is None:
            computed.append("method")
        request = _Request(method.upper() if method else None, url, computed=computed)
        body_node = args[2] if len(args) > 2 else keywords.get("body")
        if body_node is not None:
            request.body = self.body(body_node, computed)
        headers_node = args[3] if len(args) > 3 else keywords.get("headers")
        if headers_node is not None:
            request.headers = self.headers(headers_node, computed)
        return request

    # ---------------------------------------------------------------------------------------
    # Values

    def text(self, node: ast.expr | None, computed: list[str] | None = None,
             what: str = "") -> str | None:
        """A string's value; with `computed`, parts computed at run time become COMPUTED (and
        are noted) instead of making the whole value None."""
        value, parts = self._value(node, 0)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            if computed is not None and node is not None:
                computed.append(what or "a value")
                return embedded.COMPUTED
            return None
        if parts:
            if computed is None:
                return None
            computed.append(what or "a value")
        return value

    def _value(self, node: ast.expr | None, depth: int) -> tuple[Any, bool]:
        """(Python value with COMPUTED where run-time parts were, whether there were any)."""
        if node is None or depth > 8:
            return None, True
        if isinstance(node, ast.Constant):
            return node.value, False
        if isinstance(node, ast.JoinedStr):
            out = []
            computed = False
            for part in node.values:
                if isinstance(part, ast.Constant):
                    out.append(str(part.value))
                else:
                    inner, was = self._value(part.value if isinstance(part, ast.FormattedValue)
                                             else part, depth + 1)
                    if isinstance(inner, str | int | float) and not was:
                        out.append(str(inner))
                    else:
                        out.append(embedded.COMPUTED)
                        computed = True
            return "".join(out), computed
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, a = self._value(node.left, depth + 1)
            right, b = self._value(node.right, depth + 1)
            if isinstance(left, str) and isinstance(right, str):
                return left + right, a or b
            return None, True
        if isinstance(node, ast.Dict):
            result: dict[Any, Any] = {}
            computed = False
            for k, v in zip(node.keys, node.values, strict=True):
                key, a = self._value(k, depth + 1) if k is not None else (None, True)
                value, b = self._value(v, depth + 1)
                if k is None or not isinstance(key, str | int | float | bool):
                    return None, True
                result[key] = value if not b or value is not None else embedded.COMPUTED
                computed = computed or a or b
            return result, computed
        if isinstance(node, ast.List | ast.Tuple):
            items = [self._value(e, depth + 1) for e in node.elts]
            return ([v if v is not None else embedded.COMPUTED for v, _ in items],
                    any(c for _, c in items))
        if isinstance(node, ast.Name):
            constant = self._constant(node.id, depth)
            if constant is not None:
                return constant
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "dict" and not node.args:
            return self._value(ast.Dict([ast.Constant(k.arg) for k in node.keywords],
                                        [k.value for k in node.keywords]), depth + 1)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "encode":
            return self._value(node.func.value, depth + 1)
        if isinstance(node, ast.Call) and "json.dumps" in self.origins(node.func) and \
                node.args:
            value, was = self._value(node.args[0], depth + 1)
            return (json.dumps(value) if value is not None else None), was
        return None, True

    def _constant(self, name: str, depth: int) -> tuple[Any, bool] | None:
        """A name bound once, to a value known before the code runs (a module constant)."""
        values = self.bindings.get(name, [])
        if len(values) != 1 or values[0] is None:
            return None
        return self._value(values[0], depth + 1)

    def headers(self, node: ast.expr, computed: list[str]) -> list[tuple[str, str]]:
        value, _ = self._value(node, 0)
        if not isinstance(value, dict):
            computed.append("headers")
            return []
        out = []
        for key, item in value.items():
            text = str(item) if item is not None else embedded.COMPUTED
            if embedded.COMPUTED in text:
                computed.append(f"header {key}")
            out.append((str(key), text))
        return out

    def json_body(self, node: ast.expr, computed: list[str]) -> str:
        value, was = self._value(node, 0)
        if was:
            computed.append("body")
        if value is None:
            return embedded.COMPUTED
        return json.dumps(value)

    def body(self, node: ast.expr | None, computed: list[str]) -> str | None:
        if node is None:
            return None
        value, was = self._value(node, 0)
        if was:
            computed.append("body")
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, dict):
            return urlencode({str(k): str(v) for k, v in value.items()})
        if isinstance(value, str):
            return value
        return embedded.COMPUTED

    # ---------------------------------------------------------------------------------------
    # Local modules

    def _local_imports(self) -> None:
        """A module imported by name may be a file next to the script: that file is what
        runs, so it is read and judged (and its functions count as followed)."""
        names: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
            elif isinstance(node, ast.ImportFrom) and node.level > 0:
                self.effects_.append(unknown(f"the {self.label} imports a module relative to "
                                             "its package, which airlock does not follow"))
        if not names:
            return
        if self.homes is None:
            shown = ", ".join(sorted(n.split(".")[0] for n in names)[:4])
            self.effects_.append(unknown(f"the {self.label} imports {shown}: a file in its "
                                         "folder could replace any of them, and that folder "
                                         "is not known"))
            return
        for name in sorted(names):
            found = local_module(self.run, name, self.homes)
            if found:
                self.local_modules.add(name.split(".")[0])
            for code in found:
                self.effects_.extend(self.run.judge_file(code, "python", self.depth))


def local_module(run: Runner, name: str, homes: tuple[str, ...],
                 main: bool = False) -> list[CodeFile]:
    """The files in `homes` that `import name` (or `python -m name`, with `main`) would run
    instead of an installed module: every file that exists, readable or not."""
    found: list[CodeFile] = []
    parts = name.split(".")
    for home in homes:
        for i in range(1, len(parts) + 1):
            stem = "/".join(parts[:i])
            candidates = [f"{stem}.py", f"{stem}/__init__.py"]
            if main and i == len(parts):
                candidates.append(f"{stem}/__main__.py")
            for candidate in candidates:
                for code in run.read_code(Word.literal(candidate), home):
                    if code.text is None and code.problem == "is missing":
                        continue
                    found.append(code)
    return found


# --------------------------------------------------------------------------------------------
# Helpers


def _request_effects(request: _Request, origin: str) -> list[Effect]:
    if request.url is None or request.method is None:
        return embedded.http_effects(None, origin)
    url = request.url if "://" in request.url else "http://" + request.url
    return embedded.request_effects(
        HttpRequest(request.method, url, tuple(request.headers), request.body),
        request.computed, origin)


def _destroy(reason: str, target: Target | None = None, scope: str = "file") -> Effect:
    return Effect(Verb.DELETE, Risk.DESTRUCTIVE, reason, target, scope)


def _key(node: ast.expr) -> str | None:
    """`x`, `self.client`: the dotted text of a name or attribute chain."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _key(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _attribute(origin: str, attr: str) -> str:
    if origin in (_LOCAL, _DYNAMIC_ORIGIN):
        return origin
    return f"{origin}.{attr}"


def _called(origin: str) -> str:
    if origin in (_LOCAL, _DYNAMIC_ORIGIN):
        return origin
    return f"{origin}()"


def _builtin(name: str) -> bool:
    import builtins

    return hasattr(builtins, name)


def _pure(base: str) -> bool:
    if base in _PURE_NAMES or any(base == r or base.startswith(r + ".")
                                  for r in _PURE_ROOTS):
        return True
    root = base.split(".")[0]
    return _builtin(root) and "." not in base and (root.endswith(("Error", "Exception",
                                                                  "Warning")) or
                                                   root in _PURE_NAMES)


def _known_root(base: str) -> bool:
    if base.startswith(tuple(f"{c}()" for c in _CLIENTS)):
        return True  # a client's own settings (s.headers.update, s.mount)
    root = base.split("(")[0].split(".")[0]
    return root in ("<value>", "str", "dict", "list", "set", "bytes", "pathlib", "os", "sys",
                    "json", "re", "datetime", "open", "io", "collections") or _pure(
        base.split("(")[0])


def _string(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _joined(node: ast.expr | None) -> str | None:
    """Adjacent or +-joined string constants; None for anything computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _joined(node.left), _joined(node.right)
        return left + right if left is not None and right is not None else None
    return None


def _shown(node: ast.Call) -> str:
    try:
        return ast.unparse(node.func)[:60]
    except Exception:  # unparse of odd trees: a name is only for the message
        return "a call"


def _dotted(module: _Module, func: ast.expr) -> str:
    found = sorted(module.origins(func))
    return found[0] if len(found) == 1 else "?"


def _db_target(module: _Module, dialect: str | None) -> Target | None:
    if dialect is None:
        return None
    for node in module.nodes:
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(module, node.func)
        literal = _joined(node.args[0]) if node.args else None
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
            keywords = {k.arg: _joined(k.value) for k in node.keywords if k.arg}
            if keywords:
                return targets.database("postgres", keywords.get("host"), keywords.get("port"),
                                        keywords.get("dbname") or keywords.get("database"))
    return Target("postgres", "?:?/?")

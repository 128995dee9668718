"""JavaScript, Ruby, Perl and PHP code, judged by a token scan (no parser for them here).

The scan takes the string literals out (keeping their values, and the code inside `${…}` /
`#{…}` interpolations), drops comments, and then finds every call: `name(`, `a.b.c(`,
`.method(`, `Mod::f(`, `$obj->m(`, and — in Ruby and Perl, where calls need no parentheses —
every bare word that is not a keyword or a variable. Names are followed through what the code
binds them to (`const { execSync: run } = require("child_process")`, `import fs from "fs"`,
`const rm = fs.rmSync`), and a dangerous function counts wherever it is named, called or not
(`files.forEach(fs.unlinkSync)`).

Each call is then judged: destructive file and database calls, commands handed to a shell
(parsed as shell code), SQL handed to a driver (the SQL classifier), HTTP requests with literal
parts (fetch, axios, node's http/https.request, Ruby's Net::HTTP, PHP's curl_setopt; judged by
the HTTP classifier), writes, and a vocabulary of calls that only compute or print. **Anything
else is unknown**: a call the scan does not know may do anything, and a scan cannot follow
what it does not know. Code built at run time (`eval`, `Function`, dynamic `require`, `send`,
`$f()`) is unknown too. Local files the code loads (`require("./lib")`, `require_relative`,
PHP `include "x.php"`) are read and judged in turn.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airlock.classify.shell import embedded
from airlock.classify.shell.base import unknown
from airlock.classify.shell.words import Word
from airlock.model import Effect, HttpRequest, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Runner

LABELS = {"js": "JavaScript", "ruby": "Ruby", "perl": "Perl", "php": "PHP"}

_STRING = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`""", re.S)
_COMMENTS = {
    "js": re.compile(r"//[^\n]*|/\*.*?\*/", re.S | re.M),
    "php": re.compile(r"//[^\n]*|#(?!\[)[^\n]*|/\*.*?\*/", re.S | re.M),
    "ruby": re.compile(r"(?<![\w$?])#(?!\{)[^\n]*$|^=begin.*?^=end", re.S | re.M),
    "perl": re.compile(r"(?<![\w$@%\\])#[^\n]*$|^=\w.*?^=cut", re.S | re.M),
}
_PLACEHOLDER = re.compile(r"__S(\d+)__")

# --------------------------------------------------------------------------------------------
# Vocabularies. Names are matched as written after aliases are followed ("fs.rmSync"), and by
# their last part for methods of values (".rmSync").

_JS_CORE = frozenset({
    "fs", "fs/promises", "path", "os", "util", "child_process", "http", "https", "url",
    "crypto", "events", "stream", "readline", "assert", "querystring", "zlib", "buffer",
    "process", "timers", "string_decoder", "dns", "net", "tls", "vm", "worker_threads",
    "cluster", "module", "perf_hooks", "v8", "tty",
})

_DESTRUCTIVE = {
    "js": {"rmSync", "rmdirSync", "unlinkSync", "truncateSync", "ftruncateSync", "rm", "rmdir",
           "unlink", "truncate", "emptyDirSync", "emptyDir", "removeSync", "remove", "rimraf",
           "deleteSync", "del", "deleteMany", "dropDatabase", "dropTable", "dropSchema",
           "truncateTable", "drop", "deleteOne", "destroy", "flushall", "flushdb", "rimrafSync",
           "Deno.remove", "Deno.removeSync"},
    "ruby": {"FileUtils.rm_rf", "FileUtils.rm_r", "FileUtils.rm_f", "FileUtils.rm",
             "FileUtils.remove_dir", "FileUtils.remove_entry_secure", "FileUtils.remove_entry",
             "FileUtils.rmdir", "FileUtils.remove_file", "FileUtils.safe_unlink",
             "FileUtils.rmtree", "FileUtils.remove", "File.delete", "File.unlink", "Dir.rmdir",
             "Dir.delete", "Dir.unlink", "rmtree", "rm_rf", "drop_table", "drop_database",
             "destroy_all", "delete_all", "truncate", "flushall", "flushdb", "destroy"},
    "perl": {"unlink", "rmdir", "rmtree", "remove_tree", "truncate", "File::Path::rmtree",
             "File::Path::remove_tree"},
    "php": {"unlink", "rmdir", "ftruncate", "array_map_unlink"},
}
_CATASTROPHIC = frozenset({"dropDatabase", "drop_database", "flushall", "flushdb"})
_SHELL = {
    "js": {"child_process.exec", "child_process.execSync", "child_process.spawn",
           "child_process.spawnSync", "child_process.execFile", "child_process.execFileSync",
           "child_process.fork"},
    "ruby": {"system", "exec", "spawn", "IO.popen", "Kernel.system", "Kernel.exec",
             "Kernel.spawn", "Open3.capture2", "Open3.capture2e", "Open3.capture3",
             "Open3.popen3", "Open3.popen2", "Open3.popen2e", "Process.spawn", "%x"},
    "perl": {"system", "exec", "qx"},
    "php": {"exec", "system", "shell_exec", "passthru", "popen", "proc_open", "pcntl_exec"},
}
# Commands given as a list of words (a program and its arguments), not a shell line.
_ARGV = frozenset({"child_process.spawn", "child_process.spawnSync", "child_process.execFile",
                   "child_process.execFileSync", "child_process.fork"})
_DYNAMIC = {
    "js": re.compile(r"\b(eval|Function|vm\.\w+|process\.binding|process\.dlopen|"
                     r"Bun\.spawn\w*|Bun\.\$|Deno\.run|Deno\.Command|WebAssembly\.\w+|"
                     r"require\s*\(|import\s*\()|"
                     r"\[\s*__S\d+__\s*\]\s*\(|\bnew\s+Function\b"),
    "ruby": re.compile(r"\b(eval|instance_eval|class_eval|module_eval|send|__send__|"
                       r"public_send|instance_variable_set|define_method|const_get|"
                       r"method\s*\(|load)\b|\b(require|require_relative)"
                       r"(?!\s*\(?\s*__S\d+__)\b|%x\s*[({\[<|!]"),
    "perl": re.compile(r"(\beval\s*(?!\{)|\bdo\s+(?!\{)|&\$|\$\w+->\s*\(|&\{|"
                       r"\brequire\s+(?!__S\d+__|[A-Z][\w:]*))"),
    "php": re.compile(r"(\b(?:eval|assert|create_function|call_user_func|"
                      r"call_user_func_array|preg_replace_callback|array_map|array_walk|"
                      r"usort|uasort|uksort|register_shutdown_function|extract|"
                      r"parse_str)\b\s*\(|\$\w+\s*\(|\b(?:include|require|include_once|"
                      r"require_once)\b(?!\s*\(?\s*__S\d+__\s*\)?\s*;)|\$\$)"),
}
_WRITE = {
    "js": {"writeFileSync", "writeFile", "appendFileSync", "appendFile", "mkdirSync",
           "mkdir", "copyFileSync", "copyFile", "renameSync", "rename", "cpSync", "cp",
           "symlinkSync", "symlink", "createWriteStream", "outputFile", "outputFileSync",
           "move", "moveSync", "chmodSync", "chmod", "mkdtempSync", "writeJson",
           "writeJsonSync", "ensureDirSync", "ensureDir", "copySync", "copy", "Deno.writeTextFile",
           "Deno.writeFile", "Deno.mkdir", "Bun.write"},
    "ruby": {"File.write", "File.open", "FileUtils.mv", "FileUtils.cp", "FileUtils.cp_r",
             "FileUtils.mkdir_p", "FileUtils.mkdir", "FileUtils.touch", "FileUtils.ln_s",
             "FileUtils.chmod", "File.rename", "Dir.mkdir", "IO.write", "File.binwrite"},
    "perl": {"rename", "mkdir", "symlink", "link", "chmod", "chown", "utime", "File::Copy::copy",
             "File::Copy::move", "copy", "move", "make_path", "mkpath"},
    "php": {"file_put_contents", "fopen", "fwrite", "fputs", "rename", "mkdir", "copy",
            "symlink", "touch", "chmod", "chown", "move_uploaded_file", "tempnam", "tmpfile"},
}
_PURE = {
    "js": {
        "console", "JSON", "Math", "Object", "Array", "Number", "String", "Date", "Promise",
        "Symbol", "BigInt", "Boolean", "Error", "TypeError", "RangeError", "SyntaxError",
        "Map", "Set", "WeakMap", "WeakSet", "RegExp", "URL", "URLSearchParams", "Buffer",
        "TextEncoder", "TextDecoder", "Intl", "Reflect.has", "parseInt", "parseFloat",
        "isNaN", "isFinite", "encodeURIComponent", "decodeURIComponent", "encodeURI",
        "decodeURI", "setTimeout", "setInterval", "clearTimeout", "clearInterval",
        "setImmediate", "structuredClone", "queueMicrotask", "atob", "btoa", "require",
        "path", "util", "os", "url", "querystring", "assert", "crypto", "events",
        "string_decoder", "process.exit", "process.cwd", "process.on", "process.nextTick",
        "process.hrtime", "process.memoryUsage", "process.uptime", "process.stdout.write",
        "process.stderr.write", "process.argv", "process.env", "readline", "zlib",
        "fs.readFileSync", "fs.readFile", "fs.existsSync", "fs.exists", "fs.readdirSync",
        "fs.readdir", "fs.statSync", "fs.stat", "fs.lstatSync", "fs.lstat", "fs.accessSync",
        "fs.access", "fs.realpathSync", "fs.realpath", "fs.createReadStream", "fs.opendirSync",
        "fs.readlinkSync", "fs.promises.readFile", "fs.promises.readdir", "fs.promises.stat",
        "fs/promises.readFile", "fs/promises.readdir", "fs/promises.stat", "fs/promises.access",
        "Deno.readTextFile", "Deno.readTextFileSync", "Deno.readFile", "Deno.env",
        "Deno.args", "Deno.exit", "Bun.file", "performance.now",
    },
    "ruby": {
        "puts", "print", "p", "pp", "printf", "sprintf", "format", "require", "require_relative",
        "gets", "exit", "exit!", "abort", "raise", "rescue", "loop", "lambda", "proc", "sleep",
        "rand", "srand", "Integer", "Float", "String", "Array", "Hash", "Rational", "Complex",
        "attr_accessor", "attr_reader", "attr_writer", "include", "extend", "private",
        "public", "protected", "freeze", "frozen?", "block_given?", "catch", "throw", "at_exit",
        "warn", "binding", "caller", "JSON", "YAML.safe_load", "YAML.dump", "Time", "Date",
        "Math", "File.read", "File.exist?", "File.exists?", "File.file?", "File.directory?",
        "File.basename", "File.dirname", "File.extname", "File.join", "File.expand_path",
        "File.readlines", "File.size", "File.mtime", "File.foreach", "Dir.glob", "Dir.pwd",
        "Dir.entries", "Dir.children", "Dir.exist?", "Dir.home", "Dir.each_child", "ENV",
        "STDIN", "STDOUT", "STDERR", "ARGV", "Regexp", "Struct", "Set", "Comparable",
        "Kernel.puts", "Pathname", "URI", "URI.parse", "Digest", "Base64", "SecureRandom",
        "Benchmark", "Logger", "OptionParser", "Shellwords", "ERB", "CSV.parse", "CSV.read",
        "Process.pid", "Process.clock_gettime", "__dir__", "__FILE__", "__method__",
        "nil?", "is_a?", "respond_to?", "kind_of?", "instance_of?", "define_singleton_method",
        "yield", "super", "new", "then", "tap",
    },
    "perl": {
        "print", "printf", "say", "chomp", "chop", "split", "join", "map", "grep", "sort",
        "keys", "values", "each", "length", "substr", "index", "rindex", "lc", "uc", "lcfirst",
        "ucfirst", "sprintf", "push", "pop", "shift", "unshift", "splice", "reverse", "close",
        "die", "warn", "exit", "defined", "exists", "scalar", "ref", "bless", "wantarray",
        "time", "localtime", "gmtime", "sleep", "abs", "int", "sqrt", "rand", "srand", "hex",
        "oct", "ord", "chr", "eof", "binmode", "select", "readline", "chdir", "opendir",
        "readdir", "closedir", "stat", "lstat", "pos", "quotemeta", "pack", "unpack", "sin",
        "cos", "atan2", "exp", "log", "lock", "local", "wait", "caller", "delete", "undef",
        "use", "no", "require", "package", "return", "Data::Dumper::Dumper", "Dumper",
        "JSON::PP", "JSON::encode_json", "JSON::decode_json", "encode_json", "decode_json",
        "basename", "dirname", "getcwd", "cwd", "fileparse", "open", "glob", "LWP::UserAgent", "HTTP::Tiny",
    },
    "php": {
        "echo", "print", "printf", "sprintf", "vsprintf", "print_r", "var_dump", "var_export",
        "strlen", "str_replace", "str_contains", "str_starts_with", "str_ends_with", "substr",
        "strpos", "strtolower", "strtoupper", "trim", "ltrim", "rtrim", "explode", "implode",
        "json_encode", "json_decode", "count", "in_array", "array_keys", "array_values",
        "array_merge", "array_filter", "array_slice", "array_search", "array_key_exists",
        "array_push", "array_pop", "array_shift", "array_unshift", "array_reverse", "sort",
        "ksort", "asort", "isset", "empty", "is_array", "is_string", "is_int", "is_numeric",
        "intval", "floatval", "strval", "boolval", "date", "time", "microtime", "strtotime",
        "mktime", "round", "floor", "ceil", "abs", "max", "min", "rand", "mt_rand",
        "random_int", "uniqid", "md5", "sha1", "hash", "base64_encode", "base64_decode",
        "urlencode", "urldecode", "http_build_query", "parse_url", "htmlspecialchars",
        "nl2br", "number_format", "str_pad", "str_repeat", "ucfirst", "lcfirst", "ucwords",
        "preg_match", "preg_match_all", "preg_split", "preg_quote", "file_exists", "is_file",
        "is_dir", "basename", "dirname", "pathinfo", "realpath", "getcwd", "getenv",
        "file_get_contents_local", "file", "scandir", "glob", "filesize", "filemtime",
        "fread", "fgets", "fclose", "feof", "exit", "die", "define", "defined", "constant",
        "function_exists", "class_exists", "method_exists", "property_exists", "array",
        "list", "compact", "range", "array_fill", "array_combine", "array_flip",
        "array_unique", "array_sum", "array_column", "str_split", "sleep", "usleep",
        "error_log", "trigger_error", "set_error_handler", "ini_set", "php_sapi_name",
        "phpversion", "memory_get_usage", "gettype", "get_class", "spl_autoload_register",
        "curl_init", "curl_exec", "curl_close", "curl_error", "curl_getinfo",
        "curl_setopt_array", "stream_context_create",
    },
}
# Methods of values: judged by name whatever the value (`.map(`, `.split(`).
_PURE_METHODS = {
    "js": {
        "map", "filter", "forEach", "reduce", "reduceRight", "join", "split", "trim",
        "trimStart", "trimEnd", "toString", "push", "pop", "shift", "unshift", "slice",
        "includes", "indexOf", "lastIndexOf", "find", "findIndex", "findLast", "some", "every",
        "sort", "concat", "startsWith", "endsWith", "padStart", "padEnd", "toFixed",
        "toUpperCase", "toLowerCase", "replace", "replaceAll", "match", "matchAll", "test",
        "keys", "values", "entries", "get", "set", "has", "then", "catch", "finally", "json",
        "text", "log", "error", "warn", "info", "debug", "table", "dir", "bind", "call",
        "apply", "flat", "flatMap", "fill", "reverse", "at", "charAt", "charCodeAt",
        "codePointAt", "substring", "substr", "repeat", "localeCompare", "normalize",
        "getTime", "toISOString", "toJSON", "valueOf", "toLocaleString", "getFullYear",
        "getMonth", "getDate", "getHours", "getMinutes", "getSeconds", "parse", "stringify",
        "on", "once", "emit", "end", "write", "resolve", "reject", "all", "race", "allSettled",
        "any", "from", "of", "isArray", "assign", "freeze", "create", "defineProperty",
        "hasOwnProperty", "digest", "update", "createHash", "randomUUID",
        "randomBytes", "question", "close", "pipe", "setEncoding", "abs", "floor", "ceil",
        "round", "max", "min", "random", "pow", "sqrt", "now", "exit", "cwd", "readFileSync",
        "existsSync", "readdirSync", "statSync", "isFile", "isDirectory", "basename",
        "dirname", "extname", "relative", "isAbsolute", "splice", "clear",
        "size", "length",
    },
    "ruby": {
        "each", "map", "select", "reject", "collect", "inject", "reduce", "join", "split",
        "strip", "chomp", "to_s", "to_i", "to_f", "to_a", "to_h", "to_sym", "to_json",
        "inspect", "length", "size", "count", "first", "last", "sort", "sort_by", "uniq",
        "include?", "key?", "empty?", "nil?", "any?", "all?", "none?", "zero?", "upcase",
        "downcase", "capitalize", "gsub", "sub", "match", "match?", "scan", "start_with?",
        "end_with?", "keys", "values", "each_with_index", "each_with_object", "times",
        "upto", "downto", "step", "push", "pop", "shift", "unshift", "concat", "flatten",
        "compact", "merge", "fetch", "dig", "find", "detect", "group_by", "partition",
        "min", "max", "sum", "round", "floor", "ceil", "abs", "now", "strftime", "parse",
        "generate", "pretty_generate", "dump", "load_file", "read", "readlines", "exist?",
        "basename", "dirname", "expand_path", "each_line", "lines", "chars", "bytes",
        "freeze", "dup", "clone", "tap", "then", "new", "call", "puts", "print", "write",
        "close", "flush", "hexdigest", "encode", "decode", "force_encoding", "slice",
        "values_at", "zip", "take", "drop", "min_by", "max_by", "tally", "filter_map",
        "each_slice", "each_cons", "reverse", "rstrip", "lstrip", "center", "ljust",
        "rjust", "format", "body", "code", "message", "headers", "value", "to_str",
    },
    "perl": {"new", "get", "content", "decoded_content", "is_success", "status_line", "code",
             "header", "encode", "decode", "pretty", "canonical", "utf8", "print", "close",
             "json", "success", "status", "reason"},
    "php": {
        "format", "getMessage", "getCode", "fetch", "fetchAll", "fetchColumn", "rowCount",
        "getTimestamp", "modify", "diff", "setTimezone", "toArray", "json", "get", "has",
        "count", "first", "all", "map", "filter", "each", "pluck", "keys", "values",
        "toJson", "getBody", "getContents", "getStatusCode", "getHeaders",
    },
}
_KEYWORDS = {
    "js": {"if", "for", "while", "switch", "catch", "function", "return", "typeof", "await",
           "new", "delete", "void", "in", "of", "instanceof", "do", "else", "try", "throw",
           "yield", "async", "super", "this", "class", "extends", "constructor", "get", "set",
           "static", "with", "case", "default", "break", "continue", "let", "const", "var",
           "import", "export", "from", "as"},
    "ruby": {"if", "unless", "while", "until", "for", "in", "do", "end", "def", "class",
             "module", "begin", "rescue", "ensure", "else", "elsif", "case", "when", "then",
             "return", "yield", "self", "nil", "true", "false", "and", "or", "not", "next",
             "break", "redo", "retry", "super", "defined?", "alias", "undef", "__method__",
             "lambda", "proc", "new", "loop", "private", "protected", "public", "__dir__",
             "__FILE__", "__LINE__", "it"},
    "perl": {"my", "our", "local", "sub", "if", "elsif", "else", "unless", "while", "until",
             "for", "foreach", "last", "next", "redo", "return", "eq", "ne", "lt", "gt", "le",
             "ge", "cmp", "and", "or", "not", "xor", "x", "qw", "q", "qq", "qr", "m", "s", "tr",
             "y", "use", "no", "package", "BEGIN", "END", "do", "strict", "warnings", "utf8",
             "STDIN", "STDOUT", "STDERR", "ARGV", "ENV", "__END__", "__DATA__", "shift"},
    "php": {"if", "for", "foreach", "while", "switch", "catch", "function", "return", "array",
            "list", "isset", "empty", "unset", "echo", "print", "new", "elseif", "else",
            "match", "fn", "use", "declare", "exit", "die", "and", "or", "not", "clone",
            "instanceof", "static", "self", "parent", "namespace", "class", "interface",
            "trait", "extends", "implements", "public", "private", "protected", "abstract",
            "final", "const", "global", "as", "try", "finally", "throw", "yield", "include",
            "require", "include_once", "require_once", "php"},
}
_DB = {
    "js": re.compile(r"require\s*\(\s*__S\d+__|from\s+__S\d+__"),
    "ruby": re.compile(r"ActiveRecord|\bSequel\b|\bPG\b|Mysql2|SQLite3"),
    "perl": re.compile(r"\bDBI\b"),
    "php": re.compile(r"\bPDO\b|mysqli|pg_connect|pg_query|SQLite3"),
}
_DB_MODULES_JS = frozenset({"pg", "postgres", "mysql", "mysql2", "sqlite3", "better-sqlite3",
                            "@prisma/client", "knex", "sequelize", "typeorm", "drizzle-orm",
                            "@neondatabase/serverless", "@vercel/postgres", "kysely",
                            "mysql2/promise"})
_SQL_METHODS = frozenset({"query", "execute", "exec", "run", "prepare", "all", "raw", "unsafe",
                          "$executeRawUnsafe", "$queryRawUnsafe", "$executeRaw", "$queryRaw",
                          "exec_query", "exec_update", "exec_delete", "select_all", "do",
                          "selectall_arrayref", "selectrow_array", "pg_query", "query_params"})


# --------------------------------------------------------------------------------------------
# The scan


@dataclass
class _Call:
    name: str  # as written: "fs.rmSync", "require", ".then" (a method of an expression)
    args: str  # the text inside the parentheses (strings as placeholders), or the rest of
    # the statement for a call without parentheses
    bare: bool = False  # a Ruby/Perl word without parentheses


@dataclass
class _Scan:
    language: str
    code: str  # without comments, strings replaced by __S<n>__
    strings: list[str | None]  # values; None: interpolated (computed at run time)
    aliases: dict[str, str] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)

    def literal(self, text: str) -> str | None:
        """The value of an argument that is exactly one string literal (or literals joined
        with +/.), else None."""
        parts = [p.strip() for p in re.split(r"\+|\s\.\s", text.strip())]
        values = []
        for part in parts:
            match = _PLACEHOLDER.fullmatch(part)
            if match is None:
                return None
            value = self.strings[int(match.group(1))]
            if value is None:
                return None
            values.append(value)
        return "".join(values) if values else None

    def first_argument(self, args: str) -> str:
        depth = 0
        for index, c in enumerate(args):
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth -= 1
            elif c == "," and depth == 0:
                return args[:index]
        return args


def token_scan(run: Runner, code: str | None, language: str, depth: int,
               home: str | None = None) -> list[Effect]:
    """Judge code of `language` ("js", "ruby", "perl", "php"). `home`: where local files it
    loads are found (its folder; the working directory for inline code)."""
    label = LABELS[language]
    if code is None:
        return [unknown(f"the inline {label} code cannot be seen before it runs")]
    scan = _strip(code, language)
    found = _DYNAMIC[language].search(scan.code)
    if found:
        named = [scan.strings[int(m.group(1))] for m in
                 re.finditer(r"\[\s*__S(\d+)__\s*\]", scan.code)]
        return [unknown(f"the {label} code runs code built at run time ({found.group(0)[:40]})"),
                *(Effect(Verb.DELETE, Risk.DESTRUCTIVE, f"the {label} code calls {name} by "
                         "name", None, "file")
                  for name in named if name in _DESTRUCTIVE[language])]
    _bindings(scan)
    effects: list[Effect] = []
    unfollowed: list[str] = []
    database = _uses_database(scan)
    effects.extend(_local_files(run, scan, depth, home))
    for call in _calls(scan):
        effects.extend(_judge_call(run, scan, call, depth, database, unfollowed))
    effects.extend(_references(scan))
    effects.extend(_backticks(run, scan, depth))
    if unfollowed:
        shown = ", ".join(dict.fromkeys(unfollowed[:6]))
        effects.append(unknown(f"the {label} code calls {shown}, which airlock does not "
                               "follow"))
    return effects or [Effect(Verb.READ, Risk.READ, f"{label} code that only computes and "
                                                    "prints")]


def _strip(code: str, language: str) -> _Scan:
    """One pass, left to right: a string or a comment, whichever starts first, so neither
    hides inside the other (`"http://x"` is no comment, `// "x"` no string)."""
    strings: list[str | None] = []
    pieces: list[str] = []
    position = 0
    pattern = re.compile(f"(?P<string>{_STRING.pattern})|(?P<comment>"
                         f"{_COMMENTS[language].pattern})", _COMMENTS[language].flags | re.S)
    for match in pattern.finditer(code):
        pieces.append(code[position : match.start()])
        position = match.end()
        if match.group("comment") is not None:
            pieces.append(" ")
            continue
        raw = match.group("string")
        value, inner = _value(raw, language)
        if raw.startswith("`") and language != "js":  # backticks run a shell command
            pieces.append(f" %x __S{len(strings)}__ ")
        else:
            pieces.append(f"__S{len(strings)}__")
        if inner:
            pieces.append(" ; " + " ; ".join(inner) + " ; ")
        strings.append(value)
    pieces.append(code[position:])
    stripped = "".join(pieces)
    if language == "perl":  # `use Module qw(…);` loads a module: no call to judge
        stripped = re.sub(r"(?m)^\s*(?:use|no|package)\s+[^;]*;", " ", stripped)
    if language == "js":  # require("x") and import("x") stand for the module they load
        stripped = re.sub(r"\b(?:require|import)\s*\(\s*__S(\d+)__\s*\)", r"__R\1__",
                          stripped)
    return _Scan(language, stripped, strings)


def _value(raw: str, language: str) -> tuple[str | None, list[str]]:
    """A literal's value (None when it interpolates) and the code inside interpolations."""
    quote, body = raw[0], raw[1:-1]
    inner: list[str] = []
    computed = False
    if language == "js" and quote == "`" and "${" in body:
        inner = re.findall(r"\$\{(.*?)\}", body, re.S)
        computed = True
    elif language == "ruby" and quote in '"`' and "#{" in body:
        inner = re.findall(r"#\{(.*?)\}", body, re.S)
        computed = True
    elif language in ("perl", "php") and quote in '"`' and re.search(r"[$@][\w{]", body):
        inner = re.findall(r"\{\$(.*?)\}", body, re.S)
        computed = True
    if computed:
        return None, inner
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
    return "".join(out), inner


_JS_REQUIRE = re.compile(r"(?:const|let|var)\s+(\{[^}]*\}|[\w$]+)\s*=\s*(?:await\s+)?"
                         r"__R(\d+)__(?:\s*\.\s*([\w$]+))?")
_JS_IMPORT = re.compile(r"import\s+(?:([\w$]+)\s*,?\s*)?(?:\*\s+as\s+([\w$]+)|"
                        r"(\{[^}]*\}))?\s*from\s+__S(\d+)__")
_JS_ASSIGN = re.compile(r"(?:const|let|var)\s+([\w$]+)\s*=\s*([\w$.]+)\s*[;\n]")
_JS_DEFINED = re.compile(r"function\s*\*?\s*([\w$]+)|(?:const|let|var)\s+([\w$]+)\s*=\s*"
                         r"(?:async\s+)?(?:function|\([^)]*\)\s*=>|[\w$]+\s*=>)|"
                         r"^\s*(?:async\s+)?([\w$]+)\s*\([^)]*\)\s*\{|class\s+([\w$]+)",
                         re.M)
_RUBY_DEFINED = re.compile(r"\bdef\s+(?:self\.)?([\w?!]+)|\b(?:class|module)\s+([\w:]+)")
_RUBY_VARIABLES = re.compile(r"(?<![.\w@$:])([a-z_]\w*)\s*(?:=(?![=~>])|\+=|-=|\|\|=|&&=)|"
                             r"\|([^|]*)\||\bdef\s+[\w?!.]+\s*\(?([^)\n]*)|\bfor\s+(\w+)\s+in")
_PERL_DEFINED = re.compile(r"\bsub\s+([\w:]+)")
_PHP_DEFINED = re.compile(r"\bfunction\s+&?\s*(\w+)|\bclass\s+(\w+)")


def _bindings(scan: _Scan) -> None:
    code = scan.code
    if scan.language == "js":
        for match in re.finditer(r"__R(\d+)__", code):
            value = scan.strings[int(match.group(1))] or "?"
            scan.aliases[match.group(0)] = value.removeprefix("node:")
        for match in _JS_REQUIRE.finditer(code):
            module = scan.strings[int(match.group(2))] or "?"
            module = module.removeprefix("node:")
            member = f"{module}.{match.group(3)}" if match.group(3) else module
            _bind_js(scan, match.group(1), member)
        for match in _JS_IMPORT.finditer(code):
            module = (scan.strings[int(match.group(4))] or "?").removeprefix("node:")
            if match.group(1):
                scan.aliases[match.group(1)] = module
            if match.group(2):
                scan.aliases[match.group(2)] = module
            if match.group(3):
                _bind_js(scan, match.group(3), module)
        for match in _JS_ASSIGN.finditer(code):
            if match.group(1) not in scan.aliases:
                scan.aliases[match.group(1)] = _resolve(scan, match.group(2))
        for match in _JS_DEFINED.finditer(code):
            scan.defined.update(g for g in match.groups() if g)
    elif scan.language == "ruby":
        for match in _RUBY_DEFINED.finditer(code):
            scan.defined.update(g for g in match.groups() if g)
        for match in _RUBY_VARIABLES.finditer(code):
            for group in match.groups():
                if group:
                    scan.variables.update(re.findall(r"[a-z_]\w*", group))
    elif scan.language == "perl":
        scan.defined.update(_PERL_DEFINED.findall(code))
    else:
        for match in _PHP_DEFINED.finditer(code):
            scan.defined.update(g for g in match.groups() if g)


def _bind_js(scan: _Scan, target: str, module: str) -> None:
    if target.startswith("{"):
        for part in target.strip("{} ").split(","):
            if not part.strip():
                continue
            name, _, alias = part.partition(":" if ":" in part else " as ")
            scan.aliases[(alias or name).strip()] = f"{module}.{name.strip()}"
    else:
        scan.aliases[target] = module


def _resolve(scan: _Scan, name: str) -> str:
    """`cp.execSync` → `child_process.execSync`, through what the first part is bound to."""
    head, dot, rest = name.partition(".")
    for _ in range(8):
        bound = scan.aliases.get(head)
        if bound is None or bound == head:
            break
        head, inner_dot, inner_rest = bound.partition(".")
        if inner_dot:
            rest = f"{inner_rest}.{rest}" if dot else inner_rest
            dot = "."
    return f"{head}{dot}{rest}" if dot else head


_CALL = {
    "js": re.compile(r"((?<![\w$])(?:[\w$]+\s*\??\.\s*)*[\w$]+|[)\]]\s*\??\.\s*[\w$]+)\s*\("),
    "php": re.compile(r"(?<![\w$])((?:\\?[\w\\]+::)?\$?[\w\\]+(?:\s*->\s*\w+)*|->\s*\w+|"
                      r"::\s*\w+)\s*\("),
    "ruby": re.compile(r"(?<![\w@$:%])((?:[A-Z][\w]*(?:::[A-Z]\w*)*\s*\.\s*|::)?[a-zA-Z_]\w*"
                       r"[?!]?|\.\s*[a-zA-Z_]\w*[?!]?)(\s*\(|[ \t]+(?=[^\s=.)\]}|&+*/<>-])|"
                       r"(?=\s*$|\s*;|\s*\n|\s*\{|\s+do\b|\.))"),
    "perl": re.compile(r"((?<![\w$@%&:>])(?<!%x )[A-Za-z_][\w]*(?:::\w+)*|->\s*\w+)(\s*\(|[ \t]+"
                       r"(?=[$@%\"'_\w(\\-])|(?=\s*;))"),
}


def _calls(scan: _Scan) -> Iterator[_Call]:
    language = scan.language
    for match in _CALL[language].finditer(scan.code):
        name = re.sub(r"\s+", "", match.group(1)).replace("?.", ".")
        if name.startswith((")", "]")):
            name = name[1:]
        bare = language in ("ruby", "perl") and not match.group(0).rstrip().endswith("(")
        start = match.end()
        args = _args(scan.code, start) if not bare else _statement(scan.code, start)
        head = name.split(".")[0].split("::")[0].split("->")[0]
        if head in _KEYWORDS[language] and "." not in name and "::" not in name:
            continue
        if language == "ruby":
            if head in scan.variables and not name.startswith("."):
                continue
            if bare and name[0].isupper() and "." not in name:
                continue  # a constant
            if _PLACEHOLDER.fullmatch(name):
                continue
        if language == "perl" and (name.isupper() or _PLACEHOLDER.fullmatch(name)):
            continue  # a filehandle or a constant
        if language == "php" and name.startswith("$") and "->" not in name:
            continue  # $f( is caught as dynamic
        yield _Call(name, args, bare)


def _args(code: str, start: int) -> str:
    depth = 1
    for index in range(start, min(len(code), start + 20000)):
        c = code[index]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return code[start:index]
    return code[start : start + 2000]


def _statement(code: str, start: int) -> str:
    end = re.search(r"[;\n]|\bdo\b|\{", code[start:])
    return code[start : start + (end.start() if end else 2000)]


# --------------------------------------------------------------------------------------------
# Judging one call


def _judge_call(run: Runner, scan: _Scan, call: _Call, depth: int, database: bool,
                unfollowed: list[str]) -> list[Effect]:
    language = scan.language
    label = LABELS[language]
    name = _resolve(scan, call.name) if language == "js" else call.name
    last = re.split(r"\.|::|->", name)[-1]
    method = name.startswith((".", "->", "::")) or ("." in name and language != "ruby") or \
        "->" in name
    destructive = _DESTRUCTIVE[language]
    if name in _SHELL[language] or (language == "js" and name.split(".")[0] ==
                                    "child_process" and last in _SHELL_LAST):
        return _shell(run, scan, call, name, depth)
    if language == "ruby" and name in ("exec", "system", "spawn") and call.bare is False:
        return _shell(run, scan, call, name, depth)
    request = _http(scan, call, name)
    if request is not None:
        return _request_effects(request, f"by {label}")
    if name in destructive or (last in destructive and (method or language in ("perl", "php"))):
        kind = Risk.CATASTROPHIC if last in _CATASTROPHIC else Risk.DESTRUCTIVE
        literal = scan.literal(scan.first_argument(call.args))
        target = Target("path", literal, contextual=True) if literal and \
            kind is Risk.DESTRUCTIVE else None
        return [Effect(Verb.DELETE if kind is Risk.DESTRUCTIVE else Verb.DESTROY, kind,
                       f"the {label} code calls {name}", target, "file")]
    if database and last in _SQL_METHODS and method:
        sql = scan.literal(scan.first_argument(call.args))
        return embedded.sql_effects(sql, "postgres", Target("postgres", "?:?/?"),
                                    f"by {label} {last}")
    if language == "perl" and name == "open":
        return _perl_open(scan, call)
    if name in _WRITE[language] or (method and last in _WRITE[language]):
        return [Effect(Verb.WRITE, Risk.WRITE, f"the {label} code calls {name}")]
    if _pure(scan, name, last, method):
        return []
    if name in scan.defined or last in scan.defined:
        return []  # a function or method the code defines: its body is judged where written
    unfollowed.append(f"{name}()")
    return []


_SHELL_LAST = frozenset({"exec", "execSync", "spawn", "spawnSync", "execFile",
                         "execFileSync", "fork"})


def _pure(scan: _Scan, name: str, last: str, method: bool) -> bool:
    language = scan.language
    pure = _PURE[language]
    head = re.split(r"\.|::|->", name)[0]
    if name in pure or (head in pure and language in ("js", "ruby") and head[:1].isupper()):
        return True
    if language == "js":
        module = name.split(".")[0]
        if module in _JS_CORE and f"{module}.{last}" not in _PURE[language] and \
                module in ("fs", "fs/promises", "child_process", "http", "https", "net",
                           "tls", "dns", "vm", "worker_threads", "cluster"):
            return False  # fs and friends: only the calls listed
        if module in ("path", "util", "os", "url", "querystring", "assert", "crypto",
                      "events", "string_decoder", "zlib", "readline", "console", "JSON",
                      "Math", "Object", "Array", "Number", "String", "Promise", "Date"):
            return True
    if method and last in _PURE_METHODS[language]:
        return True
    return language == "ruby" and not method and name in _PURE_METHODS["ruby"]


def _shell(run: Runner, scan: _Scan, call: _Call, name: str, depth: int) -> list[Effect]:
    label = LABELS[scan.language]
    first = scan.first_argument(call.args).strip()
    text = scan.literal(first)
    if text is not None and name.endswith(("spawn", "spawnSync", "execFile", "execFileSync",
                                           "fork")):
        rest = call.args[len(first):].lstrip(" ,")
        words = _string_list(scan, rest) if rest.startswith("[") else []
        if words is None:
            return [unknown(f"the {label} code runs {text} with arguments built at run time")]
        return run.invoke([Word.literal(text), *map(Word.literal, words)], {}, None, depth + 1)
    return run.script(text, depth + 1, f"by {label} {name}")


def _string_list(scan: _Scan, text: str) -> list[str] | None:
    match = re.match(r"\[([^\]]*)\]", text.strip())
    if match is None:
        return None
    items = [p.strip() for p in match.group(1).split(",") if p.strip()]
    values = [scan.literal(item) for item in items]
    return None if any(v is None for v in values) else [v or "" for v in values]


def _perl_open(scan: _Scan, call: _Call) -> list[Effect]:
    parts = [p.strip() for p in call.args.split(",")]
    values = [scan.literal(p) or "" for p in parts[1:]]
    if any(v.strip() in ("|-", "-|") or v.strip().startswith("|") or v.strip().endswith("|")
           for v in values[:1]) or (len(parts) > 1 and scan.literal(parts[1]) is None):
        return [unknown("the Perl code opens a pipe to a command, or a mode computed at run "
                        "time")]
    modes = [scan.literal(p) for p in parts[1:2]]
    mode = modes[0] if modes else None
    if len(parts) == 2:  # two-argument open: the mode is in the name
        mode = (scan.literal(parts[1]) or ">")[:2]
    if mode is None or any(c in mode for c in ">+|"):
        return [Effect(Verb.WRITE, Risk.WRITE, "the Perl code opens a file to write")]
    return []


def _uses_database(scan: _Scan) -> bool:
    if scan.language == "js":
        modules = set(scan.aliases.values())
        return any(m.split(".")[0] in _DB_MODULES_JS or m in _DB_MODULES_JS for m in modules)
    return bool(_DB[scan.language].search(scan.code))


def _references(scan: _Scan) -> list[Effect]:
    """A destructive function named without being called: it may be called on anything."""
    if scan.language != "js":
        return []
    effects = []
    code = _JS_IMPORT.sub(" ", _JS_REQUIRE.sub(" ", scan.code))  # binding sites are no use
    for match in re.finditer(r"(?<![\w$.])((?:[\w$]+\.)*[\w$]+)(?!\s*[\w$(])", code):
        name = _resolve(scan, match.group(1))
        module, _, last = name.rpartition(".")
        if module in ("fs", "fs/promises", "fs-extra", "rimraf") and last in \
                _DESTRUCTIVE["js"] and name != match.group(1) + "(":
            effects.append(Effect(Verb.DELETE, Risk.DESTRUCTIVE, f"the JavaScript code hands "
                                  f"{name} to other code (it may delete any path)", None,
                                  "file"))
        elif module == "child_process" and last in _SHELL_LAST:
            effects.append(unknown(f"the JavaScript code hands {name} to other code (it may "
                                   "run anything)"))
    return effects


def _backticks(run: Runner, scan: _Scan, depth: int) -> list[Effect]:
    effects = []
    for match in re.finditer(r"%x __S(\d+)__", scan.code):
        value = scan.strings[int(match.group(1))]
        text = value if value is not None else None
        effects.extend(run.script(text, depth + 1, f"by {LABELS[scan.language]} backticks"))
    return effects


def _local_files(run: Runner, scan: _Scan, depth: int, home: str | None) -> list[Effect]:
    """Files the code loads from its own folder: read and judged as the same language."""
    language = scan.language
    names: list[str] = []
    if language == "js":
        names = [m for m in scan.aliases.values() if m.startswith((".", "/"))]
        names = [posixpath.normpath(m.split(".", 1)[0] if m.startswith("./") and
                                    m.count(".") > 1 and not m.endswith((".js", ".ts",
                                                                         ".mjs", ".cjs"))
                                    else m) for m in names]
    elif language == "ruby":
        for match in re.finditer(r"\brequire_relative\s*\(?\s*__S(\d+)__", scan.code):
            value = scan.strings[int(match.group(1))]
            names.append(value + ("" if (value or "").endswith(".rb") else ".rb")
                         if value else "")
    elif language == "php":
        for match in re.finditer(r"\b(?:include|require)(?:_once)?\s*\(?\s*__S(\d+)__",
                                 scan.code):
            names.append(scan.strings[int(match.group(1))] or "")
    elif language == "perl":
        for match in re.finditer(r"\b(?:do|require)\s+__S(\d+)__", scan.code):
            names.append(scan.strings[int(match.group(1))] or "")
    effects: list[Effect] = []
    for name in dict.fromkeys(names):
        if not name:
            effects.append(unknown(f"the {LABELS[language]} code loads a file named at run "
                                   "time"))
            continue
        candidates = [name]
        if language == "js" and not name.endswith((".js", ".mjs", ".cjs", ".ts", ".json")):
            candidates = [f"{name}.js", f"{name}.ts", f"{name}.mjs", f"{name}/index.js"]
        found = False
        for candidate in candidates:
            for code in run.read_code(Word.literal(candidate), home):
                if code.text is None and code.problem == "is missing":
                    continue
                found = True
                effects.extend(run.judge_file(code, language, depth))
        if not found:
            effects.append(unknown(f"the {LABELS[language]} code loads {name}, which cannot "
                                   "be read", Target("path", name, contextual=True)))
    return effects


# --------------------------------------------------------------------------------------------
# HTTP


@dataclass
class _Request:
    method: str | None
    url: str | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    computed: list[str] = field(default_factory=list)


_JS_FETCH = frozenset({"fetch", "node-fetch", "undici.fetch", "undici.request"})
_JS_METHOD_OPTION = re.compile(r"\bmethod\s*:\s*__S(\d+)__")
_JS_BODY_OPTION = re.compile(r"\bbody\s*:\s*(__S\d+__|JSON\.stringify\s*\()")


def _http(scan: _Scan, call: _Call, name: str) -> _Request | None:
    language = scan.language
    if language == "js":
        return _js_http(scan, call, name)
    if language == "ruby" and "Net::HTTP" in name:
        return _ruby_http(scan, call, name)
    if language == "php" and name == "curl_setopt":
        return _Request("", "")  # read once, with curl_exec
    if language == "php" and name == "file_get_contents":
        url = scan.literal(scan.first_argument(call.args))
        if url is not None and url.startswith(("http://", "https://")):
            rest = call.args[len(scan.first_argument(call.args)):]
            if "," in rest:  # a stream context: method and body cannot be seen here
                return _Request(None, url, computed=["stream context"])
            return _Request("GET", url)
        if url is None:
            return _Request(None, None, computed=["URL"])
        return _Request("", "")  # a local file or stream: a read
    if language == "php" and name == "curl_exec":
        return _php_curl(scan)
    if language == "perl" and last_part(name) in ("post", "delete", "put", "request", "patch",
                                                   "get", "head") and ("LWP" in scan.code or
                                                                       "HTTP::" in scan.code):
        verb = last_part(name)
        url = scan.literal(scan.first_argument(call.args))
        if verb == "request" or url is None:
            return _Request(None, None, computed=["request"])
        request = _Request(verb.upper(), url)
        if verb in ("post", "put", "patch") and "," in call.args:
            request.body = embedded.COMPUTED
            request.computed.append("body")
        return request
    return None


def last_part(name: str) -> str:
    return re.split(r"\.|::|->", name)[-1]


def _js_http(scan: _Scan, call: _Call, name: str) -> _Request | None:
    first = scan.first_argument(call.args)
    options = call.args[len(first):].lstrip(" ,")
    module, _, last = name.rpartition(".")
    if name in _JS_FETCH or (last == "fetch" and module in ("globalThis", "window")):
        request = _Request("GET", None)
        request.url = scan.literal(first)
        if request.url is None:
            return _Request(None, None, computed=["URL"])
        _js_options(scan, options, request)
        return request
    if name.split(".")[0] == "axios" or module == "axios":
        verb = last if last in ("get", "post", "put", "patch", "delete", "head") else None
        if verb is None:
            return _Request(None, None, computed=["axios options"])
        request = _Request(verb.upper(), scan.literal(first))
        if request.url is None:
            request.computed.append("URL")
            request.url = None
        if verb in ("post", "put", "patch"):
            body = options.split(",")[0].strip() if options else ""
            request.body = _js_body(scan, body, request)
        return request
    if module in ("http", "https") and last in ("request", "get"):
        request = _Request("GET" if last == "get" else None, None)
        url = scan.literal(first)
        if url is not None:
            request.url = url
            _js_options(scan, options, request)
        else:
            hostname = re.search(r"host(?:name)?\s*:\s*__S(\d+)__", first)
            path = re.search(r"\bpath\s*:\s*__S(\d+)__", first)
            method = _JS_METHOD_OPTION.search(first)
            if hostname is None:
                return _Request(None, None, computed=["options"])
            host = scan.strings[int(hostname.group(1))]
            where = scan.strings[int(path.group(1))] if path else "/"
            request.url = f"{module}://{host}{where}" if host and where else None
            request.method = (scan.strings[int(method.group(1))] or "") if method else "GET"
            if host is None or where is None:
                request.computed.append("URL")
        if last == "request" and request.method not in ("GET", "HEAD"):
            # The body is written to the request afterwards: `req.write(…)`, `req.end(…)`.
            written = re.search(r"\.\s*(?:write|end)\s*\(\s*(?=\S)(?!\))", scan.code)
            if written is not None:
                request.body = _js_body(scan, _args(scan.code, written.end()), request)
            else:
                request.computed.append("body")
        return request
    if name.split(".")[0] in ("got", "superagent", "request", "needle", "ky", "undici"):
        return _Request(None, None, computed=[f"{name}()"])
    return None


def _js_options(scan: _Scan, options: str, request: _Request) -> None:
    if not options:
        return
    method = _JS_METHOD_OPTION.search(options)
    if method:
        request.method = (scan.strings[int(method.group(1))] or "").upper() or None
    elif re.search(r"\bmethod\s*:", options):
        request.method = None
    body = re.search(r"\bbody\s*:\s*", options)
    if body:
        request.body = _js_body(scan, options[body.end():], request)
    if re.search(r"\bheaders\s*:", options):
        for key, value in re.findall(r"(__S\d+__|[\w-]+)\s*:\s*(__S\d+__|[^,}]+)",
                                     options.split("headers", 1)[1].split("}", 1)[0]):
            header = scan.literal(key) if key.startswith("__S") else key
            text = scan.literal(value.strip())
            if header and header.lower() not in ("method", "body"):
                if text is None:
                    request.computed.append(f"header {header}")
                request.headers.append((header, text or embedded.COMPUTED))


def _js_body(scan: _Scan, text: str, request: _Request) -> str | None:
    text = text.strip()
    literal = scan.literal(text.split(",")[0].split("}")[0].strip())
    if literal is not None:
        return literal
    match = re.match(r"JSON\.stringify\s*\(", text)
    if match:
        value = _js_object(scan, _args(text, match.end()))
        if value is not None:
            request.headers.append(("Content-Type", "application/json"))
            return json.dumps(value)
    request.computed.append("body")
    return embedded.COMPUTED


def _js_object(scan: _Scan, text: str) -> object | None:
    """A JS object literal of string values (`{query: "…", variables: {id: "x"}}`) as data;
    computed values become COMPUTED."""
    text = text.strip()
    if not text.startswith("{"):
        literal = scan.literal(text)
        return literal if literal is not None else embedded.COMPUTED
    body = text[1:-1] if text.endswith("}") else text[1:]
    result: dict[str, object] = {}
    depth = 0
    start = 0
    parts = []
    for index, c in enumerate(body):
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(body[start:index])
            start = index + 1
    parts.append(body[start:])
    for part in parts:
        if ":" not in part:
            if part.strip():
                result[part.strip()] = embedded.COMPUTED
            continue
        key, _, value = part.partition(":")
        key = key.strip()
        name = scan.literal(key) if key.startswith("__S") else key
        if not name:
            return None
        result[name] = _js_object(scan, value)
    return result


def _ruby_http(scan: _Scan, call: _Call, name: str) -> _Request | None:
    verbs = {"Get": "GET", "Post": "POST", "Put": "PUT", "Patch": "PATCH", "Delete": "DELETE"}
    args = call.args
    uri = re.search(r"URI(?:\.parse)?\s*\(?\s*__S(\d+)__", args)
    url = scan.strings[int(uri.group(1))] if uri else scan.literal(scan.first_argument(args))
    name_only = re.fullmatch(r"\s*([a-z_]\w*)\s*", scan.first_argument(args))
    if url is None and name_only is not None:  # `uri = URI("…")` earlier
        bound = re.findall(rf"\b{name_only.group(1)}\s*=\s*URI(?:\.parse)?\s*\(?\s*__S(\d+)__",
                           scan.code)
        if len(bound) == 1:
            url = scan.strings[int(bound[0])]
    for kind, method in verbs.items():
        if f"Net::HTTP::{kind}" in name:
            return _Request(method, url, computed=[] if url else ["URL"]) if url else \
                _Request(None, None, computed=["URL"])
    if name.endswith(("Net::HTTP.get", "Net::HTTP.get_response")):
        return _Request("GET", url) if url else _Request(None, None, computed=["URL"])
    if name.endswith(("Net::HTTP.post", "Net::HTTP.post_form")):
        rest = args.split(",", 1)[1] if "," in args else ""
        body = scan.literal(scan.first_argument(rest).strip()) if rest else None
        request = _Request("POST", url, body=body)
        if url is None:
            request.computed.append("URL")
        if body is None:
            request.computed.append("body")
        return request
    if name.endswith(("Net::HTTP.start", "Net::HTTP.new")):
        return None  # the requests it then sends are judged by their own calls
    return _Request(None, None, computed=["Net::HTTP request"])


def _php_curl(scan: _Scan) -> _Request:
    """curl_init + curl_setopt(CURLOPT_URL / CUSTOMREQUEST / POSTFIELDS / HTTPHEADER)."""
    request = _Request("GET", None)
    init = re.search(r"\bcurl_init\s*\(\s*(__S\d+__)?", scan.code)
    if init and init.group(1):
        request.url = scan.literal(init.group(1))
    for match in re.finditer(r"\bcurl_setopt\s*\(\s*\$\w+\s*,\s*(CURLOPT_\w+)\s*,\s*", scan.code):
        option = match.group(1)
        value = _args("(" + scan.code[match.end():], 1)
        literal = scan.literal(value)
        if option == "CURLOPT_URL":
            request.url = literal
        elif option == "CURLOPT_CUSTOMREQUEST":
            request.method = literal.upper() if literal else None
        elif option in ("CURLOPT_POSTFIELDS",):
            request.body = literal if literal is not None else embedded.COMPUTED
            if literal is None:
                request.computed.append("body")
            if request.method == "GET":
                request.method = "POST"
        elif option == "CURLOPT_POST":
            request.method = "POST" if request.method == "GET" else request.method
    if request.url is None:
        return _Request(None, None, computed=["URL"])
    return request


def _request_effects(request: _Request, origin: str) -> list[Effect]:
    if request.url == "" and request.method == "":
        return []  # part of a request judged elsewhere, or no request at all
    if request.url is None or request.method is None:
        return embedded.http_effects(None, origin)
    url = request.url if "://" in request.url else "http://" + request.url
    return embedded.request_effects(
        HttpRequest(request.method, url, tuple(request.headers), request.body),
        request.computed, origin)

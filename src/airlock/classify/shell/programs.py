"""Programs with logic of their own: shells and eval, find, sed and awk scripts. Commands
run elsewhere are in remote.py, database clients in databases.py, HTTP clients in
http_clients.py, interpreters in inline.py, git in gitcode.py, package managers in
packages.py, make in makefiles.py; handlers.py puts them all in one table.

Each handler receives the program's words and returns effects; most fall back to
the program's rules for whatever they do not treat specially.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airlock.classify.shell import paths
from airlock.classify.shell.argv import Args, parse_args
from airlock.classify.shell.base import unknown
from airlock.classify.shell.rules import Program
from airlock.classify.shell.scripts import run_script
from airlock.classify.shell.words import Word
from airlock.model import Effect, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Env, Handler, Runner, Stdin



def _read(reason: str, target: Target | None = None) -> list[Effect]:
    return [Effect(Verb.READ, Risk.READ, reason, target)]


def _write(reason: str, target: Target | None = None, scope: str = "") -> list[Effect]:
    return [Effect(Verb.WRITE, Risk.WRITE, reason, target, scope)]


def _args(program: Program, words: Sequence[Word], stop: bool = False) -> Args:
    spec = program.options
    if stop:
        spec = dataclasses.replace(spec, stop_at_positional=True)
    return parse_args(words[1:], spec)


def _help(program: Program, args: Args) -> bool:
    return any(f.name in program.help_flags for f in args.flags)

# --------------------------------------------------------------------------------------------
# Shells and shell code


def _shell(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    name = words[0].value or "sh"
    args = _args(program, words, stop=True)
    if args.opaque:
        return [unknown(f"the options of {name} are computed at run time")]
    if _help(program, args):
        return _read(f"{name} --help")
    if args.has(frozenset({"-c"})):
        code = args.positionals[0] if args.positionals else None
        return run.script(code.value if code else None, depth + 1, f"by {name} -c")
    if args.has(frozenset({"-n"})):
        return _read(f"{name} -n only checks syntax")
    script = args.positionals[0] if args.positionals else None
    if script is not None and not args.has(frozenset({"-s"})) and \
            script.value not in ("-", "/dev/stdin", "/proc/self/fd/0"):
        return run_script(run, script, "shell", depth, name)
    if stdin is None:
        return [unknown(f"{name} reads commands from standard input, which cannot be seen")]
    return run.script(stdin.text, depth + 1, f"by {name} from {stdin.origin}")


def _foreign_shell(run: Runner, program: Program, words: list[Word], env: Env,
                   stdin: Stdin | None, depth: int) -> list[Effect]:
    name = words[0].value or "shell"
    args = _args(program, words, stop=True)
    if _help(program, args):
        return _read(f"{name} --help")
    if args.positionals and not args.has(frozenset({"-c", "--command", "-Command"})) and \
            args.positionals[0].value not in (None, "-"):
        script = args.positionals[0]
        return [unknown(f"runs the {name} script {script.display}, whose language airlock "
                        "does not read", Target("path", script.display, contextual=True))]
    return [unknown(f"{name} code is not analysed (only POSIX shells are)")]


def _eval(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    rest = words[1:]
    if any(w.value is None for w in rest):
        return [unknown("eval runs text computed at run time")]
    return run.script(" ".join(w.value or "" for w in rest), depth + 1, "by eval")


def _source(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
            depth: int) -> list[Effect]:
    if len(words) < 2:
        return _read("source without a file")
    script = words[1]
    if script.value in ("/dev/stdin", "-", "/proc/self/fd/0"):
        if stdin is None:
            return [unknown("source reads commands from standard input, which cannot be seen")]
        return run.script(stdin.text, depth + 1, f"by source from {stdin.origin}")
    return run_script(run, script, "shell", depth, "source", same_shell=True)


def _alias(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    effects: list[Effect] = []
    for word in words[1:]:
        if word.value is None:
            return [unknown("alias defines a command computed at run time")]
        name, eq, value = word.value.partition("=")
        if eq:
            effects.extend(run.script(value, depth + 1, f"by the alias {name}"))
    return effects or _read("alias lists aliases")


def _trap(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    rest = words[1:]
    if not rest or rest[0].value in ("-l", "-p", "-", "--"):
        return _read("trap lists or resets handlers")
    return run.script(rest[0].value, depth + 1, "by trap")


# --------------------------------------------------------------------------------------------
# find

_FIND_VALUE_TESTS = frozenset({
    "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex",
    "-type", "-xtype", "-size", "-perm", "-user", "-group", "-uid", "-gid", "-mtime", "-atime",
    "-ctime", "-mmin", "-amin", "-cmin", "-newer", "-anewer", "-cnewer", "-maxdepth",
    "-mindepth", "-links", "-inum", "-samefile", "-lname", "-ilname", "-fstype", "-used",
    "-printf", "-context", "-regextype", "-newerXY", "-D", "-files0-from",
})
_FIND_WRITES = frozenset({"-fprint", "-fprint0", "-fprintf", "-fls"})
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
# `{}`: each found file. Never an option (find prefixes it with the start point).
_FOUND = Word("{}", None, "{}", template=None)


def _find(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    rest = words[1:]
    starts: list[Word] = []
    i = 0
    while i < len(rest) and rest[i].value in ("-H", "-L", "-P"):
        i += 1
    while i < len(rest):
        value = rest[i].value
        if value is None or value.startswith(("-", "(", "!", ")")) or value == ",":
            break
        starts.append(rest[i])
        i += 1
    if not starts:
        starts = [Word.literal(".")]
    effects: list[Effect] = []
    start_targets = [Target("path", s.display, contextual=True) for s in starts]
    while i < len(rest):
        word = rest[i]
        i += 1
        value = word.value
        if value is None:
            if word.may_be_flag:
                return [unknown(f"find's expression has a part computed at run time "
                                f"({word.text}), which could be -delete or -exec")]
            continue
        if value in ("--help", "--version"):
            return _read("find --help")
        if value in _FIND_VALUE_TESTS:
            i += 1
        elif value == "-delete":
            root = any(paths.is_root(s) for s in starts)
            risk = Risk.CATASTROPHIC if root else Risk.DESTRUCTIVE
            effects.extend(Effect(Verb.DELETE, risk, "find -delete removes every file it matches",
                                  t, "directory") for t in start_targets)
        elif value in _FIND_WRITES:
            if i < len(rest):
                effects.extend(_write(f"find {value} writes a file",
                                      Target("path", rest[i].display, contextual=True), "file"))
            i += 1
        elif value in _FIND_EXEC:
            end = i
            while end < len(rest) and rest[end].value not in (";", "+"):
                end += 1
            inner = [(_FOUND if w.value is not None and "{}" in w.value else w)
                     for w in rest[i:end]]
            if inner and inner[0] is _FOUND:
                return [unknown("find -exec runs the found files themselves")]
            effects.extend(run.invoke(inner, env, None, depth + 1))
            i = end + 1
    return effects or _read("find only lists files", start_targets[0])


# --------------------------------------------------------------------------------------------
# sed and awk: their scripts can write files and run commands

_SED_S_COMMAND = re.compile(r"s(?P<d>[^\\\n])(?:\\.|(?!(?P=d)).)*(?P=d)"
                            r"(?:\\.|(?!(?P=d)).)*(?P=d)(?P<flags>[gpiImMe0-9w]*)")


def _sed(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
         depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if args.opaque:
        return [unknown("sed's options are computed at run time")]
    if _help(program, args):
        return _read("sed --help")
    if args.values(frozenset({"-f", "--file"})):
        return [unknown("sed runs a script file that cannot be seen")]
    scripts = args.values(frozenset({"-e", "--expression"}))
    files = args.positionals
    if not scripts and files:
        scripts, files = [files[0]], files[1:]
    effects: list[Effect] = []
    for script in scripts:
        if script.value is None:
            return [unknown("sed's script is computed at run time")]
        kind = _sed_script_kind(script.value)
        if kind == "exec":
            return [unknown("the sed script runs shell commands (e)")]
        if kind == "write":
            effects.extend(_write("the sed script writes files (w)"))
    in_place = args.has(frozenset({"-i", "--in-place"})) or any(
        f.name.startswith("--in-place") for f in args.flags)
    if in_place:
        effects.extend(Effect(Verb.WRITE, Risk.WRITE, "sed -i edits the file in place",
                              Target("path", f.display, contextual=True), "file")
                       for f in files)
        if not files:
            effects.extend(_write("sed -i edits files in place"))
    return effects or _read("sed prints transformed text")


def _sed_script_kind(script: str) -> str:
    """"exec" when the script can run commands, "write" when it writes files, else "read"."""
    for match in _SED_S_COMMAND.finditer(script):
        flags = match.group("flags")
        if "e" in flags:
            return "exec"
        if "w" in flags:
            return "write"
    stripped = _SED_S_COMMAND.sub("", script)
    for part in re.split(r"[;\n}]", stripped):
        command = part.strip().lstrip("0123456789,$/!~+ ").lstrip("{").strip()
        if command.startswith("e"):
            return "exec"
        if command[:1] in ("w", "W"):
            return "write"
    return "read"


def _awk(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
         depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if args.opaque:
        return [unknown("awk's options are computed at run time")]
    if _help(program, args):
        return _read("awk --help")
    if args.values(frozenset({"-f", "--file", "-i", "--include", "-l", "--load"})):
        return [unknown("awk runs program files or extensions that cannot be seen")]
    texts = args.values(frozenset({"-e", "--source"}))
    if not texts and args.positionals:
        texts = [args.positionals[0]]
    for text in texts:
        if text.value is None:
            return [unknown("awk's program is computed at run time")]
        if re.search(r"\bsystem\s*\(|\|\s*getline|\|&|\bprint[f]?\b[^;}]*\|", text.value):
            return [unknown("the awk program runs shell commands")]
        if re.search(r"\bprint[f]?\b[^;}]*>", text.value):
            return _write("the awk program writes files")
    return _read("awk prints transformed text")


# --------------------------------------------------------------------------------------------
# Builtins that evaluate names or expressions: a subscript runs its command substitution

_TAKE_NAMES = frozenset({"read", "mapfile", "readarray", "getopts"})
_NAME_OPTIONS = frozenset({"-v", "-R", "-p", "-a"})


def _names(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    """`let EXPR`, `test -v NAME`, `printf -v NAME`, `read NAME`: bash evaluates a subscript
    in them (`let 'a[$(rm -rf /)]'` runs the rm), so each is judged as arithmetic."""
    name = words[0].value or ""
    effects: list[Effect] = []
    rest = words[1:]
    for index, word in enumerate(rest):
        before = rest[index - 1].value if index else None
        text = word.value if word.value is not None else word.sketch
        if name == "let" or (text is not None and "[" in text and (
                name in _TAKE_NAMES or before in _NAME_OPTIONS)):
            effects.extend(run.arithmetic_word(word, depth, f"{name} {before or ''}".strip()))
    return effects + run.decide_effects(program, words, env)


HANDLERS: dict[str, Handler] = {
    "names": _names,
    "shell": _shell,
    "foreign-shell": _foreign_shell,
    "eval": _eval,
    "source": _source,
    "alias": _alias,
    "trap": _trap,
    "find": _find,
    "sed": _sed,
    "awk": _awk,
}

"""Words as the paths they may name, and inline code as the paths and variables it reaches.

The building blocks of `touches.py`: a word becomes a `Touch` of the path it names (its value;
its literal prefix when part of it is computed; `$HOME` as `~`), any word of a program airlock
does not model yields every part that could be a path (`--env-file=.env`, `UNIX-LISTEN:x.sock`,
`-v ~/.aws:/root/.aws`), and inline code (`python -c`, `node -e`, `ruby -e`, `perl -e`,
`php -r`, awk programs) yields its string literals and its reads of the environment — Python
through `ast` (`os.environ["X"]`, `os.getenv("X")`, `dict(os.environ)`), the others by a token
scan (`process.env.X`, `ENV["X"]`, `$ENV{X}`, `getenv()`).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airlock.classify.shell.words import Word
from airlock.model import Touch, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Stdin

MAX_CODE_CHARS = 64 * 1024  # inline code scanned for paths and environment reads
MAX_WORD_CHARS = 4096  # longer words are not paths


# Interpreters: inline code, scripts, modules.
PYTHONS = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?$|^py$")
INLINE_CODE: dict[str, tuple[str, str]] = {
    # name: (options whose value is inline code, language)
    "node": ("-e --eval -p --print", "js"), "nodejs": ("-e --eval -p --print", "js"),
    "bun": ("-e --eval -p --print", "js"), "ruby": ("-e", "ruby"), "jruby": ("-e", "ruby"),
    "perl": ("-e -E", "perl"), "perl5": ("-e -E", "perl"), "php": ("-r", "php"),
    "deno": ("", "js"), "osascript": ("-e", "js"), "lua": ("-e", "lua"),
}

# Programs that take a credential to use it, not to show it: `ssh -i key host`.
_IDENTITY_OPTIONS = {"ssh": "-i", "scp": "-i", "sftp": "-i", "autossh": "-i", "mosh": "-i",
                     "ssh-add": "", "ssh-copy-id": "-i"}
# Free text that is not a path: git's commit messages, gh's titles and bodies.
_MESSAGE_OPTIONS = {"git": "-m --message", "gh": "-t --title -b --body", "glab": "-t --title "
                    "-d --description", "hg": "-m --message", "svn": "-m --message"}


def path_touch(word: Word, verb: Verb, reason: str, *, recursive: bool = False,
               content: bool = True, hidden: bool = True, certain: bool = True) -> Touch:
    """A touch for one operand word: its value, or its literal prefix when computed."""
    if word.value is not None:
        return Touch("path", word.value, verb, reason, recursive, False, content, hidden,
                     certain)
    template = word.template
    if template is not None and word.settled:
        template = settle_places(template)
        if "${" not in template:
            return Touch("path", template, verb, reason, recursive, False, content, hidden,
                         certain)
        return Touch("path", template.split("${", 1)[0], verb, reason, recursive, True,
                     content, hidden, certain)
    if _PROC_ENVIRON.match(word.text.strip("'\"")):
        # /proc/$$/environ, /proc/$PID/environ: whichever process, its environment.
        return Touch("path", "/proc/self/environ", verb, reason)
    prefix = word.prefix if template is None else settle_places(template).split("${", 1)[0]
    return Touch("path", prefix, verb, reason, recursive, True, content, hidden, certain)


_PROC_ENVIRON = re.compile(r"^/proc/[^/]+(/task/[^/]+)?/environ$")


def settle_places(template: str) -> str:
    """Put in the variables that name places the same way everywhere: `${HOME}` is `~`."""
    for name in ("HOME", "HOME:-~"):
        template = template.replace("${" + name + "}", "~")
    tmp = os.environ.get("TMPDIR") or "/tmp"  # noqa: S108 (a name in commands, not a file used)
    return template.replace("${TMPDIR}", tmp).replace("${TMPDIR:-/tmp}", tmp)


# --------------------------------------------------------------------------------------------
# Every other program: any word that could name a path


def generic(name: str, rest: Sequence[Word]) -> list[Touch]:
    skip = _identity_and_messages(name, rest)
    touches: list[Touch] = []
    for index, word in enumerate(rest):
        if index in skip:
            continue
        for candidate in candidates(word):
            touches.append(path_touch(candidate, Verb.UNKNOWN, f"{name} is given it", content=False))
    return touches


def _identity_and_messages(name: str, rest: Sequence[Word]) -> set[int]:
    """Indexes of words that are free text (`git commit -m …`) or a credential used, not shown
    (`ssh -i key`)."""
    options = (_IDENTITY_OPTIONS.get(name, "") + " " + _MESSAGE_OPTIONS.get(name, "")).split()
    skip: set[int] = set()
    if name == "ssh-add":
        return set(range(len(rest)))
    for i, word in enumerate(rest):
        value = word.value or ""
        if value in options:
            skip.add(i + 1)
        elif any(value.startswith(o + "=") for o in options if o.startswith("--")):
            skip.add(i)
    return skip


_SPLIT = re.compile(r"[=:,]")


def candidates(word: Word) -> list[Word]:
    """The word, and the parts of it after `=`, `:` or `,` (`--env-file=.env`,
    `UNIX-LISTEN:x.sock,fork`, `-v ~/.aws:/root/.aws`), with a leading `@` or `<` dropped."""
    if word.value is None:
        if word.prefix.startswith("-") and "=" in word.prefix:
            head = word.prefix.split("=", 1)[1]
            return [Word(word.text, None, head, template=None)]
        return [word] if word.prefix and not word.prefix.startswith("-") else \
            ([word] if word.settled else [])
    value = word.value
    if not value or len(value) > MAX_WORD_CHARS or "\n" in value:
        return []
    parts = [value] if not value.startswith("-") else []
    if _SPLIT.search(value):
        parts += [p for p in _SPLIT.split(value)[1:] if p]
    out = []
    for part in dict.fromkeys(parts):
        part = part.lstrip("@<")
        if part and not part.startswith("-") and not part.isdigit():
            out.append(Word.literal(part))
    return out


# --------------------------------------------------------------------------------------------
# Interpreters


def python_touches(name: str, rest: Sequence[Word], stdin: Stdin | None) -> list[Touch]:
    parsed = python_argv(rest)
    if parsed is None:
        return generic(name, rest)
    mode, value, after = parsed
    touches: list[Touch] = []
    if mode == "code":
        touches += python_code(value)
    elif mode == "stdin":
        touches += python_code(stdin.text if stdin is not None else None)
    elif mode == "script" and value is not None:
        touches.append(Touch("path", value, Verb.READ, f"{name} runs it", content=False))
    return touches + generic(name, after)


def python_argv(rest: Sequence[Word]) -> tuple[str, str | None, list[Word]] | None:
    """Python's own options: ("code", CODE, argv) for -c, ("module", NAME, argv) for -m,
    ("script", PATH, argv), ("stdin", None, argv); None when they cannot be read."""
    i = 0
    while i < len(rest):
        value = rest[i].value
        if value is None:
            return None
        if value == "-" or not value.startswith("-") or value == "--":
            if value == "--":
                i += 1
                value = rest[i].value if i < len(rest) else "-"
                if value is None:
                    return None
            if value == "-":
                return ("stdin", None, list(rest[i + 1:]))
            return ("script", value, list(rest[i + 1:]))
        if value.startswith("--"):
            i += 2 if value == "--check-hash-based-pycs" else 1
            continue
        letters = value[1:]
        for j, letter in enumerate(letters):
            if letter in "cmWX":
                attached = letters[j + 1:]
                if attached:
                    argument: str | None = attached
                    i += 1
                elif i + 1 < len(rest):
                    argument = rest[i + 1].value
                    i += 2
                else:
                    return None
                if letter == "c":
                    return ("code", argument, list(rest[i:]))
                if letter == "m":
                    if argument is None:
                        return None
                    return ("module", argument, list(rest[i:]))
                break
        else:
            i += 1
    return ("stdin", None, [])


def without_code(rest: Sequence[Word], letter: str) -> list[Word]:
    """A shell's words without its `-c TEXT` (the text is analysed as code of its own)."""
    out: list[Word] = []
    skip = False
    for word in rest:
        value = word.value or ""
        if skip:
            skip = False
            continue
        if value.startswith("-") and not value.startswith("--") and letter in value[1:]:
            skip = True
            continue
        out.append(word)
    return out


def interpreter_touches(name: str, rest: Sequence[Word], stdin: Stdin | None) -> list[Touch]:
    options, language = INLINE_CODE[name]
    codes = set(options.split())
    touches: list[Touch] = []
    inline = False
    skip: set[int] = set()
    for i, word in enumerate(rest):
        value = word.value or ""
        code: str | None = None
        if (value in codes or (name == "deno" and value == "eval")) and i + 1 < len(rest):
            code = rest[i + 1].value
            skip.update((i, i + 1))
        elif any(value.startswith(c + "=") for c in codes if c.startswith("--")):
            code = value.split("=", 1)[1]
            skip.add(i)
        else:
            continue
        inline = True
        touches += code_strings(code, language)
    if not inline and not [w for w in rest if (w.value or "-")[:1] != "-"] and stdin is not None:
        touches += code_strings(stdin.text, language)
    return touches + generic(name, [w for i, w in enumerate(rest) if i not in skip])


def python_code(code: str | None) -> list[Touch]:
    """String constants of Python code (paths it may open) and the environment it reads."""
    if code is None:
        return []
    if len(code) > MAX_CODE_CHARS:
        return [Touch("environment", "python", Verb.READ, "inline code too large to read for "
                      "the variables and files it reaches")]
    try:
        tree = ast.parse(code)
        nodes = list(ast.walk(tree))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code_strings(code, "python")
    touches: list[Touch] = []
    named: set[int] = set()
    for node in nodes:
        name = _environ_name(node)
        if name is not None:
            named.update(id(n) for n in ast.walk(node))
            touches.append(Touch("variable", name, Verb.READ, f"the code reads ${name}"))
    for node in nodes:
        if id(node) in named:
            continue
        if (isinstance(node, ast.Attribute) and node.attr in ("environ", "environb")) or \
                (isinstance(node, ast.Name) and node.id in ("environ", "getenv", "environb")) or \
                (isinstance(node, ast.Attribute) and node.attr == "getenv"):
            touches.append(Touch("environment", "python", Verb.READ, "the code reads the "
                                 "environment"))
            break
    for node in nodes:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            touches += [path_touch(w, Verb.UNKNOWN, "the code names it", content=False)
                        for w in candidates(Word.literal(node.value))]
    return touches


def _environ_name(node: ast.AST) -> str | None:
    """`os.environ["X"]`, `os.environ.get("X")`, `os.getenv("X")`, `environ["X"]`: X."""
    def environ(expr: ast.expr) -> bool:
        return (isinstance(expr, ast.Attribute) and expr.attr in ("environ", "environb")) or \
            (isinstance(expr, ast.Name) and expr.id in ("environ", "environb"))

    if isinstance(node, ast.Subscript) and environ(node.value) and \
            isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return node.slice.value
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault") and \
                environ(func.value):
            return node.args[0].value
        if (isinstance(func, ast.Attribute) and func.attr == "getenv") or \
                (isinstance(func, ast.Name) and func.id == "getenv"):
            return node.args[0].value
    return None


_STRING = re.compile(r"'((?:[^'\\\n]|\\.){1,4096})'|\"((?:[^\"\\\n]|\\.){1,4096})\"|"
                     r"`([^`\n]{1,4096})`")
_ENV_ACCESS = {
    "js": re.compile(r"process\s*\.\s*env(?P<rest>\s*(?:\.\s*(?P<a>\w+)|\[\s*['\"`](?P<b>\w+)"
                     r"['\"`]\s*\]))?"),
    "ruby": re.compile(r"\bENV(?P<rest>\s*(?:\[\s*['\"](?P<a>\w+)['\"]\s*\]|\.fetch\(\s*"
                       r"['\"](?P<b>\w+)['\"]))?"),
    "perl": re.compile(r"[%$]ENV(?P<rest>\s*\{\s*['\"]?(?P<a>\w+)['\"]?\s*\})?"),
    "php": re.compile(r"(?:getenv\(\s*|\$_(?:ENV|SERVER)\s*\[\s*)(?P<rest>['\"](?P<a>\w+)"
                      r"['\"](?P<b>))?|\$_(?:ENV|SERVER)\b(?P<c>)"),
    "python": re.compile(r"\b(?:environ|getenv)\b(?P<rest>\s*(?:\[\s*['\"](?P<a>\w+)['\"]|\.get"
                         r"\(\s*['\"](?P<b>\w+)['\"]|\(\s*['\"](?P<c>\w+)['\"]))?"),
    "awk": re.compile(r"\bENVIRON(?P<rest>\s*\[\s*\"(?P<a>\w+)\"\s*\])?"),
    "lua": re.compile(r"os\.getenv(?P<rest>\s*\(\s*['\"](?P<a>\w+)['\"])?"),
}


def code_strings(code: str | None, language: str) -> list[Touch]:
    """A token scan of code in another language: its string literals (paths it may open) and
    its reads of the environment (by name, or all of it)."""
    if code is None:
        return []
    if len(code) > MAX_CODE_CHARS:
        return [Touch("environment", language, Verb.READ, "inline code too large to read for "
                      "the variables and files it reaches")]
    touches: list[Touch] = []
    access = _ENV_ACCESS.get(language)
    if access is not None:
        for match in access.finditer(code):
            groups = match.groupdict()
            name = next((groups[g] for g in ("a", "b", "c") if groups.get(g)), None)
            if name:
                touches.append(Touch("variable", name, Verb.READ, f"the code reads ${name}"))
            else:
                touches.append(Touch("environment", language, Verb.READ, "the code reads the "
                                     "environment"))
    for match in _STRING.finditer(code):
        text = next(g for g in match.groups() if g is not None)
        touches += [path_touch(w, Verb.UNKNOWN, "the code names it", content=False)
                    for w in candidates(Word.literal(text))]
    return touches

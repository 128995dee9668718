"""Interpreters: `python`, `node`, `deno`, `ruby`, `perl`, `php` running inline code (`-c`,
`-e`, `-r`, heredocs, stdin), a script file, a module (`python -m`) or a preloaded file
(`node -r ./x.js`).

Python is judged by pycode.py (the `ast` module, names followed through imports and
assignments); the other languages by tokenscan.py (a token scan whose default is unknown).
Script files are read and judged like inline code (scripts.run_script); a framework's entry
script (manage.py, artisan, bin/rails) is judged both by its content and as the command the
frameworks pack knows.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from airlock.classify.shell import pycode, tokenscan
from airlock.classify.shell.argv import Args, parse_args
from airlock.classify.shell.base import unknown
from airlock.classify.shell.rules import Program
from airlock.classify.shell.scripts import run_script
from airlock.classify.shell.words import Word
from airlock.model import Effect, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import CodeFile, Env, Handler, Language, Runner, Stdin


def _write(language: str) -> Effect:
    return Effect(Verb.WRITE, Risk.WRITE, f"runs inline {language} code")


def _destroy(reason: str, target: Target | None = None, scope: str = "file") -> Effect:
    return Effect(Verb.DELETE, Risk.DESTRUCTIVE, reason, target, scope)


def token_scan(run: Runner, code: str | None, language: str, depth: int) -> list[Effect]:
    """Inline code of a language without a parser here (see tokenscan.py)."""
    return tokenscan.token_scan(run, code, language, depth)


def javascript(run: Runner, code: str | None, depth: int) -> list[Effect]:
    return tokenscan.token_scan(run, code, "js", depth)


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
            return _python_module(run, modules[0], script_names, args, env, stdin, depth)
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


def _python_module(run: Runner, word: Word, script_names: dict[str, str], args: Args,
                   env: Env, stdin: Stdin | None, depth: int) -> list[Effect]:
    """`python -m name`: a module in the working directory comes first (the agent may have
    written it); else the installed program of that name, as its rule pack judges it."""
    module = word.value
    if module is None:
        return [unknown("python -m runs a module named at run time")]
    homes = run.directories
    if homes is None:
        return [unknown(f"python -m {module}: a file in the working directory could be that "
                        "module, and that directory is not known")]
    local = pycode.local_module(run, module, homes, main=True)
    if local:
        return [e for code in local for e in run.judge_file(code, "python", depth)]
    mapped = script_names.get(module, module)
    if run.registry.program(mapped) is None:
        return [Effect(Verb.WRITE, Risk.WRITE, f"runs the Python module {module}")]
    return run.invoke([Word.literal(mapped), *args.positionals], env, stdin, depth + 1)


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
    """Inline code (an option's value, stdin): Python's imports are found in the working
    directory."""
    if depth > 6:
        return [unknown("inline code nested too deeply")]
    if language == "python":
        return pycode.judge(run, code, depth, run.directories)
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
        if language == "python":  # its imports are found next to it first
            home = posixpath.dirname(code.path) if code.path else None
            dispatches = posixpath.basename(code.path) in pycode.DISPATCHING_SCRIPTS
            return pycode.judge(run, code.text, depth, (home,) if home else None,
                                inline=False, dispatches=dispatches)
        home = posixpath.dirname(code.path) if code.path else None
        return tokenscan.token_scan(run, code.text, language, depth, home)

    return judge


LANGUAGES: dict[str, Language] = {language: _file_judge(language)
                                  for language in ("python", "js", "ruby", "perl", "php")}

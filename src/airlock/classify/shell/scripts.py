"""Programs that are files the agent could have written: judged by what they contain.

    ./deploy.sh, bin/cleanup, scripts/x.py     read, and judged by their #! interpreter (a text
                                               file without one is run by the shell: shell code)
    .venv/bin/python, node_modules/.bin/jest   installed programs: judged by name, like the
                                               same program found on PATH
    ./target/release/tool                      a binary program: unknown, unless its name is a
                                               program airlock knows (`./bin/terraform destroy`)
    cd DIR, pushd DIR, popd                    move the working directory scripts are read in

A text file whose name is also a program the rule packs know (`./manage.py flush`,
`./gradlew`) is judged both ways: by its content and by what the program does.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from airlock.classify.shell.base import program_name, unknown
from airlock.classify.shell.words import Word
from airlock.model import Effect, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Env, Handler, Runner, Stdin
    from airlock.classify.shell.rules import Program

# Interpreters by the name a #! line gives them (versions stripped: python3.12 → python).
_INTERPRETERS = {
    "sh": "shell", "bash": "shell", "dash": "shell", "zsh": "shell", "ksh": "shell",
    "ash": "shell", "mksh": "shell", "busybox": "shell",
    "python": "python", "pypy": "python",
    "node": "js", "nodejs": "js", "deno": "js", "bun": "js", "tsx": "js", "ts-node": "js",
    "ruby": "ruby", "perl": "perl", "php": "php",
}
_VERSION = re.compile(r"[\d.]+$")
_PACKAGE_RUNNERS = frozenset({"npx", "bunx", "pnpx"})
# `#!/usr/bin/env -S node --flag`: env's own options before the interpreter.
_ENV_OPTIONS_WITH_VALUE = frozenset({"-u", "--unset", "-C", "--chdir", "-P"})


def interpreter(text: str) -> tuple[str | None, str]:
    """(language, interpreter) of a script: from its #! line, or the shell's when it has none
    (bash runs a text file without #! as a shell script). Language None: not one airlock
    reads."""
    if not text.startswith("#!"):
        return "shell", "sh"
    line = text[2:].split("\n", 1)[0].strip()
    words = line.split()
    if not words:
        return "shell", "sh"
    name = words[0].rsplit("/", 1)[-1]
    if name == "env":
        rest = words[1:]
        while rest and (rest[0].startswith("-") or "=" in rest[0]):
            option = rest.pop(0)
            if option in _ENV_OPTIONS_WITH_VALUE and rest:
                rest.pop(0)
        if not rest:
            return None, "env"
        name = rest[0].rsplit("/", 1)[-1]
        words = rest
    if name in _PACKAGE_RUNNERS:  # `#!/usr/bin/env -S npx tsx`: the program npx runs
        following = [w for w in words[1:] if not w.startswith("-")]
        if not following:
            return None, name
        name = following[0].rsplit("/", 1)[-1]
    base = _VERSION.sub("", name.lower()) or name.lower()
    return _INTERPRETERS.get(base, _INTERPRETERS.get(name.lower())), name


def _installed(run: Runner, value: str) -> bool:
    """A program a package manager installed: node_modules/.bin/x, or bin/x of a Python
    virtual environment (the folder above holds pyvenv.cfg)."""
    if "/node_modules/.bin/" in "/" + value:
        return True
    folder = posixpath.dirname(value)
    if posixpath.basename(folder) not in ("bin", "Scripts"):
        return False
    config = posixpath.join(posixpath.dirname(folder) or ".", "pyvenv.cfg")
    found = run.read_code(Word.literal(config))
    return bool(found) and all(c.text is not None for c in found)


def local_program(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
                  depth: int) -> list[Effect]:
    first = words[0]
    assert first.value is not None
    name = program_name(first)
    by_name = [Word.literal(name), *words[1:]]
    known = run.registry.program(name) is not None
    if _installed(run, first.value):
        return run.invoke(by_name, env, stdin, depth + 1)
    effects: list[Effect] = []
    for code in run.read_code(first):
        target = Target("path", code.shown, contextual=True)
        if code.text is None:
            if code.binary and known:  # the program's own binary, like the one on PATH
                effects.extend(run.invoke(by_name, env, stdin, depth + 1))
            else:
                effects.extend(run.judge_file(code, "shell", depth))
            continue
        language, named = interpreter(code.text)
        if language is None:
            effects.append(unknown(f"runs {code.shown} with {named}, whose code airlock does "
                                   "not read", target))
        else:
            effects.extend(run.judge_file(code, language, depth))
        if known:
            effects.extend(run.invoke(by_name, env, stdin, depth + 1))
    return effects


def run_script(run: Runner, word: Word, language: str, depth: int, runner: str,
               same_shell: bool = False) -> list[Effect]:
    """`bash FILE`, `python FILE`, `source FILE`: the file, read and judged as `language`."""
    if word.value is None and word.prefix.startswith("/dev/fd/"):
        return [unknown(f"{runner} runs code from a process substitution")]
    effects: list[Effect] = []
    for code in run.read_code(word):
        effects.extend(run.judge_file(code, language, depth, same_shell=same_shell))
    return effects


# --------------------------------------------------------------------------------------------
# cd, pushd, popd


def _cd(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
        depth: int) -> list[Effect]:
    name = words[0].value or "cd"
    places = [w for w in words[1:] if not (w.value or "").startswith("-") or w.value == "-"]
    options = [w for w in words[1:] if w not in places]
    target: str | None = None
    if name != "popd" and len(places) == 1 and places[0].value is not None and \
            not any(o.value is None for o in options) and "CDPATH" not in env:
        target = places[0].value
    run.change_directory(target)
    return [Effect(Verb.READ, Risk.READ, f"{name} changes the working directory")]


HANDLERS: dict[str, Handler] = {"cd": _cd}

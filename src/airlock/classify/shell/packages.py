"""Package managers that run the project's own scripts: npm, yarn, pnpm, bun.

`npm run deploy`, `npm test`, `yarn build`, `pnpm start` run a command written in package.json
(`"scripts": {"deploy": "…"}`) with `sh -c`, in the folder of that package.json (the nearest one
at or above the working directory), with its `pre…` and `post…` scripts around it. That command
is judged like any other: a project script is code the agent could have written. A script that
cannot be read (no package.json, no such script, a file that is not JSON) is unknown.

`npm install` / `npm ci` also run the project's install scripts (`preinstall`, `install`,
`postinstall`, `prepare`); those are judged too. Scripts of the packages being installed cannot
be seen; installing stays a write, as before.

`yarn prisma migrate reset`: a name that is no built-in and no script runs the project's
binary of that name (judged as that program); `npm exec`, `yarn dlx`, `bunx` likewise.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from airlock.classify.shell import inline
from airlock.classify.shell.argv import OptionSpec, parse_args
from airlock.classify.shell.base import CodeFile, unknown
from airlock.classify.shell.rules import Program
from airlock.classify.shell.words import Word
from airlock.classify.shell.wrappers import package_bin
from airlock.model import Effect, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Env, Handler, Runner, Stdin

_RUNNER_BUILTINS = {
    "npm": {"exec", "x"},
    "yarn": {"dlx", "exec"},
    "pnpm": {"dlx", "exec"},
    "bun": {"x"},
}
_RUN = frozenset({"run", "run-script", "rum", "urn"})
# Built-in commands that run the script of the same name.
# yarn, pnpm and bun commands that never run a script of the same name.
_BUILTINS = frozenset({
    "install", "i", "add", "remove", "rm", "uninstall", "upgrade", "up", "update",
    "upgrade-interactive", "info", "why", "init", "create", "publish", "config", "cache",
    "global", "link", "unlink", "list", "ls", "login", "logout", "outdated", "owner", "pack",
    "version", "versions", "audit", "bin", "check", "exec", "dlx", "help", "import",
    "licenses", "node", "plugin", "policies", "set", "tag", "team", "unplug", "workspace",
    "workspaces", "dedupe", "explain", "npm", "patch", "patch-commit", "rebuild",
    "constraints", "search", "store", "prune", "fetch", "env", "setup", "root", "x", "pm",
    "ci", "whoami", "run", "test", "t", "start", "stop", "restart",
})
_SCRIPT_ALIASES = {"test": "test", "t": "test", "tst": "test", "start": "start",
                   "stop": "stop", "restart": "restart"}
_INSTALL = frozenset({"install", "i", "ci", "add", "isntall", "clean-install", "in"})
_INSTALL_SCRIPTS = ("preinstall", "install", "postinstall", "preprepare", "prepare",
                    "postprepare")
# Options that name another package (a workspace) or folder whose scripts run instead.
_ELSEWHERE = frozenset({"-w", "--workspace", "--workspaces", "-ws", "--filter", "-F",
                        "--recursive", "-r"})
_FOLDER = frozenset({"--prefix", "-C", "--cwd", "--dir"})
_MAX_PARENTS = 24


def _packages(run: Runner, program: Program, words: list[Word], env: Env,
              stdin: Stdin | None, depth: int) -> list[Effect]:
    name = words[0].value or ""
    args = parse_args(words[1:], OptionSpec(style=program.options.style,
                                             value_options=program.options.value_options,
                                             attached_only=program.options.attached_only,
                                             stop_at_positional=True))
    pos = args.positionals
    folder = args.values(_FOLDER)
    if name == "yarn" and not pos and not args.opaque and not args.flags:
        return run.decide_effects(program, words, env) + _lifecycle(run, name, folder, depth)
    if args.opaque or not pos or pos[0].value is None:
        return run.decide_effects(program, words, env)
    first = pos[0].value
    if name == "bun" and args.has(frozenset({"-e", "--eval", "-p", "--print"})):
        code = args.values(frozenset({"-e", "--eval", "-p", "--print"}))
        return inline.javascript(run, code[0].value, depth)
    if first in _RUNNER_BUILTINS.get(name, set()):
        return _exec(run, name, first, list(pos[1:]), env, stdin, depth)
    elsewhere = args.has(_ELSEWHERE) or bool(args.values(_ELSEWHERE))
    if first in _RUN or first in _SCRIPT_ALIASES:
        script = pos[1] if first in _RUN and len(pos) > 1 else None
        if first in _RUN and script is None:
            return [Effect(Verb.READ, Risk.READ, f"{name} {first} lists the project's scripts")]
        wanted = _SCRIPT_ALIASES.get(first) if script is None else script.value
        extra = pos[2:] if first in _RUN else pos[1:]
        if elsewhere:
            return [unknown(f"{name} {first} runs a script of another workspace package")]
        if wanted is None:
            return [unknown(f"{name} {first}: the script's name is computed at run time")]
        if name == "bun" and first == "run" and (wanted.startswith(("./", "/", "../")) or
                                                 wanted.endswith((".js", ".ts", ".mjs",
                                                                  ".cjs", ".tsx", ".jsx"))):
            return _bun_file(run, pos[1], depth)
        return _script(run, name, wanted, extra, folder, depth)
    if first in _INSTALL and not elsewhere:
        effects = run.decide_effects(program, words, env)
        return effects + _lifecycle(run, name, folder, depth)
    if name in ("yarn", "pnpm", "bun") and first not in _BUILTINS:
        if name == "bun" and first.endswith((".js", ".ts", ".mjs", ".cjs", ".tsx", ".jsx")):
            return _bun_file(run, pos[0], depth)
        # `yarn build`: the project's script of that name if it has one; otherwise a built-in
        # (`yarn upgrade`) or the project's binary (`yarn prisma …`).
        if first in program.subcommands:
            def otherwise() -> list[Effect]:
                return run.decide_effects(program, words, env)
        else:
            def otherwise() -> list[Effect]:
                return run.invoke([package_bin(pos[0]), *pos[1:]], env, stdin, depth + 1)
        return _script(run, name, first, pos[1:], folder, depth, otherwise=otherwise)
    return run.decide_effects(program, words, env)


def _exec(run: Runner, name: str, verb: str, inner: list[Word], env: Env,
          stdin: Stdin | None, depth: int) -> list[Effect]:
    if inner and inner[0].value == "--":
        inner = inner[1:]
    inner_args = parse_args(inner, OptionSpec(value_options=frozenset({"-p", "--package",
                                                                         "-c", "--call"}),
                                              stop_at_positional=True))
    calls = inner_args.values(frozenset({"-c", "--call"}))
    if calls:
        return run.script(calls[0].value, depth + 1, f"by {name} {verb} -c")
    if not inner_args.positionals:
        return [Effect(Verb.READ, Risk.READ, f"{name} {verb} without a command")]
    rest = inner_args.positionals
    return run.invoke([package_bin(rest[0]), *rest[1:]], env, stdin, depth + 1)


def _bun_file(run: Runner, word: Word, depth: int) -> list[Effect]:
    from airlock.classify.shell.scripts import run_script

    return run_script(run, word, "js", depth, "bun")


# --------------------------------------------------------------------------------------------
# package.json


def _manifest(run: Runner, folder: Sequence[Word]) -> list[tuple[CodeFile, dict[str, str]]]:
    """The package.json npm would use, for each directory the command may run in: the nearest
    one at or above it. A file that is not a JSON object of scripts gets no scripts."""
    starts = _starts(run, folder)
    if isinstance(starts, str):
        return [(CodeFile("package.json", "", None, starts), {})]
    found: list[tuple[CodeFile, dict[str, str]]] = []
    for directory in starts:
        for _ in range(_MAX_PARENTS):
            code = run.read_code(Word.literal(posixpath.join(directory, "package.json")))[0]
            if code.text is not None or code.problem != "is missing":
                found.append((code, _scripts(code)))
                break
            parent = posixpath.dirname(directory)
            if parent == directory:
                found.append((code, {}))
                break
            directory = parent
    return found


def _starts(run: Runner, folder: Sequence[Word]) -> list[str] | str:
    """Where npm starts looking (`--prefix` or the working directories), or why it cannot be
    told."""
    cwds = run.directories
    if folder:
        value = folder[-1].value
        if value is None:
            return "is in a folder named at run time"
        if posixpath.isabs(value):
            return [posixpath.normpath(value)]
        if cwds is None:
            return "is in a working directory airlock was not told"
        return [posixpath.normpath(posixpath.join(c, value)) for c in cwds]
    if cwds is None:
        return "is in a working directory airlock was not told"
    return list(cwds)


def _scripts(code: CodeFile) -> dict[str, str]:
    try:
        data = json.loads(code.text or "")
    except ValueError:
        return {}
    scripts = data.get("scripts") if isinstance(data, dict) else None
    if not isinstance(scripts, dict):
        return {}
    return {k: v for k, v in scripts.items() if isinstance(k, str) and isinstance(v, str)}


def _script(run: Runner, name: str, wanted: str, extra: Sequence[Word], folder: Sequence[Word],
            depth: int, otherwise: Callable[[], list[Effect]] | None = None) -> list[Effect]:
    """The package.json script `wanted` with its pre/post scripts, judged; `otherwise`: what
    runs when there is no such script (else that is unknown)."""
    if extra and extra[0].value == "--":
        extra = extra[1:]
    effects: list[Effect] = []
    for manifest, scripts in _manifest(run, folder):
        target = Target("path", manifest.path or manifest.shown, contextual=True)
        if manifest.text is None:
            if otherwise is not None:
                effects.extend(otherwise())
            else:
                effects.append(unknown(f"{name} runs the script {wanted!r} of package.json, "
                                       f"which {manifest.problem}", target))
            continue
        if wanted not in scripts:
            if otherwise is not None:
                effects.extend(otherwise())
            elif name == "npm" and wanted == "start":
                effects.extend(_run_in(run, manifest, "node server.js", depth,
                                       f"by npm start (no start script) in {manifest.shown}"))
            else:
                effects.append(unknown(f"{name} runs the script {wanted!r}, which "
                                       f"{manifest.shown} does not define", target))
            continue
        if any(w.value is None for w in extra):
            effects.append(unknown(f"arguments given to the script {wanted!r} are computed "
                                   "at run time"))
            continue
        appended = "".join(" " + shlex.quote(w.value or "") for w in extra)
        effects.append(Effect(Verb.READ, Risk.READ, f"{name} runs the script {wanted!r} of "
                              f"{manifest.shown}, judged by what it runs", target, "file"))
        for step in (f"pre{wanted}", wanted, f"post{wanted}"):
            if step in scripts:
                text = scripts[step] + (appended if step == wanted else "")
                effects.extend(_run_in(run, manifest, text, depth,
                                       f"by {name} as the script {step!r}"))
    return effects


def _lifecycle(run: Runner, name: str, folder: Sequence[Word], depth: int) -> list[Effect]:
    """The project's own install scripts, run by `npm install` with no package named."""
    effects: list[Effect] = []
    for manifest, scripts in _manifest(run, folder):
        for step in _INSTALL_SCRIPTS:
            if step in scripts:
                effects.extend(_run_in(run, manifest, scripts[step], depth,
                                       f"by {name} install as the script {step!r}"))
    return effects


def _run_in(run: Runner, manifest: CodeFile, text: str, depth: int,
            origin: str) -> list[Effect]:
    folder = posixpath.dirname(manifest.path) if manifest.path else None
    with run.in_directory(folder):
        return run.script(text, depth + 1, origin)


HANDLERS: dict[str, Handler] = {"packages": _packages}

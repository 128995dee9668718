"""Shell classification: what a command line would do, judged before it runs.

    classify_shell(command) -> Assessment        total: never raises, bounded time

Module map (read in this order):

    syntax.py      tree-sitter-bash; a tree with errors or text it did not place is not trusted
    words.py       an argument's value after quotes, escapes, ANSI-C and brace expansion
    base.py        what handlers are written against: Runner, Stdin, CodeFile, the Handlers table
    analysis.py    the walk over every part of the tree; redirections, pipes, heredocs, variables,
                   arithmetic; the working directory as cd moves it
    files.py       ScriptReader: the bounded reader of files a command runs (and its twin)
    places.py      where commands run, and the files they run from there (recorded as inputs)
    handlers.py    every handler below in one table, which the analysis is given
    wrappers.py    sudo, env, nice, timeout, xargs, npx, uv run, … peeled to the inner command
    programs.py    shells and eval, source, find, sed, awk, let/test/read (arithmetic names)
    scripts.py     programs named by a path (#! interpreters), running a script file, cd
    packages.py    npm/yarn/pnpm/bun: package.json scripts
    makefiles.py   make: the recipes a build would run
    gitcode.py     git: commands in its options, its repository's configuration and hooks
    remote.py      ssh, docker/compose exec and run, kubectl exec, railway/heroku/fly run
    databases.py   psql, mysql, sqlite3, redis-cli, mongosh and the server tools around them
    http_clients.py curl, wget, httpie, gh api, railway api
    inline.py      interpreters: inline code, script files, modules
    pycode.py      Python, read with ast: names followed, HTTP clients rebuilt
    tokenscan.py   JavaScript, Ruby, Perl, PHP: a token scan whose default is unknown
    embedded.py    handing SQL and HTTP to their classifiers, keeping what they say
    argv.py        options, bundles and values of one program's arguments
    rules.py       the rule packs (src/airlock/data/rules/*.toml): model, loading, matching
    paths.py       path classes: temp, root, device, precious
    targets.py     what an effect touches, in the shapes the gate resolves
    touches.py     what each command reads and writes, for the guards (guards.py)
    operands.py    words as the paths they name; inline code's paths and environment reads
    airlock_cli.py airlock's own commands, however started, and which only a human may run

Unknown, unparseable or failing anything is unknown, which the gate holds: a program name
computed at run time, eval of computed text, code piped in from curl or base64, options hidden in
variables, a parse error, text nested too deep, input too large or too slow to analyse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.classify import MAX_INPUT_BYTES
from airlock.model import Assessment, Effect, Risk, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.files import ScriptReader

__all__ = ["MAX_SHELL_BYTES", "classify_shell"]

# Shell commands above this size are unknown without parsing. Tighter than MAX_INPUT_BYTES:
# parsing and walking are linear, but a guard that answers within tens of milliseconds needs a
# bound on the input itself, and no agent's command line comes near it.
MAX_SHELL_BYTES = min(MAX_INPUT_BYTES, 100 * 1024)
# Budget for one classification, in CPU time of the classifying thread (`budget_clock`); past it
# the answer is unknown. CPU time, not the wall clock: it bounds the work done, and the same
# command gets the same verdict on a busy machine as on an idle one.
TIME_BUDGET_SECONDS = 0.04

_CLASSIFIER = "shell"


def classify_shell(command: str, *, cwd: str | None = None,
                   reader: ScriptReader | None = None) -> Assessment:
    """Judge a shell command line run in `cwd`. Never raises; whatever is not understood is
    unknown. Files the command runs (scripts, package.json, Makefiles) are read with `reader`
    and judged by their content; without a reader (or a cwd, for relative names) they are
    unknown. What was read is in `Assessment.inputs`."""
    try:
        return _classify(command, cwd, reader)
    except Exception as exc:  # total by contract: a crash is an unknown, never an allow
        return Assessment.unknown(f"the shell classifier failed ({type(exc).__name__}: {exc})",
                                  classifier=_CLASSIFIER)


def _classify(command: object, cwd: str | None, reader: ScriptReader | None) -> Assessment:
    if not isinstance(command, str):  # callers are typed, but fronts pass along what they get
        return Assessment.unknown("the command is not text", classifier=_CLASSIFIER)
    if len(command) > MAX_SHELL_BYTES:  # characters never outnumber their UTF-8 bytes
        return _too_large(len(command))
    if "\x00" in command:
        return Assessment.unknown("the command contains a NUL byte", classifier=_CLASSIFIER)
    try:
        size = len(command.encode("utf-8"))
    except UnicodeEncodeError:
        return Assessment.unknown("the command is not valid UTF-8", classifier=_CLASSIFIER)
    if size > MAX_SHELL_BYTES:
        return _too_large(size)
    if not command.strip():
        return Assessment.of([Effect(Verb.READ, Risk.READ, "an empty command does nothing")],
                             classifier=_CLASSIFIER)

    from airlock.classify.shell.analysis import Analysis
    from airlock.classify.shell.handlers import HANDLERS
    from airlock.classify.shell.rules import RulePackError, registry
    from airlock.classify.shell.syntax import budget_clock

    try:
        packs = registry()
    except RulePackError as exc:
        return Assessment.unknown(f"the shell rule packs do not load: {exc.message}",
                                  classifier=_CLASSIFIER)
    analysis = Analysis(packs, HANDLERS, deadline=budget_clock() + TIME_BUDGET_SECONDS,
                        reader=reader, cwd=cwd)
    effects = analysis.finish(analysis.script(command, 0, ""))
    if not effects:
        effects = [Effect(Verb.READ, Risk.READ, "the command does nothing")]
    complete = not any(e.risk is Risk.UNKNOWN for e in effects)
    return Assessment.of(effects, classifier=_CLASSIFIER, complete=complete,
                         inputs=analysis.inputs.items(), touches=analysis.touches)


def _too_large(size: int) -> Assessment:
    return Assessment.unknown(f"the command is too large to analyse ({size} bytes; the limit "
                              f"is {MAX_SHELL_BYTES})", classifier=_CLASSIFIER)

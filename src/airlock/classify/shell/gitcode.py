"""git runs commands of its own: from its options, from the repository's configuration, and
from its hooks — all of which the agent could have written.

- options that carry a command: `-c core.pager=…`, `rebase --exec CMD`, `bisect run CMD`,
  `submodule foreach CMD`, `filter-branch --tree-filter CMD`, `difftool --extcmd CMD` (judged
  as shell code); `--upload-pack`, `--receive-pack`, `ext::` URLs (unknown: what runs there is
  spelled in git's own escaping);
- the repository's `.git/config` (found at or above the working directory, as git finds it):
  keys whose values are commands (`core.fsmonitor`, `core.pager`, `filter.*.smudge`,
  `alias.x = !cmd` when `git x` runs it) are judged like `-c` settings; `include` is unknown;
- the hooks a subcommand runs (`git commit` runs `.git/hooks/pre-commit`, `git push` runs
  `pre-push`, …, or those in `core.hooksPath`): read and judged by their #! interpreter.

Global configuration (~/.gitconfig) and hooks that git runs for read-only commands
(post-index-change, fsmonitor through a global setting) are not read: a known limit.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from airlock.classify.shell.argv import parse_args
from airlock.classify.shell.base import CodeFile, unknown
from airlock.classify.shell.scripts import interpreter
from airlock.classify.shell.words import Word
from airlock.model import Effect, Target

if TYPE_CHECKING:
    from airlock.classify.shell.base import Env, Handler, Runner, Stdin
    from airlock.classify.shell.rules import Program

COMMAND_KEYS = re.compile(
    r"^(core\.(pager|editor|sshcommand|askpass|gitproxy|fsmonitor)|sequence\.editor|"
    r"diff\.external|diff\..*\.(textconv|command)|merge\..*\.driver|"
    r"filter\..*\.(clean|smudge|process)|credential(\..*)?\.helper|gpg(\..*)?\.program|"
    r"alias\..*|uploadpack\.packobjectshook|pager\..*|web\.browser|browser\..*\.cmd|"
    r"(diff|merge)tool\..*\.cmd|man\..*\.cmd|remote\..*\.(uploadpack|receivepack)|"
    r"core\.hookspath|include\.path|includeif\..*)$")
_LOADS = ("core.hookspath", "include.path")

_HOOKS = {
    "commit": ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit",
               "post-rewrite", "reference-transaction"),
    "merge": ("pre-merge-commit", "prepare-commit-msg", "commit-msg", "post-merge",
              "reference-transaction"),
    "pull": ("pre-merge-commit", "prepare-commit-msg", "commit-msg", "post-merge",
             "post-checkout", "post-rewrite", "reference-transaction"),
    "rebase": ("pre-rebase", "post-rewrite", "post-checkout", "reference-transaction"),
    "checkout": ("post-checkout",),
    "switch": ("post-checkout",),
    "push": ("pre-push", "reference-transaction"),
    "am": ("applypatch-msg", "pre-applypatch", "post-applypatch", "post-rewrite"),
    "cherry-pick": ("prepare-commit-msg", "commit-msg", "post-commit", "post-rewrite"),
    "revert": ("prepare-commit-msg", "commit-msg", "post-commit"),
    "gc": ("pre-auto-gc",),
    "worktree": ("post-checkout",),
}
_MAX_PARENTS = 24


def _git(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
         depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if any(f.name in program.help_flags for f in args.flags):
        return run.decide_effects(program, words, env)
    effects: list[Effect] = []
    settings = list(args.values(frozenset({"-c"})))
    pos = args.positionals
    verb = pos[0].value if pos else None
    if verb == "config":
        values = [w for w in pos[1:] if not (w.value or "").startswith("-")]
        if len(values) >= 2 and values[0].value is not None:
            settings.append(Word.literal(f"{values[0].value}={values[1].value}")
                            if values[1].value is not None else Word.opaque(values[1].text))
    for setting in settings:
        if setting.value is None:
            effects.append(unknown("git runs with a setting computed at run time"))
            continue
        key, _, value = setting.value.partition("=")
        effects.extend(_setting(run, key, value, depth, "-c", verb))
    effects.extend(_commands(run, words, args.positionals, depth))
    if args.opaque or verb is None:
        return effects + run.decide_effects(program, words, env)
    directory = args.last("-C")
    effects.extend(_repository(run, verb, directory, depth))
    return effects + run.decide_effects(program, words, env)


def _setting(run: Runner, key: str, value: str, depth: int, where: str,
             verb: str | None) -> list[Effect]:
    lowered = key.lower()
    if not COMMAND_KEYS.match(lowered):
        return []
    if lowered in _LOADS or lowered.startswith("includeif."):
        if lowered == "core.hookspath" and where != "-c":
            return []  # followed by _repository, which reads the hooks there
        return [unknown(f"git setting {key} ({where}) loads hooks or configuration that "
                        "cannot be seen")]
    if lowered.startswith("alias.") and (
            not value.startswith("!") or (where != "-c" and lowered[6:] != (verb or ""))):
        return []
    return run.script(value.removeprefix("!"), depth + 1, f"by git as {key} ({where})")


def _commands(run: Runner, words: list[Word], pos: list[Word], depth: int) -> list[Effect]:
    """Commands given to git itself to run."""
    effects: list[Effect] = []
    values = [w.value for w in words[1:]]
    verb = pos[0].value if pos else None
    for index, word in enumerate(words[1:], start=1):
        value = word.value or ""
        following = words[index + 1] if index + 1 < len(words) else None
        name, eq, attached = value.partition("=")
        if value.startswith(("ext::", "fd::")) or "::ext::" in value:
            effects.append(unknown("git runs the command of an ext:: URL"))
        elif name in ("--upload-pack", "--receive-pack", "--exec", "-u") and verb in (
                "clone", "fetch", "pull", "ls-remote", "push", "archive", "send-pack"):
            if name == "-u" and verb == "push":
                continue  # push -u is --set-upstream
            effects.append(unknown(f"git {verb} {name} runs a command of its choosing"))
        elif verb == "rebase" and name in ("-x", "--exec"):
            text = attached if eq else (following.value if following else None)
            effects.extend(run.script(text, depth + 1, "by git rebase --exec"))
        elif verb == "filter-branch" and name.endswith("-filter") and name.startswith("--"):
            text = attached if eq else (following.value if following else None)
            effects.extend(run.script(text, depth + 1, f"by git filter-branch {name}"))
        elif verb == "difftool" and name in ("-x", "--extcmd"):
            text = attached if eq else (following.value if following else None)
            effects.extend(run.script(text, depth + 1, "by git difftool --extcmd"))
    if verb == "bisect" and len(pos) > 2 and pos[1].value == "run":
        start = next(i for i, w in enumerate(words) if w is pos[1]) + 1
        effects.extend(run.invoke(words[start:], {}, None, depth + 1))
    if verb == "submodule" and "foreach" in values:
        rest = words[values.index("foreach") + 2 :]
        rest = [w for w in rest if w.value != "--recursive"]
        if any(w.value is None for w in rest):
            effects.append(unknown("git submodule foreach runs a command computed at run time"))
        elif rest:
            with run.in_directory(None):  # in each submodule's folder
                effects.extend(run.script(" ".join(w.value or "" for w in rest), depth + 1,
                                          "by git submodule foreach"))
    return effects


# --------------------------------------------------------------------------------------------
# The repository's own configuration and hooks


def _repository(run: Runner, verb: str, directory: str | None, depth: int) -> list[Effect]:
    """What the repository's configuration and hooks run for `git verb` (once per analysis
    for each subcommand and directory)."""
    key = ("git", verb, directory, run.directories)
    if key not in run.cache:
        run.cache[key] = _repository_effects(run, verb, directory, depth)
    effects = run.cache[key]
    assert isinstance(effects, list)
    return effects


def _repository_effects(run: Runner, verb: str, directory: str | None,
                        depth: int) -> list[Effect]:
    effects: list[Effect] = []
    for git_dir, common in _git_dirs(run, directory):
        config = run.read_code(Word.literal(posixpath.join(common, "config")))[0]
        hooks_path = posixpath.join(common, "hooks")
        if config.text is not None:
            for key, value in _config(config.text):
                effects.extend(_setting(run, key, value, depth, config.shown, verb))
                if key.lower() == "core.hookspath":
                    top = posixpath.dirname(git_dir.rstrip("/"))
                    hooks_path = value if value.startswith("/") else posixpath.join(top, value)
        elif config.problem != "is missing":
            effects.append(unknown(f"the repository's configuration {config.shown} "
                                   f"{config.problem}"))
        for hook in _HOOKS.get(verb, ()):
            code = run.read_code(Word.literal(posixpath.join(hooks_path, hook)))[0]
            if code.text is None and code.problem == "is missing":
                continue
            effects.extend(_hook(run, code, hook, depth))
    return effects


def _hook(run: Runner, code: CodeFile, hook: str, depth: int) -> list[Effect]:
    if code.text is None:
        return [unknown(f"git runs its {hook} hook {code.shown}, which {code.problem}",
                        Target("path", code.shown, contextual=True))]
    language, named = interpreter(code.text)
    if language is None:
        return [unknown(f"git runs its {hook} hook with {named}, whose code airlock does not "
                        "read", Target("path", code.shown, contextual=True))]
    return run.judge_file(code, language, depth)


def _git_dirs(run: Runner, directory: str | None) -> list[tuple[str, str]]:
    """(git dir, common dir) of the repository each working directory is in, as git finds it
    (the nearest .git at or above); none outside a repository."""
    starts = run.directories
    if starts is None:
        return []
    found: list[tuple[str, str]] = []
    for start in starts:
        current = posixpath.normpath(posixpath.join(start, directory or "."))
        for _ in range(_MAX_PARENTS):
            dot_git = posixpath.join(current, ".git")
            marker = run.read_code(Word.literal(dot_git))[0]
            if marker.text is not None and marker.text.startswith("gitdir:"):
                git_dir = marker.text[7:].strip()
                git_dir = git_dir if git_dir.startswith("/") else posixpath.join(current,
                                                                                 git_dir)
                common = run.read_code(Word.literal(posixpath.join(git_dir, "commondir")))[0]
                common_dir = posixpath.normpath(posixpath.join(git_dir, common.text.strip())) \
                    if common.text is not None else git_dir
                found.append((git_dir, common_dir))
                break
            head = run.read_code(Word.literal(posixpath.join(dot_git, "HEAD")))[0]
            if head.text is not None:
                found.append((dot_git, dot_git))
                break
            parent = posixpath.dirname(current)
            if parent == current:
                break
            current = parent
    return list(dict.fromkeys(found))


_SECTION = re.compile(r'^\[\s*([\w.-]+)(?:\s+"((?:\\.|[^"\\])*)")?\s*\]\s*(.*)$')


def _config(text: str) -> list[tuple[str, str]]:
    """`[section "sub"] key = value` lines as (section.sub.key, value); values unquoted."""
    found: list[tuple[str, str]] = []
    section = ""
    for raw in text.splitlines()[:5000]:
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        match = _SECTION.match(line)
        if match:
            section = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
            line = match.group(3).strip()
            if not line:
                continue
        key, eq, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        found.append((f"{section}.{key.strip()}", value if eq else "true"))
    return found


HANDLERS: dict[str, Handler] = {"git": _git}

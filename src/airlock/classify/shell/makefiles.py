"""`make`: the recipes a build would run, read from the Makefile and judged as shell commands.

A Makefile is code the agent could have written: `make deploy` runs whatever its `deploy:`
recipe says. The handler reads the Makefile make would use (`-f FILE`, else GNUmakefile,
makefile or Makefile in the directory `-C` names), finds the goals (the targets named, else
the first one) and every prerequisite they lead to, expands variables, and judges each recipe
line as a shell command run in that directory. Pattern rules (`%.o: %.c`) may serve any file,
so theirs are always judged.

What cannot be followed is unknown, never guessed: a Makefile that is missing or unreadable,
`$(eval …)`, `$(call …)`, `$(file …)`, a SHELL that is not a POSIX shell, an include that
cannot be read, a line this reader does not understand. Values computed at make time
(`$(wildcard …)`, an undefined variable, which may come from the environment) become a word
computed at run time, so a recipe `rm -rf $(BUILD)/` with BUILD undefined is judged as the
`rm -rf $X/` it may be. `$(shell …)` and `X != …` run while make reads the file: judged too.
Conditionals are not evaluated: both branches count.

The parser (`parse`) is pure: text in, a `Makefile` out; the handler does the reading.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airlock.classify.shell.argv import OptionSpec, parse_args
from airlock.classify.shell.base import CodeFile, unknown
from airlock.classify.shell.words import Word
from airlock.model import Effect, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Env, Handler, Runner, Stdin
    from airlock.classify.shell.rules import Program

# A value make computes while it runs; the shell sees a word computed at run time.
COMPUTED = "${AIRLOCK_MAKE_VALUE}"
_MAX_LINES = 4000
_MAX_EXPANSION = 16  # nesting of variable references
_MAX_TEXT = 64 * 1024  # characters of one expanded line
_MAX_INCLUDES = 8

_ASSIGNMENT = re.compile(r"^(?P<name>[^:#=\s]+)\s*(?P<op>:::=|::=|:=|\?=|\+=|!=|=)\s*(?P<value>.*)$")
_DIRECTIVES = ("ifeq", "ifneq", "ifdef", "ifndef", "else", "endif")
_SPECIAL_TARGETS = frozenset({
    ".PHONY", ".SUFFIXES", ".DEFAULT", ".PRECIOUS", ".INTERMEDIATE", ".SECONDARY",
    ".SECONDEXPANSION", ".DELETE_ON_ERROR", ".IGNORE", ".LOW_RESOLUTION_TIME", ".SILENT",
    ".EXPORT_ALL_VARIABLES", ".NOTPARALLEL", ".ONESHELL", ".POSIX", ".NOTINTERMEDIATE",
    ".WAIT", ".EXTRA_PREREQS",
})
# Functions whose result is text (unknown until make runs, but harmless to compute).
_TEXT_FUNCTIONS = frozenset({
    "subst", "patsubst", "strip", "findstring", "filter", "filter-out", "sort", "word",
    "wordlist", "words", "firstword", "lastword", "dir", "notdir", "suffix", "basename",
    "addsuffix", "addprefix", "join", "wildcard", "realpath", "abspath", "if", "or", "and",
    "foreach", "origin", "flavor", "info", "warning", "error", "let", "intcmp",
})
# Functions that run or define make code airlock does not follow, or write files.
_OPAQUE_FUNCTIONS = frozenset({"eval", "call", "value", "file", "guile", "load"})
_DEFAULTS = {"MAKE": "make", "RM": "rm -f", "CC": "cc", "CXX": "g++", "CPP": "cc -E",
             "AR": "ar", "AS": "as", "LD": "ld", "FC": "f77", "LEX": "lex", "YACC": "yacc",
             "INSTALL": "install", "SHELL": "/bin/sh", "MAKEFLAGS": "", "MFLAGS": "",
             "MAKECMDGOALS": COMPUTED, "ARFLAGS": "rv", "MAKEFILE_LIST": COMPUTED}
_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh"})


@dataclass
class Rule:
    targets: list[str]
    prerequisites: str
    recipe: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def pattern(self) -> bool:
        return any("%" in t or (t.startswith(".") and t.count(".") >= 2 and "/" not in t)
                   for t in self.targets)


@dataclass
class Makefile:
    variables: dict[str, str | None] = field(default_factory=dict)  # None: cannot be told
    rules: list[Rule] = field(default_factory=list)
    includes: list[tuple[str, bool]] = field(default_factory=list)  # (names, optional)
    parse_time: list[str] = field(default_factory=list)  # `X != cmd`: shell run while reading
    problems: list[str] = field(default_factory=list)


def parse(text: str, into: Makefile | None = None) -> Makefile:
    """Read a Makefile's text (into an existing one, for includes)."""
    made = into if into is not None else Makefile()
    lines = text.split("\n")
    if len(lines) > _MAX_LINES:
        made.problems.append(f"it has more than {_MAX_LINES} lines")
        return made
    rule: Rule | None = None
    conditional = False
    i = 0
    while i < len(lines):
        number = i + 1
        raw = lines[i]
        i += 1
        if raw.startswith("\t") and rule is not None:
            line = raw[1:]
            while line.endswith("\\") and i < len(lines):
                nxt = lines[i]
                i += 1
                line = line + "\n" + (nxt[1:] if nxt.startswith("\t") else nxt)
            rule.recipe.append(line)
            continue
        line = raw
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + " " + lines[i].lstrip()
            i += 1
        line = _uncomment(line).strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        if word == "define":
            name = rest.split()[0] if rest.split() else ""
            body: list[str] = []
            while i < len(lines) and lines[i].strip() != "endef":
                body.append(lines[i])
                i += 1
            i += 1
            _assign(made, name, "=", "\n".join(body), conditional)
            rule = None
            continue
        if word in _DIRECTIVES or (word.startswith(_DIRECTIVES[:4]) and "(" in word):
            conditional = True
            continue
        if word in ("include", "-include", "sinclude"):
            made.includes.append((rest.strip(), word != "include"))
            rule = None
            continue
        if word in ("export", "unexport", "override", "private") and rest:
            line = rest.strip()
            if word == "unexport":
                continue
            if _ASSIGNMENT.match(line) is None:
                continue  # `export NAME`: nothing to judge
        elif word in ("export", "unexport", "vpath"):
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment is not None and not _is_rule(line):
            name, op, value = assignment.group("name", "op", "value")
            if name == ".RECIPEPREFIX":
                made.problems.append("it changes .RECIPEPREFIX")
            if op == "!=":
                made.parse_time.append(value)
            _assign(made, name, op, value, conditional)
            rule = None
            continue
        if ":" in line:
            rule = _rule(made, line, number, conditional)
            continue
        if line.startswith(("$(", "${")):
            made.problems.append(f"line {number} runs a make function ({line[:40]})")
        else:
            made.problems.append(f"line {number} is not understood ({line[:40]})")
        rule = None
    return made


def _uncomment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] == "#":
            out.append("#")
            i += 2
            continue
        if c == "#":
            break
        out.append(c)
        i += 1
    return "".join(out)


def _is_rule(line: str) -> bool:
    """`a: X = 1` is a rule (with a target-specific variable), `X := 1` an assignment."""
    colon = _outside_references(line, ":")
    equal = _outside_references(line, "=")
    if colon < 0 or (0 <= equal < colon):
        return False
    return not line[colon:].startswith((":=", "::=", ":::="))


def _outside_references(line: str, char: str) -> int:
    depth = 0
    for index, c in enumerate(line):
        if c in "({":
            depth += 1
        elif c in ")}":
            depth = max(0, depth - 1)
        elif c == char and depth == 0:
            return index
    return -1


def _assign(made: Makefile, name: str, op: str, value: str, conditional: bool) -> None:
    if op == "!=":
        made.variables[name] = None
        return
    old = made.variables.get(name)
    if op == "?=" and name in made.variables:
        return
    if op == "+=":
        new: str | None = None if old is None and name in made.variables else \
            f"{old} {value}".strip() if old else value
    else:
        new = value
    if conditional and name in made.variables and old != new:
        new = None  # set differently in branches that are not evaluated
    made.variables[name] = new


def _rule(made: Makefile, line: str, number: int, conditional: bool) -> Rule | None:
    colon = _outside_references(line, ":")
    head, rest = line[:colon], line[colon + 1 :]
    if rest.startswith(":"):
        rest = rest[1:]  # double-colon rule
    recipe: list[str] = []
    semicolon = _outside_references(rest, ";")
    if semicolon >= 0:
        rest, inline = rest[:semicolon], rest[semicolon + 1 :]
        recipe.append(inline.strip())
    target_variable = _ASSIGNMENT.match(rest.strip())
    if target_variable is not None and _outside_references(rest, ":") < 0:
        # `target: NAME = value`: applies to that target; counted everywhere, conservatively.
        name, op, value = target_variable.group("name", "op", "value")
        _assign(made, name, op, value, True)
        return None
    second = _outside_references(rest, ":")
    if second >= 0:  # static pattern rule `targets: %.o: %.c`
        rest = rest[second + 1 :]
    rule = Rule(head.split(), rest.strip(), recipe, number)
    made.rules.append(rule)
    return rule


# --------------------------------------------------------------------------------------------
# Expansion


@dataclass
class _Expander:
    made: Makefile
    problems: list[str] = field(default_factory=list)
    shell: list[str] = field(default_factory=list)  # $(shell …) commands met

    def expand(self, text: str, auto: dict[str, str] | None = None, depth: int = 0) -> str:
        if depth > _MAX_EXPANSION:
            self.problems.append("variables refer to each other too deeply")
            return COMPUTED
        out: list[str] = []
        i = 0
        while i < len(text):
            c = text[i]
            if c != "$" or i + 1 >= len(text):
                out.append(c)
                i += 1
                continue
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt in "({":
                end = _closing(text, i + 1)
                if end < 0:
                    self.problems.append("a variable reference is not closed")
                    return COMPUTED
                out.append(self._reference(text[i + 2 : end], auto, depth))
                i = end + 1
                continue
            out.append(self._variable(nxt, auto, depth))
            i += 2
            if sum(len(p) for p in out) > _MAX_TEXT:
                self.problems.append("a line expands to too much text")
                return COMPUTED
        return "".join(out)

    def _reference(self, inner: str, auto: dict[str, str] | None, depth: int) -> str:
        function, space, args = inner.partition(" ")
        if space and function in _OPAQUE_FUNCTIONS:
            self.problems.append(f"it uses $({function} …), which airlock does not follow")
            return COMPUTED
        if space and function == "shell":
            self.shell.append(self.expand(args, auto, depth + 1))
            return COMPUTED
        if space and function in _TEXT_FUNCTIONS:
            self.expand(args, auto, depth + 1)  # for the $(shell …) it may hold
            return COMPUTED
        if ":" in inner and "=" in inner:  # $(VAR:.c=.o)
            return COMPUTED
        name = self.expand(inner, auto, depth + 1) if "$" in inner else inner
        if len(name) == 2 and name[1] in "DF" and auto is not None and name[0] in auto:
            value = auto[name[0]]
            if value == COMPUTED:
                return COMPUTED
            return (posixpath.dirname(value) or ".") if name[1] == "D" else \
                posixpath.basename(value)
        return self._variable(name, auto, depth)

    def _variable(self, name: str, auto: dict[str, str] | None, depth: int) -> str:
        if name in "@<^+?*%|" and len(name) == 1:
            return auto.get(name, COMPUTED) if auto is not None else COMPUTED
        if name in self.made.variables:
            value = self.made.variables[name]
            return COMPUTED if value is None else self.expand(value, auto, depth + 1)
        if name in _DEFAULTS:
            return _DEFAULTS[name]
        return COMPUTED  # undefined here: empty, or a value from the environment


def _closing(text: str, start: int) -> int:
    opener = text[start]
    closer = ")" if opener == "(" else "}"
    depth = 0
    for index in range(start, len(text)):
        if text[index] == opener:
            depth += 1
        elif text[index] == closer:
            depth -= 1
            if depth == 0:
                return index
    return -1


# --------------------------------------------------------------------------------------------
# What runs


@dataclass
class Plan:
    """The shell commands a make invocation would run: (origin, command), and why it cannot
    be judged when it cannot."""

    commands: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def plan(made: Makefile, goals: list[str], dry_run: bool = False) -> Plan:
    expander = _Expander(made)
    result = Plan()
    for command in made.parse_time:
        result.commands.append(("while make reads the Makefile",
                                expander.expand(command)))
    shell = expander.expand("$(SHELL)").strip()
    if posixpath.basename(shell.split()[0] if shell.split() else "") not in _POSIX_SHELLS:
        result.problems.append(f"its recipes run with SHELL={shell}, not a POSIX shell")
    by_target: dict[str, list[Rule]] = {}
    patterns: list[Rule] = []
    for rule in made.rules:
        if rule.pattern:
            patterns.append(rule)
            continue
        for target in rule.targets:
            by_target.setdefault(expander.expand(target), []).append(rule)
    if not goals:
        default = made.variables.get(".DEFAULT_GOAL")
        if default:
            goals = expander.expand(default).split()
        else:
            goals = next(([expander.expand(r.targets[0])] for r in made.rules
                          if r.targets and not r.pattern and r.targets[0] not in
                          _SPECIAL_TARGETS and not r.targets[0].startswith(".")), [])
    seen: set[str] = set()
    queue = list(goals)
    rules: list[tuple[Rule, str]] = []
    while queue:
        goal = queue.pop(0)
        if goal in seen or goal in _SPECIAL_TARGETS:
            continue
        seen.add(goal)
        if goal == COMPUTED or "$" in goal:
            result.problems.append("a prerequisite is computed while make runs")
            rules.extend((r, r.targets[0]) for rs in by_target.values() for r in rs)
            break
        for rule in by_target.get(goal, []):
            rules.append((rule, goal))
            prerequisites = expander.expand(rule.prerequisites).replace("|", " ").split()
            queue.extend(p for p in prerequisites if p not in seen)
    rules.extend((r, COMPUTED) for r in patterns)
    if ".DEFAULT" in by_target:
        rules.extend((r, COMPUTED) for r in by_target[".DEFAULT"])
    unique = {(id(rule), goal): (rule, goal) for rule, goal in rules}
    for rule, goal in unique.values():
        prerequisites = expander.expand(rule.prerequisites).replace("|", " ").split()
        auto = {"@": goal, "<": prerequisites[0] if prerequisites else "",
                "^": " ".join(dict.fromkeys(prerequisites)), "+": " ".join(prerequisites),
                "?": " ".join(prerequisites), "*": COMPUTED, "%": "", "|": ""}
        if goal == COMPUTED:
            auto = dict.fromkeys(auto, COMPUTED)
        for line in rule.recipe:
            text = expander.expand(line, auto)
            stripped = text.lstrip()
            prefix = ""
            while stripped[:1] in ("@", "-", "+"):
                prefix += stripped[0]
                stripped = stripped[1:].lstrip()
            if dry_run and "+" not in prefix and "$(MAKE)" not in line and \
                    "${MAKE}" not in line:
                continue
            if stripped:
                result.commands.append((f"target {goal if goal != COMPUTED else rule.targets[0]}"
                                        f" (line {rule.line})", stripped))
    result.commands.extend(("in $(shell …)", command) for command in expander.shell)
    result.problems.extend(dict.fromkeys(made.problems + expander.problems))
    return result


# --------------------------------------------------------------------------------------------
# The handler

_MAKE_VALUES = frozenset({"-f", "--file", "--makefile", "-C", "--directory", "-I",
                          "--include-dir", "-o", "--old-file", "--assume-old", "-W",
                          "--what-if", "--new-file", "--assume-new", "--eval", "-E"})
_DRY_RUN = frozenset({"-n", "--dry-run", "--just-print", "--recon", "-q", "--question"})
_DEFAULT_NAMES = ("GNUmakefile", "makefile", "Makefile")


def _make(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    name = words[0].value or "make"
    if name not in ("make", "gmake"):
        return run.decide_effects(program, words, env)
    args = parse_args(words[1:], OptionSpec(value_options=_MAKE_VALUES))
    if any(f.name in program.help_flags or f.name in ("-v", "-h") for f in args.flags):
        return [Effect(Verb.READ, Risk.READ, f"{name} --help")]
    if args.opaque:
        return [unknown(f"the options of {name} are computed at run time")]
    goals: list[str] = []
    overrides: dict[str, str | None] = {}
    for word in args.positionals:
        if word.value is None:
            return [unknown(f"{name}: a goal or a variable is computed at run time")]
        if "=" in word.value:
            key, _, value = word.value.partition("=")
            overrides[key.rstrip(":")] = value
        elif not word.value.isdigit():  # `make -j 4`: the job count
            goals.append(word.value)
    directory: str | None = None
    for step in args.values(frozenset({"-C", "--directory"})):
        if step.value is None:
            return [unknown(f"{name} -C names a folder computed at run time")]
        directory = step.value if directory is None or step.value.startswith("/") else \
            posixpath.join(directory, step.value)
    files = args.values(frozenset({"-f", "--file", "--makefile"}))
    evals = args.values(frozenset({"--eval", "-E"}))
    dry = args.has(_DRY_RUN)
    starts = _starts(run, directory)
    if isinstance(starts, str):
        return [unknown(f"{name} reads a Makefile that {starts}")]
    effects: list[Effect] = []
    for start in starts:
        with run.in_directory(start):
            effects.extend(_judge(run, name, start, files, evals, goals, overrides, dry, stdin,
                                  depth))
    return effects


def _starts(run: Runner, directory: str | None) -> list[str] | str:
    cwds = run.directories
    if directory is not None and posixpath.isabs(directory):
        return [posixpath.normpath(directory)]
    if cwds is None:
        return "is in a working directory airlock was not told"
    return [posixpath.normpath(posixpath.join(c, directory or ".")) for c in cwds]


def _judge(run: Runner, name: str, start: str, files: list[Word], evals: list[Word],
           goals: list[str], overrides: dict[str, str | None], dry: bool, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    made = Makefile()
    read: list[CodeFile] = []
    if files:
        for word in files:
            if word.value in ("-", "/dev/stdin"):
                if stdin is None or stdin.text is None:
                    return [unknown(f"{name} reads its Makefile from standard input, which "
                                    "cannot be seen")]
                parse(stdin.text, made)
                continue
            read.extend(run.read_code(word, start))
    else:
        found = None
        for candidate in _DEFAULT_NAMES:
            code = run.read_code(Word.literal(candidate), start)[0]
            if code.text is not None or code.problem != "is missing":
                found = code
                break
        read.append(found or CodeFile("Makefile", posixpath.join(start, "Makefile"), None,
                                      "is missing"))
    for code in read:
        if code.text is None:
            return [unknown(f"{name} runs the recipes of {code.shown}, which {code.problem}",
                            Target("path", code.shown, contextual=True))]
        parse(code.text, made)
    for word in evals:
        if word.value is None:
            return [unknown(f"{name} --eval runs make code computed at run time")]
        parse(word.value, made)
    problem = _include(run, made, start)
    if problem:
        return [unknown(f"{name}: {problem}")]
    made.variables.update(overrides)
    steps = plan(made, goals, dry)
    shown = ", ".join(c.shown for c in read) or "the Makefile"
    effects: list[Effect] = [Effect(Verb.READ, Risk.READ, f"{name} runs recipes of {shown}, "
                                    "judged by what they run", None, "file")]
    for problem in steps.problems:
        effects.append(unknown(f"{name} runs {shown}, which airlock cannot follow: {problem}"))
    for origin, command in steps.commands:
        effects.extend(run.script(command, depth + 1, f"by {name} ({origin} of {shown})"))
    return effects


def _include(run: Runner, made: Makefile, start: str) -> str | None:
    """Read the files `include` names into the Makefile (bounded); why not, if it cannot."""
    done = 0
    while made.includes:
        names, optional = made.includes.pop(0)
        expanded = _Expander(made).expand(names)
        if COMPUTED in expanded or "$" in expanded:
            return f"it includes a file named at run time ({names})"
        for item in expanded.split():
            done += 1
            if done > _MAX_INCLUDES:
                return f"it includes more than {_MAX_INCLUDES} files"
            code = run.read_code(Word.literal(item), start)[0]
            if code.text is None:
                if optional and code.problem == "is missing":
                    continue
                return f"it includes {item}, which {code.problem}"
            parse(code.text, made)
    return None


HANDLERS: dict[str, Handler] = {"make": _make}

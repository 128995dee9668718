"""Rule packs: what known programs do, as data (src/airlock/data/rules/*.toml).

A pack declares programs (how their options parse, which subcommands only read or only write,
what an unmatched invocation is) and rules. A rule matches the parsed arguments of one program:

    [[rule]]
    id = "reset-hard"                       # unique in the pack; reported as "git:reset-hard"
    program = "git"
    path = ["reset"]                        # leading positionals (subcommands); "a|b", globs
    flags_all = ["-r|-R|--recursive"]       # every entry present (an entry lists alternatives)
    flags_any = ["--hard", "--merge"]       # at least one present
    flags_none = ["-n|--dry-run"]           # none present (exact names only)
    args_any = ["class:root", "/dev/*"]     # some positional after the path matches
    args_all = ["class:temp"]               # every positional after the path matches (>= 1)
    args_none = ["-"]                       # no positional matches
    args_last = ["class:precious"]          # the last positional (a destination) matches
    dashdash = true                         # `--` followed by at least one word
    min_args = 1                            # positionals after the path, at least
    max_args = 1                            # and at most
    risk = "destructive"                    # read | write | destructive | catastrophic | unknown
    verb = "delete"                         # read | write | delete | destroy | execute | unknown
    scope = "worktree"
    reason = "git reset --hard discards uncommitted changes"
    targets = [{ kind = "path", from = "args" }]
    complete = true                         # false: the command acts on things we cannot see
    program_targets = false                 # the program's own targets (account, remote) do
                                            # not apply: the rule acts on this machine only
    examples_match = ["git reset --hard"]
    examples_no_match = ["git reset --soft HEAD~1"]

Rules are tried in file order and the first that matches decides, so specific rules (a dry run,
a preview) come before general ones; each rule's examples prove the order is right, and a pack
whose examples fail refuses to load. Option names follow the program's style: bundles such as
`-rf` are split before matching, and an abbreviated long option (`--recur`) counts as present.
When a word may turn into options at run time (`rm $F x`), any rule it could trigger that is
worse than the one that matched makes the result unknown.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import hashlib
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from airlock.classify.shell import paths, targets
from airlock.classify.shell.argv import Args, OptionSpec, normalize, parse_args
from airlock.classify.shell.targets import TargetSpec
from airlock.classify.shell.words import Word, settle
from airlock.errors import AirlockError
from airlock.model import Effect, Risk, Target, Verb

_DEFAULT_VERB = {Risk.READ: Verb.READ, Risk.WRITE: Verb.WRITE, Risk.DESTRUCTIVE: Verb.DELETE,
                 Risk.CATASTROPHIC: Verb.DESTROY, Risk.UNKNOWN: Verb.UNKNOWN}


class RulePackError(AirlockError):
    """A rule pack is malformed or fails its own examples; it must not be used."""


# --------------------------------------------------------------------------------------------
# Model


@dataclass(frozen=True, slots=True)
class Pattern:
    """One path element or argument pattern: alternatives, each a glob or `class:NAME`."""

    alternatives: tuple[str, ...]

    @staticmethod
    def of(text: str) -> Pattern:
        return Pattern(tuple(text.split("|")))

    def matches(self, word: Word, fold: bool = False) -> bool:
        for alt in self.alternatives:
            if alt.startswith("class:"):
                if paths.CLASSES[alt[6:]](word):
                    return True
            elif word.value is not None:
                value = word.value.lower() if fold else word.value
                if value == alt or (any(c in alt for c in "*?[") and
                                    fnmatch.fnmatchcase(value, alt)):
                    return True
        return False

    def literals(self) -> list[str]:
        return [a for a in self.alternatives
                if not a.startswith("class:") and not any(c in a for c in "*?[")]


@dataclass(frozen=True, slots=True)
class FlagSet:
    """Alternatives for one option: names (or name globs such as `--force*`), optionally with
    a value glob (`--dry-run=client`)."""

    names: frozenset[str]
    valued: tuple[tuple[str, str], ...]
    globs: tuple[str, ...] = ()

    @staticmethod
    def of(text: str, style: str) -> FlagSet:
        names: set[str] = set()
        valued: list[tuple[str, str]] = []
        globs: list[str] = []
        for alt in text.split("|"):
            name, eq, glob = alt.partition("=")
            if eq:
                valued.append((normalize(name, style), glob.lower()))
            elif "*" in name:
                globs.append(normalize(name, style))
            else:
                names.add(normalize(name, style))
        return FlagSet(frozenset(names), tuple(valued), tuple(globs))

    def present(self, args: Args, abbreviations: bool) -> bool:
        for flag in args.flags:
            for name, glob in self.valued:  # an explicit value is matched as written
                if flag.name == name and flag.value is not None and flag.value.value is not None \
                        and fnmatch.fnmatchcase(flag.value.value.lower(), glob):
                    return True
            if not flag.on:
                continue
            if flag.name in self.names or any(fnmatch.fnmatchcase(flag.name, g)
                                              for g in self.globs):
                return True
            if abbreviations and flag.name.startswith("--") and len(flag.name) > 3 and any(
                    n.startswith(flag.name) for n in self.names):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Outcome:
    risk: Risk
    verb: Verb
    scope: str
    reason: str
    complete: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    program: str
    outcome: Outcome
    path: tuple[Pattern, ...] = ()
    flags_all: tuple[FlagSet, ...] = ()
    flags_any: tuple[FlagSet, ...] = ()
    flags_none: tuple[FlagSet, ...] = ()
    args_any: tuple[Pattern, ...] = ()
    args_all: tuple[Pattern, ...] = ()
    args_none: tuple[Pattern, ...] = ()
    args_last: tuple[Pattern, ...] = ()
    dashdash: bool = False
    min_args: int = 0
    max_args: int | None = None
    targets: tuple[TargetSpec, ...] = ()
    program_targets: bool = True
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Program:
    names: tuple[str, ...]
    pack: str
    options: OptionSpec
    default: Outcome
    rules: tuple[Rule, ...] = ()
    subcommands: frozenset[str] = frozenset()
    fold_case: bool = False  # subcommands are case-insensitive (redis-cli)
    help_flags: frozenset[str] = frozenset({"--help", "--version"})
    targets: tuple[TargetSpec, ...] = ()
    handler: str | None = None  # a Python handler that takes over (see programs.py)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules say about one invocation."""

    rule: Rule | None  # None: the program's lists or default decided
    outcome: Outcome
    targets: tuple[Target, ...]
    could_be: tuple[Rule, ...] = ()  # worse rules that words unknown until run time may trigger
    args: Args = field(default_factory=Args)

    @property
    def rule_id(self) -> str:
        return self.rule.id if self.rule else "(default)"

    def effects(self) -> list[Effect]:
        o = self.outcome
        found = [Effect(o.verb, o.risk, o.reason, t, o.scope) for t in self.targets] or \
            [Effect(o.verb, o.risk, o.reason, None, o.scope)]
        if self.could_be:
            worst = max(self.could_be, key=lambda r: r.outcome.risk.rank)
            found.append(Effect(Verb.UNKNOWN, Risk.UNKNOWN,
                                "an argument computed at run time could make this "
                                f"'{worst.outcome.reason}'", None, worst.outcome.scope))
        return found


@dataclass(frozen=True, slots=True)
class Registry:
    programs: Mapping[str, Program]
    packs: tuple[str, ...]

    def program(self, name: str) -> Program | None:
        return self.programs.get(name)


# --------------------------------------------------------------------------------------------
# Matching


def decide(program: Program, words: Sequence[Word], env: Mapping[str, str | None]) -> Decision:
    """Apply a program's rules to its arguments (the words after the program name)."""
    args = parse_args([settle(w, env) for w in words], program.options)
    if any(f.name in program.help_flags for f in args.flags):
        return Decision(None, Outcome(Risk.READ, Verb.READ, "", "shows help or version"), (),
                        args=args)
    start = _path_start(program, args)
    uncertain = bool(args.opaque) or any(w.value is None and not w.settled
                                         for w in args.positionals)
    chosen: Rule | None = None
    could_be: list[Rule] = []
    for rule in program.rules:
        verdict = _match(rule, program, args, start)
        if verdict is True and chosen is None:
            chosen = rule
            if not uncertain:
                break
        elif verdict is None and uncertain:
            could_be.append(rule)
    if chosen is not None:
        outcome = chosen.outcome
        specs = chosen.targets + (program.targets if chosen.program_targets else ())
    else:
        outcome = program.default
        specs = program.targets
    worse = tuple(r for r in could_be if r.outcome.risk.rank > outcome.risk.rank)
    rest = args.positionals[start + (len(chosen.path) if chosen else 0):]
    found = targets.extract(specs, args, rest, env, args.positionals[start + 1 :])
    return Decision(chosen, outcome, tuple(found), worse, args)


def _path_start(program: Program, args: Args) -> int:
    """Where the subcommand path begins. Normally at the first positional; but when that word
    is no known subcommand and a later one is, an option we do not know took a value."""
    pos = args.positionals
    if not program.subcommands or not pos or pos[0].value is None:
        return 0
    first = pos[0].value.lower() if program.fold_case else pos[0].value
    if first in program.subcommands:
        return 0
    for i, word in enumerate(pos[1:4], start=1):
        if word.value is not None:
            value = word.value.lower() if program.fold_case else word.value
            if value in program.subcommands:
                return i
    return 0


def _match(rule: Rule, program: Program, args: Args, start: int) -> bool | None:
    """True: the rule matches. None: it might, depending on words computed at run time."""
    possible = False
    opaque = bool(args.opaque)
    positionals = args.positionals
    for k, pattern in enumerate(rule.path):
        index = start + k
        if index >= len(positionals):
            if opaque:
                possible = True
                continue
            return False
        word = positionals[index]
        if word.value is None and not word.settled:
            possible = True
        elif not pattern.matches(word, program.fold_case):
            return False
    abbreviations = program.options.style == "gnu"
    for flags in rule.flags_none:
        if flags.present(args, abbreviations=False):
            return False
    if rule.flags_none and opaque:
        possible = True  # the forbidden option may be hidden in a computed word
    for flags in rule.flags_all:
        if not flags.present(args, abbreviations):
            if not opaque:
                return False
            possible = True
    if rule.flags_any and not any(f.present(args, abbreviations) for f in rule.flags_any):
        if not opaque:
            return False
        possible = True
    rest = positionals[start + len(rule.path):]
    # Settled words (`$TMPDIR/x`) are judged on their template; other computed words could be
    # anything, so a pattern they do not match might still match at run time.
    dynamic_rest = any(w.value is None and not w.settled for w in rest)
    if rule.dashdash:
        after = positionals[args.dashdash:] if args.dashdash is not None else []
        if not after:
            if not opaque:
                return False
            possible = True
    if len(rest) < rule.min_args:
        if not opaque:
            return False
        possible = True
    if rule.max_args is not None and len(rest) > rule.max_args:
        return False
    if rule.max_args is not None and opaque:
        possible = True
    for pattern in rule.args_none:
        if any(pattern.matches(w) for w in rest):
            return False
    if rule.args_none and (dynamic_rest or opaque):
        possible = True
    if rule.args_last:
        last = rest[-1] if rest else None
        if last is None or not any(p.matches(last) for p in rule.args_last):
            if not (opaque or (last is not None and last.value is None and not last.settled)):
                return False
            possible = True
    if rule.args_any and not any(p.matches(w) for p in rule.args_any for w in rest):
        if not (opaque or dynamic_rest):
            return False
        possible = True
    if rule.args_all and not (rest and all(any(p.matches(w) for p in rule.args_all)
                                           for w in rest)):
        return False
    if rule.args_all and opaque:
        possible = True
    return None if possible else True


# --------------------------------------------------------------------------------------------
# Loading


_RULE_KEYS = {"id", "program", "path", "flags_all", "flags_any", "flags_none", "args_any",
              "args_all", "args_none", "args_last", "dashdash", "max_args", "program_targets",
              "min_args", "risk", "verb", "scope", "reason", "targets", "complete",
              "examples_match", "examples_no_match"}
_PROGRAM_KEYS = {"names", "style", "value_options", "attached_only", "stop_at_positional",
                 "subcommands", "fold_case", "help_flags", "targets", "handler", "default",
                 "read", "write"}
_OUTCOME_KEYS = {"risk", "verb", "scope", "reason", "complete"}
_TARGET_KEYS = {"kind", "from", "transform", "contextual", "default"}


def registry() -> Registry:
    """Every pack shipped with airlock, loaded and self-checked once per process. A failure is
    remembered too: every classification then answers unknown, cheaply."""
    loaded = _load_shipped()
    if isinstance(loaded, RulePackError):
        raise loaded
    return loaded


# A folder of airlock's own (the state folder) where passed self-checks are remembered, so a
# one-shot hook process does not run every example again (~0.3 s). Set by the hook paths.
_checks_folder: Path | None = None


def remember_checks_in(folder: Path) -> None:
    global _checks_folder
    _checks_folder = folder


@functools.cache
def _load_shipped() -> Registry | RulePackError:
    texts = _shipped_texts()
    mark = _checked_mark(texts)
    try:
        if mark is not None and mark.exists():
            return load(texts, check=False)
        registry = load(texts)
    except RulePackError as exc:
        return exc
    if mark is not None:
        _remember(mark)
    return registry


def _checked_mark(texts: Mapping[str, str]) -> Path | None:
    """The file that says these packs passed their examples under this very matcher code: named
    by the sha256 of the pack texts and of every module of the shell classifier."""
    if _checks_folder is None:
        return None
    digest = hashlib.sha256()
    try:
        for name, text in sorted(texts.items()):
            digest.update(f"{name}\0{text}\0".encode())
        for module in sorted(Path(__file__).parent.glob("*.py")):
            digest.update(module.read_bytes())
    except OSError:
        return None
    return _checks_folder / f"rulepacks-checked-{digest.hexdigest()[:32]}"


def _remember(mark: Path) -> None:
    with contextlib.suppress(OSError):  # only a cache: the next process checks again
        if mark.parent.is_dir():
            os.close(os.open(mark, os.O_WRONLY | os.O_CREAT, 0o600))


def _shipped_texts() -> dict[str, str]:
    texts = {}
    folder = resources.files("airlock") / "data" / "rules"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            texts[entry.name] = entry.read_text(encoding="utf-8")
    return texts


def load(texts: Mapping[str, str], *, check: bool = True) -> Registry:
    """Build a registry from pack texts (file name -> TOML); raise RulePackError on any fault.
    `check` False skips the examples (only for texts known to have passed them)."""
    programs: dict[str, Program] = {}
    pack_ids: list[str] = []
    for file_name, text in texts.items():
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RulePackError(f"rule pack {file_name} is not valid TOML: {exc}") from None
        pack = _load_pack(file_name, data)
        pack_ids.append(file_name)
        for program in pack:
            for name in program.names:
                if name in programs:
                    raise RulePackError(
                        f"program {name!r} is defined in {programs[name].pack} and {file_name}",
                        hint="each program belongs to exactly one pack")
                programs[name] = program
    result = Registry(programs, tuple(pack_ids))
    for program in {id(p): p for p in programs.values()}.values() if check else ():
        for rule in program.rules:
            _check_examples(rule, program, result)
    return result


def _load_pack(file_name: str, data: dict[str, Any]) -> list[Program]:
    where = file_name
    _only(data, {"pack", "program", "rule"}, where)
    pack_id = _require(data.get("pack", {}), "id", str, f"{where} [pack]")
    rules_by_program: dict[str, list[Rule]] = {}
    seen_ids: set[str] = set()
    specs: dict[str, dict[str, Any]] = {}
    for raw in data.get("program", []):
        _only(raw, _PROGRAM_KEYS, f"{where} [[program]]")
        names = _require(raw, "names", list, f"{where} [[program]]")
        specs[names[0]] = raw
    styles = {name: specs[name].get("style", "gnu") for name in specs}
    aliases = {alias: first for first, raw in specs.items() for alias in raw["names"]}
    for raw in data.get("rule", []):
        rid = _require(raw, "id", str, f"{where} [[rule]]")
        at = f"{where} rule {rid!r}"
        _only(raw, _RULE_KEYS, at)
        if rid in seen_ids:
            raise RulePackError(f"{at}: duplicate rule id")
        seen_ids.add(rid)
        program = aliases.get(_require(raw, "program", str, at))
        if program is None:
            raise RulePackError(f"{at}: program {raw['program']!r} is not declared in the pack")
        rules_by_program.setdefault(program, []).append(
            _load_rule(raw, f"{pack_id}:{rid}", program, styles[program], at))
    programs = []
    for first, raw in specs.items():
        at = f"{where} program {first!r}"
        style = raw.get("style", "gnu")
        if style not in ("gnu", "single"):
            raise RulePackError(f"{at}: style must be 'gnu' or 'single'")
        options = OptionSpec(
            style=style,
            value_options=frozenset(normalize(o, style) for o in raw.get("value_options", [])),
            attached_only=frozenset(normalize(o, style) for o in raw.get("attached_only", [])),
            stop_at_positional=bool(raw.get("stop_at_positional", False)))
        rules = list(rules_by_program.get(first, []))
        fold = bool(raw.get("fold_case", False))
        for level, key in ((Risk.READ, "read"), (Risk.WRITE, "write")):
            for entry in raw.get(key, []):
                path = tuple(Pattern.of(p.lower() if fold else p) for p in entry.split())
                rules.append(Rule(f"{pack_id}:{first}-{key}:{entry}", first,
                                  Outcome(level, _DEFAULT_VERB[level], "",
                                          f"{first} {entry} only {'reads' if key == 'read' else 'writes'}"),
                                  path=path))
        subcommands = set(raw.get("subcommands", []))
        for rule in rules:
            if rule.path:
                subcommands.update(rule.path[0].literals())
        default = _outcome(raw.get("default", {}), at,
                           fallback=Outcome(Risk.WRITE, Verb.WRITE, "",
                                            f"runs {first}, with effects airlock does not model"))
        programs.append(Program(
            names=tuple(raw["names"]), pack=file_name, options=options, default=default,
            rules=tuple(rules), subcommands=frozenset(s.lower() if fold else s for s in subcommands),
            fold_case=fold,
            help_flags=frozenset(raw.get("help_flags", ["--help", "--version"])),
            targets=tuple(_target(t, at) for t in raw.get("targets", [])),
            handler=raw.get("handler")))
    return programs


def _load_rule(raw: dict[str, Any], rid: str, program: str, style: str, at: str) -> Rule:
    outcome = _outcome(raw, at, fallback=None)
    examples_match = tuple(raw.get("examples_match", []))
    examples_no_match = tuple(raw.get("examples_no_match", []))
    if not examples_match or not examples_no_match:
        raise RulePackError(f"{at}: needs examples_match and examples_no_match",
                            hint="every rule proves itself with examples both ways")
    return Rule(
        id=rid, program=program, outcome=outcome,
        path=tuple(Pattern.of(p) for p in raw.get("path", [])),
        flags_all=tuple(FlagSet.of(f, style) for f in raw.get("flags_all", [])),
        flags_any=tuple(FlagSet.of(f, style) for f in raw.get("flags_any", [])),
        flags_none=tuple(FlagSet.of(f, style) for f in raw.get("flags_none", [])),
        args_any=tuple(Pattern.of(p) for p in raw.get("args_any", [])),
        args_all=tuple(Pattern.of(p) for p in raw.get("args_all", [])),
        args_none=tuple(Pattern.of(p) for p in raw.get("args_none", [])),
        args_last=tuple(Pattern.of(p) for p in raw.get("args_last", [])),
        dashdash=bool(raw.get("dashdash", False)),
        min_args=int(raw.get("min_args", 0)),
        max_args=int(raw["max_args"]) if "max_args" in raw else None,
        targets=tuple(_target(t, at) for t in raw.get("targets", [])),
        program_targets=bool(raw.get("program_targets", True)),
        examples_match=examples_match, examples_no_match=examples_no_match)


def _outcome(raw: dict[str, Any], at: str, fallback: Outcome | None) -> Outcome:
    if not raw and fallback is not None:
        return fallback
    if fallback is not None:
        _only(raw, _OUTCOME_KEYS, f"{at} default")
    try:
        risk = Risk.parse(_require(raw, "risk", str, at))
        verb = Verb(raw["verb"]) if "verb" in raw else _DEFAULT_VERB[risk]
    except ValueError as exc:
        raise RulePackError(f"{at}: {exc}") from None
    reason = _require(raw, "reason", str, at)
    return Outcome(risk, verb, str(raw.get("scope", "")), reason, bool(raw.get("complete", True)))


def _target(raw: dict[str, Any], at: str) -> TargetSpec:
    _only(raw, _TARGET_KEYS, f"{at} target")
    kind = _require(raw, "kind", str, f"{at} target")
    source = raw.get("from")
    sources = (source,) if isinstance(source, str) else tuple(source or ())
    if not sources or not all(isinstance(x, str) and x for x in sources):
        raise RulePackError(f"{at} target: 'from' must be a source or a list of sources")
    transform = raw.get("transform")
    if transform is not None and transform.split(":", 1)[0] not in targets.TRANSFORMS:
        raise RulePackError(f"{at}: unknown target transform {transform!r}")
    raw_contextual = raw.get("contextual", kind == "path" or kind.startswith("docker:"))
    contextual = None if raw_contextual == "auto" else bool(raw_contextual)
    return TargetSpec(kind, sources, transform, contextual, raw.get("default"))


def _only(raw: dict[str, Any], allowed: set[str], at: str) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise RulePackError(f"{at}: unknown keys {sorted(unknown)}",
                            hint=f"allowed keys are {sorted(allowed)}")


def _require(raw: dict[str, Any], key: str, kind: type, at: str) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind) or (isinstance(value, str | list) and not value):
        raise RulePackError(f"{at}: {key!r} is required and must be a non-empty {kind.__name__}")
    return value


def _check_examples(rule: Rule, program: Program, registry: Registry) -> None:
    """Each example must (or must not) be decided by this very rule."""
    from airlock.classify.shell.syntax import parse  # the parser, only for the examples
    from airlock.classify.shell.words import command_words

    for example, expected in ([(e, True) for e in rule.examples_match] +
                              [(e, False) for e in rule.examples_no_match]):
        parsed = parse(example.encode())
        command = parsed.root.named_children[0] if parsed.root.named_children else None
        if parsed.problem or command is None or command.type != "command":
            raise RulePackError(f"rule {rule.id}: example {example!r} is not a simple command")
        words = command_words(command, parsed.src)
        name = (words[0].value or "").rsplit("/", 1)[-1]
        if registry.program(name) is not program:
            raise RulePackError(f"rule {rule.id}: example {example!r} does not run "
                                f"{program.names[0]}")
        decision = decide(program, words[1:], {})
        if (decision.rule is rule) != expected:
            verb = "match" if expected else "not match"
            raise RulePackError(
                f"rule {rule.id}: example {example!r} should {verb} it, but "
                f"{decision.rule_id} decided", hint="reorder the rules or fix the pattern")

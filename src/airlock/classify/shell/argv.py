"""Splitting a program's arguments into options, option values and positional words.

Rules match on this structure, never on the raw command line, so `rm -fr`, `rm -r -f`,
`rm --recursive --force` and `rm --recur --force` all present the same options. Two styles:

- `gnu`: short options bundle (`-rf` is `-r -f`; `-n5` is `-n 5` when `-n` takes a value), long
  options take `--name=value` or `--name value`, options may follow positionals, `--` ends them.
- `single`: Go's flag package, find, terraform, sqlite3: `-name` and `--name` are the same
  option, never bundled.

A word that might become an option at run time (`$FLAGS`, `*`) cannot be placed; it is kept
in `opaque` so a rule can ask whether it could have mattered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from airlock.classify.shell.words import Word

# Values that switch a boolean option off: `--force=false` is no force.
FALSY = frozenset({"false", "0", "no", "off", "none", "never"})


@dataclass(frozen=True, slots=True)
class OptionSpec:
    style: str = "gnu"
    value_options: frozenset[str] = frozenset()  # take the next word when not attached
    attached_only: frozenset[str] = frozenset()  # take a value only when attached (-pSECRET)
    stop_at_positional: bool = False  # options end at the first positional (POSIX utilities)


@dataclass(frozen=True, slots=True)
class Flag:
    name: str
    value: Word | None  # None for a boolean option

    @property
    def on(self) -> bool:
        """False for `--force=false` and the like."""
        return not (self.value is not None and self.value.value is not None
                    and self.value.value.lower() in FALSY)


@dataclass(slots=True)
class Args:
    flags: list[Flag] = field(default_factory=list)
    positionals: list[Word] = field(default_factory=list)
    dashdash: int | None = None  # index in positionals of the first word after `--`
    opaque: list[Word] = field(default_factory=list)

    def values(self, names: frozenset[str] | set[str]) -> list[Word]:
        return [f.value for f in self.flags if f.name in names and f.value is not None]

    def has(self, names: frozenset[str] | set[str]) -> bool:
        return any(f.name in names and f.on for f in self.flags)

    def last(self, *names: str) -> str | None:
        """The static value of the last of these options given (later ones win)."""
        found = self.values(frozenset(names))
        return found[-1].value if found else None


def normalize(name: str, style: str) -> str:
    """The canonical spelling of an option name in a style (`--x` is `-x` in `single`)."""
    if style == "single" and name.startswith("--"):
        return name[1:]
    return name


def parse_args(words: Sequence[Word], spec: OptionSpec) -> Args:
    """Parse the arguments after the program name."""
    args = Args()
    single = spec.style == "single"
    i = 0
    n = len(words)
    options_done = False
    while i < n:
        word = words[i]
        i += 1
        value = word.value
        if options_done:
            args.positionals.append(word)
            continue
        if value is None:
            flag = _dynamic_flag(word, spec)
            if flag is not None:
                args.flags.append(flag)
            elif word.may_be_flag:
                args.opaque.append(word)
            else:
                args.positionals.append(word)
                options_done = spec.stop_at_positional
            continue
        if word.may_be_flag:
            # A glob names files (a positional) but may also match a file called "-rf".
            args.opaque.append(word)
            args.positionals.append(word)
            continue
        if value == "--":
            options_done = True
            args.dashdash = len(args.positionals)
            continue
        if len(value) < 2 or not value.startswith("-"):
            args.positionals.append(word)
            options_done = spec.stop_at_positional
            continue
        if single or value.startswith("--"):
            name, eq, attached = value.partition("=")
            name = normalize(name, spec.style)
            if eq:
                args.flags.append(Flag(name, Word.literal(attached)))
            elif name in spec.value_options and i < n:
                args.flags.append(Flag(name, words[i]))
                if words[i].splits:
                    args.opaque.append(words[i])
                i += 1
            else:
                args.flags.append(Flag(name, None))
            continue
        # A bundle of short options.
        j = 1
        while j < len(value):
            name = "-" + value[j]
            rest = value[j + 1 :]
            if name in spec.value_options:
                if rest:
                    args.flags.append(Flag(name, Word.literal(rest.removeprefix("="))))
                elif i < n:
                    args.flags.append(Flag(name, words[i]))
                    if words[i].splits:
                        args.opaque.append(words[i])
                    i += 1
                else:
                    args.flags.append(Flag(name, None))
                break
            if name in spec.attached_only and rest:
                args.flags.append(Flag(name, Word.literal(rest)))
                break
            args.flags.append(Flag(name, None))
            j += 1
    return args


def _dynamic_flag(word: Word, spec: OptionSpec) -> Flag | None:
    """`--file=$X`: a known option with a computed value (when it cannot split)."""
    if word.splits or "=" not in word.prefix:
        return None
    head = word.prefix.split("=", 1)[0]
    if head.startswith("--") or (spec.style == "single" and head.startswith("-")):
        return Flag(normalize(head, spec.style),
                    Word(word.text, None, word.prefix.split("=", 1)[1], template=None))
    return None

"""Words: what one shell argument is worth before the command runs.

tree-sitter gives us the syntax of an argument (quotes, expansions, concatenations); this module
turns it into `Word`s with the value bash would pass to the program, or — where part of it is
computed at run time — the static prefix and a note that it may split into several words.
Brace expansion is done here (`{-rf,/}` is two words, one of them a flag); globs are marked,
not expanded.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from tree_sitter import Node

# Characters bash treats as pathname-expansion patterns when unquoted.
_GLOB_CHARS = frozenset("*?[")
# A brace expansion that yields more words than this is not followed: the word becomes opaque.
_MAX_BRACE_WORDS = 64


@dataclass(frozen=True, slots=True)
class Word:
    """One argument. `value` is None when any part is computed at run time."""

    text: str  # as written in the source (quotes and all), for messages and targets
    value: str | None
    prefix: str = ""  # static text before the first computed part
    splits: bool = False  # an unquoted computed part: may become zero or several words
    glob: bool = False  # unquoted glob characters: the shell may replace it with file names
    ansi_c: bool = False  # uses $'...' quoting
    # The word with each plain variable reference written as ${NAME} (and ${NAME:-lit} kept);
    # None when it holds anything else computed (command substitution, ${x/a/b}, ...).
    template: str | None = None
    # Computed only from environment variables that name places (HOME, TMPDIR, DATABASE_URL)
    # and that the command itself never assigns: one word, never an option.
    settled: bool = False
    # The value with each computed part replaced by COMPUTED (`Bearer $T` → `Bearer
    # AIRLOCK-COMPUTED`): what the rest of a request says, when a part is computed.
    sketch: str | None = None

    @staticmethod
    def literal(value: str) -> Word:
        return Word(value, value, value, template=value)

    @staticmethod
    def opaque(text: str) -> Word:
        """A word about which nothing is known: it may be any number of words, flags included."""
        return Word(text, None, "", splits=True)

    @property
    def static(self) -> bool:
        return self.value is not None

    @property
    def display(self) -> str:
        """The best human-readable form: the value, else the template, else the source."""
        if self.value is not None:
            return self.value
        if self.template is not None:
            return self.template
        return self.text

    @property
    def may_be_flag(self) -> bool:
        """Could this word, at run time, be (or add) an option to the program?"""
        if self.value is not None:
            # A glob may match a file called "-rf": only a pattern that starts with a literal
            # character other than "-" is safe from that.
            return self.glob and (self.value[:1] in _GLOB_CHARS or self.value.startswith("-"))
        if self.settled:
            return False
        if self.splits:
            return True
        return self.prefix == "" or self.prefix.startswith("-")

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the variables the template refers to."""
        if self.template is None:
            return ()
        return tuple(_VARIABLE.findall(self.template))


# Stands for a part computed at run time in a Word's sketch (one word, valid in URLs, JSON and
# GraphQL strings, so the rest of a request still parses).
COMPUTED = "AIRLOCK-COMPUTED"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_PLACE_VARIABLE = re.compile(r"^(HOME|TMPDIR|TMP|TEMP|PWD|OLDPWD|USER|LOGNAME|HOSTNAME|XDG_\w+|"
                             r"PG[A-Z]+|\w*_(URL|URI|DSN|HOST|DIR|HOME|ROOT))$")


def settle(word: Word, assigned: Collection[str]) -> Word:
    """Trust references to environment variables that name places, when the command does not
    assign them itself: the environment comes from the harness, not from the agent's text."""
    if word.value is not None or word.template is None or word.settled:
        return word
    names = word.variables
    if not names or any(n in assigned or not _PLACE_VARIABLE.match(n) for n in names):
        return word
    return Word(word.text, None, word.prefix, splits=False, glob=word.glob, ansi_c=word.ansi_c,
                template=word.template, settled=True, sketch=word.sketch)


# --------------------------------------------------------------------------------------------
# Evaluation


class _Builder:
    """Accumulates the pieces of one word: characters with their quotedness, and computed parts."""

    __slots__ = (
        "ansi_c",
        "chars",
        "dynamic",
        "dynamic_unquoted",
        "prefix",
        "seen_dynamic",
        "sketch",
        "template",
    )

    def __init__(self) -> None:
        # Static characters with a flag "active" = unquoted (may take part in globs and braces).
        self.chars: list[tuple[str, bool]] = []
        self.dynamic = False
        self.dynamic_unquoted = False
        self.ansi_c = False
        self.template: list[str] | None = []
        self.prefix: list[str] = []
        self.sketch: list[str] = []
        self.seen_dynamic = False

    def add(self, text: str, active: bool) -> None:
        self.chars.extend((c, active) for c in text)
        self.sketch.append(text)
        if self.template is not None:
            self.template.append(text)
        if not self.seen_dynamic:
            self.prefix.append(text)

    def add_dynamic(self, quoted: bool, template: str | None) -> None:
        self.dynamic = True
        self.seen_dynamic = True
        self.sketch.append(COMPUTED)
        if not quoted:
            self.dynamic_unquoted = True
        if template is None or self.template is None:
            self.template = None
        else:
            self.template.append(template)


# `$(echo $(echo …))` is evaluated this many levels deep at most; deeper is computed.
_MAX_SUBSTITUTION_DEPTH = 4


def command_words(command: Node, src: bytes, _depth: int = 0) -> list[Word]:
    """The words of a simple `command` node: program name first, assignments and redirects
    left out (for rule examples and pipeline producers)."""
    words: list[Word] = []
    for child in command.named_children:
        if child.type == "command_name":
            if child.named_children:
                words.extend(evaluate(child.named_children[0], src, _depth))
        elif child.type not in ("variable_assignment", "file_redirect", "heredoc_redirect",
                                "herestring_redirect", "comment"):
            words.extend(evaluate(child, src, _depth))
    return words


def fixed_output(name: str, words: Sequence[Word], stdin_text: str | None = None) -> str | None:
    """The exact text echo, printf or cat (of its stdin) prints, when their arguments are
    fixed; None for anything else."""
    if any(w.value is None or w.glob for w in words):
        return None
    values = [w.value or "" for w in words]
    if name == "echo":
        newline = True
        while values and values[0] in ("-n", "-e", "-E", "-ne", "-en"):
            flag = values.pop(0)
            if "n" in flag:
                newline = False
            if "e" in flag and any("\\" in v for v in values):
                return None
        return " ".join(values) + ("\n" if newline else "")
    if name == "printf":
        if not values:
            return None
        fmt, rest = values[0], values[1:]
        if fmt in ("%s", "%s\\n") and len(rest) <= 1:
            return (rest[0] if rest else "") + ("\n" if fmt.endswith("n") else "")
        if "%" in fmt or rest:
            return None
        if "\\" in fmt.replace("\\n", "").replace("\\t", "").replace("\\\\", ""):
            return None
        return fmt.replace("\\\\", "\0").replace("\\n", "\n").replace("\\t", "\t").replace(
            "\0", "\\")
    if name == "cat" and all(v == "-" for v in values):
        return stdin_text
    return None


def _substitution_output(node: Node, src: bytes, depth: int) -> str | None:
    """The output of `$(echo …)` / `` `printf …` ``: one simple command printing fixed text.
    Command substitution drops trailing newlines."""
    inner = [c for c in node.named_children if c.type != "comment"]
    if len(inner) != 1 or inner[0].type != "command":
        return None
    if any(c.type in ("variable_assignment", "file_redirect", "heredoc_redirect",
                      "herestring_redirect") for c in inner[0].named_children):
        return None
    if depth >= _MAX_SUBSTITUTION_DEPTH:
        return None
    words = command_words(inner[0], src, depth + 1)
    if not words or words[0].value is None:
        return None
    output = fixed_output(words[0].value.rsplit("/", 1)[-1], words[1:])
    return output.rstrip("\n") if output is not None else None


# Characters that make an unquoted word more than its text (escapes, braces, globs).
_SPECIAL = frozenset("\\{}*?[")


def evaluate(node: Node, src: bytes, _depth: int = 0) -> list[Word]:
    """The words one argument node stands for (several after brace expansion)."""
    text = src[node.start_byte : node.end_byte].decode("utf-8", "replace")
    kind = node.type
    # Fast paths: most arguments are plain words or single-quoted text.
    if (kind == "word" or kind == "number") and _SPECIAL.isdisjoint(text):
        return [Word(text, text, text, template=text)]
    if kind == "raw_string":
        value = text[1:-1]
        return [Word(text, value, value, template=value)]
    if kind == "command_substitution":
        output = _substitution_output(node, src, _depth)
        if output is not None and not any(c in output for c in "*?[{"):
            # Unquoted: the output is split into words on blanks.
            return [Word(text, part, part, template=part) for part in output.split()]
    elif kind == "string" and len(node.named_children) == 1 and \
            node.named_children[0].type == "command_substitution" and \
            node.named_children[0].start_byte == node.start_byte + 1 and \
            node.named_children[0].end_byte == node.end_byte - 1:
        output = _substitution_output(node.named_children[0], src, _depth)
        if output is not None:
            return [Word(text, output, output, template=output)]
    builder = _Builder()
    if not _collect(node, src, builder, quoted=False):
        return [Word.opaque(text)]
    if builder.dynamic:
        # Braces next to computed parts: too clever to follow, and `{$a,-rf}` is a flag.
        if any(c in "{}" and active for c, active in builder.chars) and _has_brace(builder.chars):
            return [Word.opaque(text)]
        prefix = "".join(builder.prefix)
        template = "".join(builder.template) if builder.template is not None else None
        glob = any(active and c in _GLOB_CHARS for c, active in builder.chars)
        return [Word(text, None, prefix, splits=builder.dynamic_unquoted or glob, glob=glob,
                     ansi_c=builder.ansi_c, template=template, sketch="".join(builder.sketch))]
    expansions = _expand_braces(builder.chars)
    if expansions is None:
        return [Word.opaque(text)]
    words = []
    for chars in expansions:
        value = "".join(c for c, _ in chars)
        glob = any(active and c in _GLOB_CHARS for c, active in chars)
        words.append(Word(text, value, value, glob=glob, ansi_c=builder.ansi_c, template=value))
    return words


def _collect(node: Node, src: bytes, out: _Builder, quoted: bool) -> bool:
    """Add one node's contribution to the word. False when the node is not understood."""
    kind = node.type
    if kind == "word" or kind == "number":
        raw = src[node.start_byte : node.end_byte].decode("utf-8", "replace")
        if quoted:
            out.add(raw, active=False)
        else:
            _add_unquoted(raw, out)
        return True
    if kind == "raw_string":
        raw = src[node.start_byte + 1 : node.end_byte - 1].decode("utf-8", "replace")
        out.add(raw, active=False)
        return True
    if kind == "string":
        return _collect_double_quoted(node, src, out)
    if kind == "ansi_c_string":
        raw = src[node.start_byte + 2 : node.end_byte - 1].decode("utf-8", "replace")
        decoded = decode_ansi_c(raw)
        if decoded is None:
            return False
        out.ansi_c = True
        out.add(decoded, active=False)
        return True
    if kind == "concatenation":
        return all(_collect(child, src, out, quoted) for child in node.children)
    if kind in ("simple_expansion", "expansion"):
        out.add_dynamic(quoted, _expansion_template(node, src))
        return True
    if kind == "process_substitution":
        # Expands to one path such as /dev/fd/63: never a flag, never several words.
        out.add("/dev/fd/", active=False)
        out.add_dynamic(True, None)
        return True
    if kind in ("command_substitution", "arithmetic_expansion", "translated_string"):
        out.add_dynamic(quoted, None)
        return True
    if kind == "brace_expression":
        # {1..3}: rebuild the text and let the brace expander handle it.
        raw = src[node.start_byte : node.end_byte].decode("utf-8", "replace")
        if quoted:
            out.add(raw, active=False)
        else:
            out.chars.extend((c, True) for c in raw)
            out.sketch.append(raw)
            if out.template is not None:
                out.template.append(raw)
            if not out.seen_dynamic:
                out.prefix.append(raw)
        return True
    return False


def _add_unquoted(raw: str, out: _Builder) -> None:
    """Unquoted text: a backslash quotes the next character; backslash-newline disappears."""
    i = 0
    n = len(raw)
    start = 0
    while i < n:
        if raw[i] == "\\":
            if i > start:
                out.add(raw[start:i], active=True)
            if i + 1 < n:
                if raw[i + 1] != "\n":
                    out.add(raw[i + 1], active=False)
                i += 2
            else:
                out.add("\\", active=False)
                i += 1
            start = i
        else:
            i += 1
    if start < n:
        out.add(raw[start:], active=True)


def _collect_double_quoted(node: Node, src: bytes, out: _Builder) -> bool:
    """Double quotes: expansions stay live; backslash only escapes $ ` " \\ and newline.

    The text is taken from the source between the quotes (tree-sitter folds whitespace into
    its tokens), with the named children marking the computed spans."""
    start = node.start_byte + 1
    end = node.end_byte - 1
    if end < start:
        return False
    pos = start
    for child in node.children:
        if not child.is_named or child.type == "string_content":
            continue
        if child.start_byte > pos:
            out.add(_unescape_double(src[pos : child.start_byte]), active=False)
        if child.type in ("simple_expansion", "expansion"):
            out.add_dynamic(True, _expansion_template(child, src))
        elif child.type in ("command_substitution", "arithmetic_expansion"):
            out.add_dynamic(True, None)
        else:
            return False
        pos = child.end_byte
    if end > pos:
        out.add(_unescape_double(src[pos:end]), active=False)
    return True


def _unescape_double(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in '$`"\\\n':
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _expansion_template(node: Node, src: bytes) -> str | None:
    """`$NAME` and `${NAME}` become ${NAME}; `${NAME:-literal}` is kept; anything else is None."""
    named = [c for c in node.children if c.is_named]
    if not named or named[0].type not in ("variable_name", "special_variable_name"):
        return None
    name = src[named[0].start_byte : named[0].end_byte].decode("utf-8", "replace")
    if node.type == "simple_expansion":
        return "${" + name + "}" if named[0].type == "variable_name" else None
    operators = [c.type for c in node.children if not c.is_named and c.type not in ("${", "}")]
    if not operators and len(named) == 1:
        return "${" + name + "}"
    if operators in (["-"], [":-"]) and len(named) == 2 and named[1].type == "word":
        default = src[named[1].start_byte : named[1].end_byte].decode("utf-8", "replace")
        return "${" + name + ":-" + default + "}"
    return None


# --------------------------------------------------------------------------------------------
# ANSI-C quoting

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n",
                   "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def decode_ansi_c(raw: str) -> str | None:
    """The value of $'raw' as bash computes it; None where bash would differ from plain text
    in ways not modelled (a NUL ends the string early, \\c control characters)."""
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = raw[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in "01234567":
            j = i + 1
            while j < n and j < i + 4 and raw[j] in "01234567":
                j += 1
            out.append(chr(int(raw[i + 1 : j], 8) & 0xFF))
            i = j
        elif e in "xuU":
            limit = {"x": 2, "u": 4, "U": 8}[e]
            j = i + 2
            while j < n and j < i + 2 + limit and raw[j] in "0123456789abcdefABCDEF":
                j += 1
            if j == i + 2:
                out.append("\\" + e)
                i += 2
                continue
            code = int(raw[i + 2 : j], 16)
            if code > 0x10FFFF:
                return None
            out.append(chr(code))
            i = j
        elif e == "c":
            return None
        else:
            out.append("\\" + e)
            i += 2
    value = "".join(out)
    return None if "\x00" in value else value


# --------------------------------------------------------------------------------------------
# Brace expansion

Chars = list[tuple[str, bool]]


def _has_brace(chars: Chars) -> bool:
    return _find_brace(chars) is not None


class _TooMany(Exception):
    """A brace expansion past _MAX_BRACE_WORDS words."""


def _expand_braces(chars: Chars) -> list[Chars] | None:
    """Every word the braces in `chars` expand to, in bash's order; None past the limit."""
    try:
        return _expand(chars)
    except _TooMany:
        return None


def _expand(chars: Chars) -> list[Chars]:
    found = _find_brace(chars)
    if found is None:
        return [chars]
    start, end, alternatives = found
    results: list[Chars] = []
    for alternative in alternatives:
        results.extend(_expand(chars[:start] + alternative + chars[end + 1 :]))
        if len(results) > _MAX_BRACE_WORDS:
            raise _TooMany
    return results


def _find_brace(chars: Chars) -> tuple[int, int, list[Chars]] | None:
    """The first expandable {…}: its span and alternatives. `{a}` and `${` are not expansions."""
    i = 0
    n = len(chars)
    while i < n:
        c, active = chars[i]
        if c == "{" and active and not (i > 0 and chars[i - 1] == ("$", True)):
            depth = 0
            commas: list[int] = []
            for j in range(i, n):
                cj, aj = chars[j]
                if not aj:
                    continue
                if cj == "{":
                    depth += 1
                elif cj == "}":
                    depth -= 1
                    if depth == 0:
                        if commas:
                            bounds = [i, *commas, j]
                            parts = [chars[bounds[k] + 1 : bounds[k + 1]]
                                     for k in range(len(bounds) - 1)]
                            return i, j, parts
                        sequence = _sequence("".join(ch for ch, _ in chars[i + 1 : j]))
                        if sequence is not None:
                            return i, j, [[(ch, False) for ch in item] for item in sequence]
                        break
                elif cj == "," and depth == 1:
                    commas.append(j)
        i += 1
    return None


def _sequence(body: str) -> list[str] | None:
    """`1..5`, `a..e`, `01..10..2` as bash expands them; None if not a sequence."""
    parts = body.split("..")
    if len(parts) not in (2, 3):
        return None
    step_text = parts[2] if len(parts) == 3 else "1"
    try:
        step = abs(int(step_text)) or 1
    except ValueError:
        return None
    first, last = parts[0], parts[1]
    try:
        a, b = int(first), int(last)
    except ValueError:
        if len(first) == 1 and len(last) == 1 and first.isascii() and last.isascii():
            a, b = ord(first), ord(last)
            items = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
            if len(items) > _MAX_BRACE_WORDS:
                raise _TooMany from None
            return [chr(x) for x in items]
        return None
    items = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
    if len(items) > _MAX_BRACE_WORDS:
        raise _TooMany
    width = max(len(first), len(last)) if first.startswith(("0", "-0")) or \
        last.startswith(("0", "-0")) else 0
    return [str(x).zfill(width) if width else str(x) for x in items]

"""One analysis of a shell text: walk every part of the tree and judge every command in it.

The walk is iterative (a chain of ten thousand `&&` must not exhaust Python's stack) and visits
every node, so a command hidden anywhere — a list, a pipeline, a subshell, a command or process
substitution, a function body, a condition, an unquoted heredoc — is judged. Text that runs
again as code (`bash -c`, `eval`, heredocs fed to a shell, `ssh host '…'`) is parsed again one
level deeper; past MAX_DEPTH levels the answer is unknown.

Wrappers and programs with logic of their own are looked up in the `Handlers` table the analysis
is given (assembled in handlers.py; this module imports none of them); everything else is
decided by the rule packs (rules.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from tree_sitter import Node

from airlock.classify.shell.base import (
    Env,
    Handlers,
    Stdin,
    program_name,
    redirect_effects,
    unknown,
)
from airlock.classify.shell.rules import Program, Registry, decide
from airlock.classify.shell.syntax import parse, uncovered_text
from airlock.classify.shell.words import Word, evaluate, fixed_output, settle
from airlock.model import Effect, Risk, Verb

# Nesting of texts run again as code (bash -c inside eval inside ssh …) and of wrappers
# around one command (sudo env nice …), counted together; past it the answer is unknown.
MAX_DEPTH = 12
_WORK_BUDGET = 60_000  # syntax nodes visited per classification, all depths together

# Variables that decide which code runs: a command under them may run local code.
_CODE_VARIABLES = frozenset({
    "PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES",
    "DYLD_LIBRARY_PATH", "BASH_ENV", "ENV", "NODE_OPTIONS", "PYTHONSTARTUP", "PYTHONPATH",
    "PYTHONHOME", "PERL5OPT", "PERL5LIB", "RUBYOPT", "RUBYLIB", "GIT_EXEC_PATH", "GIT_DIR",
    "GIT_CONFIG", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_TEMPLATE_DIR", "BASHOPTS",
    "SHELLOPTS", "PS4", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
})
# Variables whose value is itself a shell command some program will run.
_COMMAND_VARIABLES = frozenset({
    "PAGER", "GIT_PAGER", "MANPAGER", "SYSTEMD_PAGER", "EDITOR", "VISUAL", "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR", "SUDO_EDITOR", "FCEDIT", "GIT_SSH_COMMAND", "GIT_SSH",
    "GIT_EXTERNAL_DIFF", "GIT_ASKPASS", "SSH_ASKPASS", "PROMPT_COMMAND", "LESSOPEN",
    "LESSCLOSE", "BROWSER", "DIFF_TOOL",
})


class Analysis:
    """State shared by every level of one classification."""

    def __init__(self, registry: Registry, handlers: Handlers,
                 deadline: float | None = None) -> None:
        self.registry = registry
        self.handlers = handlers
        self.deadline = deadline
        self.budget = _WORK_BUDGET
        self.env: dict[str, str | None] = {}
        # Effects that a scratch-directory exemption made mild, voided if the same text makes
        # symlinks or moves TMPDIR (then /tmp/x may lead anywhere).
        self.temp_exempt: list[Effect] = []
        self.temp_voided = False
        self.code_env_changed = False
        # Words tree-sitter dropped and _repair_dash put back, by command span.
        self.extra_words: dict[tuple[int, int], list[Word]] = {}

    # ----------------------------------------------------------------------------------------
    # Entry points (also used by handlers)

    def script(self, text: str | None, depth: int, origin: str,
               stdin: Stdin | None = None) -> list[Effect]:
        """Judge `text` as a shell script run `origin` (e.g. "by bash -c")."""
        if text is None:
            return [unknown(f"the shell code run {origin} cannot be seen before it runs")]
        if depth > MAX_DEPTH:
            return [unknown(f"shell code nested more than {MAX_DEPTH} levels deep ({origin})")]
        if "\x00" in text:
            return [unknown(f"the shell code run {origin} contains a NUL byte")]
        try:
            src = text.encode("utf-8")
        except UnicodeEncodeError:
            return [unknown(f"the shell code run {origin} is not valid UTF-8")]
        parsed = parse(src, self.deadline)
        if parsed.problem:
            return [unknown(f"{parsed.problem} ({origin})" if origin else parsed.problem)]
        return self.walk(parsed.root, parsed.src, depth, stdin)

    def invoke(self, words: Sequence[Word], env: Env, stdin: Stdin | None,
               depth: int) -> list[Effect]:
        """Judge one simple command: its words after expansion, program first."""
        if not words:
            return []
        words = [settle(w, env) if w.value is None else w for w in words]
        name_word = words[0]
        if name_word.value is None:
            return [unknown(f"the program name {name_word.text!r} is computed at run time")]
        if name_word.ansi_c:
            return [unknown(f"the program name {name_word.text!r} uses ANSI-C quoting")]
        if name_word.glob:
            return [unknown(f"the program name {name_word.text!r} is a file-name pattern")]
        if not name_word.value:
            return [unknown("the program name is empty")]
        name = program_name(name_word)
        if name in ("ln", "link", "mount", "bindfs"):
            self.temp_voided = True  # a link can make /tmp/x lead anywhere
        wrapper = self.handlers.wrappers.get(name)
        if wrapper is not None:
            return wrapper(self, list(words), env, stdin, depth)
        program = self.registry.program(name)
        if program is not None and program.handler is not None:
            handler = self.handlers.programs.get(program.handler)
            if handler is None:
                return [unknown(f"airlock has no handler {program.handler!r} for {name}")]
            return handler(self, program, list(words), env, stdin, depth)
        if program is not None:
            return self.decide_effects(program, words, env)
        return [Effect(Verb.WRITE, Risk.WRITE,
                    f"runs {name_word.value}, a program airlock does not model"),
                *self._hidden_command(words, env, depth)]

    def _hidden_command(self, words: Sequence[Word], env: Env, depth: int) -> list[Effect]:
        """An unknown program given a known command line (`chroot /mnt rm -rf /`, `strace
        git clean -fd`) is probably a wrapper that runs it: when that command line is worse
        than a write, judge it as if it ran."""
        if depth > MAX_DEPTH:
            return []
        for i in range(1, min(len(words), 6)):
            word = words[i]
            if word.value is None or word.value.startswith("-"):
                continue
            name = program_name(word)
            if self.registry.program(name) is None and name not in self.handlers.wrappers:
                continue
            inner = self.invoke(words[i:], env, None, depth + 1)
            if any(e.risk.rank > Risk.WRITE.rank for e in inner):
                return [dataclasses.replace(e, reason=f"{e.reason} (if {words[0].value} runs "
                                                      f"{word.value})") for e in inner]
            return []
        return []

    def decide_effects(self, program: Program, words: Sequence[Word],
                       env: Env) -> list[Effect]:
        """The program's rule packs decide (words include the program name)."""
        decision = decide(program, words[1:], env)
        effects = decision.effects()
        if decision.rule is not None and decision.rule.id.endswith(":rm-recursive-temp"):
            self.temp_exempt.extend(effects)
        if not decision.outcome.complete:
            effects.append(unknown(f"{decision.outcome.reason}: what it acts on is not visible"))
        return effects

    # ----------------------------------------------------------------------------------------
    # The walk

    def walk(self, root: Node, src: bytes, depth: int, stdin: Stdin | None) -> list[Effect]:
        effects: list[Effect] = []
        stack: list[tuple[Node, Stdin | None]] = [(root, stdin)]
        while stack:
            node, node_stdin = stack.pop()
            self.budget -= 1
            if self.budget < 0 or (self.budget & 255 == 0 and self._late()):
                self.budget = -1
                return [*effects, unknown("the command is too large to analyse in time")]
            if node.is_named:
                gap = uncovered_text(node, src)
                if gap is not None and not self._repair_dash(node, src, gap):
                    effects.append(unknown(f"part of the command is not understood: {gap!r}"))
            kind = node.type
            children: list[tuple[Node, Stdin | None]]
            if kind == "command":
                effects.extend(self._command(node, src, depth, node_stdin))
                # Prefix assignments belong to this command alone (judged above); only their
                # values are walked, for the substitutions they may run.
                children = [(_value_or_self(c), node_stdin) for c in node.named_children]
            elif kind == "redirected_statement":
                children = self._redirected(node, src, depth, node_stdin, effects)
            elif kind == "pipeline":
                children = self._pipeline(node, src, node_stdin)
            elif kind in ("variable_assignment", "declaration_command", "variable_assignments",
                          "unset_command"):
                effects.extend(self._assignments(node, src, depth))
                children = [(c, node_stdin) for c in node.named_children]
            else:
                children = [(c, node_stdin) for c in node.named_children]
            stack.extend(reversed(children))
        return effects

    def _late(self) -> bool:
        return self.deadline is not None and time.perf_counter() > self.deadline

    def _repair_dash(self, node: Node, src: bytes, gap: str) -> bool:
        """tree-sitter drops a lone `-` written before a heredoc (`python3 - <<EOF`). Put it
        back as the command's last argument; any other uncovered text stays unknown."""
        body = node.child_by_field_name("body")
        if node.type != "redirected_statement" or gap.strip() != "-" or body is None or \
                body.type != "command":
            return False
        after = src[body.end_byte : node.end_byte]
        if not after.lstrip(b" \t").startswith(b"-"):
            return False
        self.extra_words[(body.start_byte, body.end_byte)] = [Word.literal("-")]
        return True

    def _command(self, node: Node, src: bytes, depth: int,
                 stdin: Stdin | None) -> list[Effect]:
        effects: list[Effect] = []
        words: list[Word] = []
        prefix_env: dict[str, str | None] = {}
        pending_dollar = False
        for index, child in enumerate(node.children):
            if index & 63 == 63 and self._late():
                return [*effects, unknown("the command is too large to analyse in time")]
            kind = child.type
            if kind == "variable_assignment" and not words:
                name, value = _assignment(child, src)
                if name:
                    prefix_env[name] = value
                    effects.extend(self.special_variable(name, value, depth))
            elif kind == "command_name":
                inner = child.named_children
                words.extend(evaluate(inner[0], src) if inner else [])
            elif kind == "$" and not child.is_named:
                pending_dollar = True  # $"…": a translated string, whose text may change
            elif kind in ("herestring_redirect", "file_redirect", "heredoc_redirect"):
                stdin, more = self._redirect(child, src, stdin)
                effects.extend(more)
            elif child.is_named and kind != "comment":
                if pending_dollar:
                    text = src[child.start_byte : child.end_byte].decode("utf-8", "replace")
                    words.append(Word("$" + text, None, "", template=None))
                    pending_dollar = False
                else:
                    words.extend(evaluate(child, src))
        words.extend(self.extra_words.pop((node.start_byte, node.end_byte), []))
        if not words:
            return effects
        env = {**self.env, **prefix_env}
        try:
            effects.extend(self.invoke(words, env, stdin, depth))
        except RecursionError:
            effects.append(unknown("the command nests too deeply to analyse"))
        return effects

    def _redirected(self, node: Node, src: bytes, depth: int, stdin: Stdin | None,
                    effects: list[Effect]) -> list[tuple[Node, Stdin | None]]:
        """A statement with redirections: they decide its stdin and what files it writes."""
        body = node.child_by_field_name("body")
        inner_stdin = stdin
        follow: list[tuple[Node, Stdin | None]] = []
        for child in node.children:
            if child.type not in ("file_redirect", "heredoc_redirect", "herestring_redirect"):
                continue
            inner_stdin, more = self._redirect(child, src, inner_stdin)
            effects.extend(more)
            for part in child.named_children:
                if part.type == "pipeline":
                    # tree-sitter places `| next` of `cmd <<EOF | next` inside the heredoc.
                    produced = self._output(body, src, inner_stdin) if body is not None else \
                        Stdin(None, "output of a command")
                    for stage in part.named_children:
                        follow.append((stage, produced))
                        produced = self._output(stage, src, produced)
                else:
                    # Destinations, heredoc bodies (their $(…) run in this shell), and the
                    # `&& next` tree-sitter also hangs on a heredoc.
                    follow.append((part, stdin))
        children: list[tuple[Node, Stdin | None]] = []
        if body is not None:
            children.append((body, inner_stdin))
        return children + follow

    def _redirect(self, node: Node, src: bytes,
                  stdin: Stdin | None) -> tuple[Stdin | None, list[Effect]]:
        """One redirection: (the stdin it sets, the writes it makes)."""
        if node.type == "heredoc_redirect":
            return _heredoc(node, src), []
        if node.type == "herestring_redirect":
            target = [c for c in node.named_children if c.type != "file_descriptor"]
            words = evaluate(target[-1], src) if target else []
            if len(words) == 1 and words[0].value is not None:
                return Stdin(words[0].value + "\n", "a here-string"), []
            return Stdin(None, "a here-string computed at run time"), []
        operator = next((c.type for c in node.children if not c.is_named), "")
        destination = node.child_by_field_name("destination")
        if destination is None:
            return stdin, []
        words = evaluate(destination, src)
        word = words[0] if len(words) == 1 else Word.opaque(
            src[destination.start_byte : destination.end_byte].decode("utf-8", "replace"))
        if operator == "<":
            return Stdin(None, f"file {word.display}"), []
        if operator in (">&", "<&", ">&-", "<&-") and (word.value or "").rstrip("-").isdigit():
            return stdin, []  # duplicating or closing a descriptor writes nothing
        if operator not in (">", ">>", ">|", "&>", "&>>", ">&", "<>"):
            return stdin, []
        return stdin, redirect_effects(word, truncates=operator in (">", ">|", "&>", ">&"))

    def _pipeline(self, node: Node, src: bytes,
                  stdin: Stdin | None) -> list[tuple[Node, Stdin | None]]:
        children: list[tuple[Node, Stdin | None]] = []
        current = stdin
        for child in node.children:
            if not child.is_named:
                continue
            children.append((child, current))
            current = self._output(child, src, current)
        return children

    def _output(self, node: Node, src: bytes, stdin: Stdin | None) -> Stdin:
        """What a pipeline stage writes to the next, when it is fixed text (echo, printf, cat
        of a heredoc); otherwise an unseen stream named after its producer."""
        if node.type == "redirected_statement":
            body = node.child_by_field_name("body")
            for child in node.children:
                if child.type in ("heredoc_redirect", "herestring_redirect"):
                    stdin, _ = self._redirect(child, src, stdin)
                elif child.type == "file_redirect":
                    return Stdin(None, "output of a redirected command")
            return self._output(body, src, stdin) if body is not None else \
                Stdin(None, "output of a command")
        if node.type != "command":
            return Stdin(None, f"output of a {node.type.replace('_', ' ')}")
        words: list[Word] = []
        for child in node.children:
            if child.type == "command_name" and child.named_children:
                words.extend(evaluate(child.named_children[0], src))
            elif child.type in ("herestring_redirect", "heredoc_redirect"):
                stdin, _ = self._redirect(child, src, stdin)
            elif child.is_named and child.type not in ("variable_assignment", "file_redirect"):
                words.extend(evaluate(child, src))
        if not words or words[0].value is None:
            return Stdin(None, "output of a command computed at run time")
        name = program_name(words[0])
        text = fixed_output(name, words[1:], stdin.text if stdin else None)
        return Stdin(text, f"output of {name}")

    # ----------------------------------------------------------------------------------------
    # Variables

    def _assignments(self, node: Node, src: bytes, depth: int) -> list[Effect]:
        effects: list[Effect] = []
        nodes = [node] if node.type == "variable_assignment" else \
            [c for c in node.named_children if c.type == "variable_assignment"]
        for child in nodes:
            name, value = _assignment(child, src)
            if name:
                self.env[name] = value
                effects.extend(self.special_variable(name, value, depth))
        return effects

    def special_variable(self, name: str, value: str | None, depth: int) -> list[Effect]:
        if name == "IFS":
            return [unknown("IFS is changed, so words split differently than they read")]
        if name == "TMPDIR":
            self.temp_voided = True
        if name in _CODE_VARIABLES or name.startswith(("LD_", "DYLD_")):
            self.code_env_changed = True
        if name in _COMMAND_VARIABLES:
            return self.script(value, depth + 1, f"as ${name}")
        return []

    def finish(self, effects: list[Effect]) -> list[Effect]:
        """Apply what only the whole text can tell."""
        if self.temp_voided and self.temp_exempt:
            voided = {id(e) for e in self.temp_exempt}
            effects = [e if id(e) not in voided else
                       Effect(Verb.DELETE, Risk.DESTRUCTIVE,
                              "deletes a directory tree under a scratch directory that this "
                              "command redirects (symlink or TMPDIR)", e.target, e.scope)
                       for e in effects]
        if self.code_env_changed:
            effects.append(Effect(Verb.WRITE, Risk.WRITE,
                                  "changes which code programs load (PATH, LD_PRELOAD, ...)"))
        return effects


# --------------------------------------------------------------------------------------------
# Helpers


def _value_or_self(node: Node) -> Node:
    if node.type == "variable_assignment":
        value = node.child_by_field_name("value")
        if value is not None:
            return value
    return node


def _assignment(node: Node, src: bytes) -> tuple[str | None, str | None]:
    name_node = node.child_by_field_name("name")
    value_node = node.child_by_field_name("value")
    if name_node is None:
        return None, None
    name = src[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace")
    if value_node is None:
        return name, ""
    words = evaluate(value_node, src)
    if len(words) == 1 and words[0].value is not None:
        return name, words[0].value
    return name, None


def _heredoc(node: Node, src: bytes) -> Stdin:
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    body = next((c for c in node.children if c.type == "heredoc_body"), None)
    if body is None:
        return Stdin("", "an empty heredoc")
    raw = src[body.start_byte : body.end_byte].decode("utf-8", "replace")
    delimiter = src[start.start_byte : start.end_byte].decode() if start is not None else ""
    strip_tabs = any(c.type == "<<-" for c in node.children)
    if strip_tabs:
        raw = "\n".join(line.lstrip("\t") for line in raw.split("\n"))
    if any(q in delimiter for q in "'\"\\"):
        return Stdin(raw, "a heredoc")
    # Unquoted delimiter: the shell expands $…, `…` and $(…) in the body first.
    if any(c.type != "heredoc_content" for c in body.named_children):
        return Stdin(None, "a heredoc with text computed at run time")
    text = raw.replace("\\\n", "")
    for escaped, plain in (("\\$", "$"), ("\\`", "`")):
        text = text.replace(escaped, plain)
    return Stdin(text.replace("\\\\", "\\"), "a heredoc")

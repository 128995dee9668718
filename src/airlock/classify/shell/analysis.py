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
import posixpath
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from tree_sitter import Node

from airlock.classify.shell import airlock_cli, touches
from airlock.classify.shell.base import (
    CodeFile,
    Env,
    Handlers,
    Stdin,
    program_name,
    redirect_effects,
    unknown,
)
from airlock.classify.shell.files import ScriptReader
from airlock.classify.shell.places import Places
from airlock.classify.shell.rules import Program, Registry, decide
from airlock.classify.shell.syntax import budget_clock, parse, uncovered_text
from airlock.classify.shell.words import COMPUTED, Word, evaluate, fixed_output, settle
from airlock.model import Effect, Risk, Target, Touch, Verb

# Nesting of texts run again as code (bash -c inside eval inside ssh …) and of wrappers
# around one command (sudo env nice …), counted together; past it the answer is unknown.
MAX_DEPTH = 12
_WORK_BUDGET = 200_000  # syntax nodes visited per classification, all depths together
# Time added to the budget for each KiB of script read from a file, and at most in all: a
# script of 25 KiB or more may take a quarter of a second to judge; past that it is unknown.
FILE_SECONDS_PER_KIB = 0.01
FILE_SECONDS = 0.25

# Variables that decide which code runs: a command under them may run local code.
_CODE_VARIABLES = frozenset({
    "PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "PYTHONSTARTUP", "PYTHONPATH",
    "PYTHONHOME", "PERL5LIB", "RUBYLIB", "GIT_DIR", "GIT_TEMPLATE_DIR", "BASHOPTS",
    "SHELLOPTS", "NODE_PATH",
})
# Variables that make the next programs load code from a file or a setting airlock does not
# read: whatever runs under them is unknown.
_LOADS_CODE = frozenset({
    "BASH_ENV", "ENV", "LD_PRELOAD", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "GIT_EXEC_PATH",
    "GIT_CONFIG", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT", "PERL5OPT", "PERL5DB", "PYTHONINSPECT", "BASH_LOADABLES_PATH",
})
# Options in these variables that load code (`NODE_OPTIONS=--require ./x.js`); others, such as
# `--max-old-space-size`, do not.
_LOADING_OPTIONS = {"NODE_OPTIONS": ("-r", "--require", "--import", "--loader",
                                     "--experimental-loader", "-e", "--eval", "-p", "--print"),
                    "RUBYOPT": ("-r", "-I", "-e")}
# Prompt strings: expanded (their $(…) run) whenever bash prints them (PS4 with `set -x`).
_EXPANDED_VARIABLES = frozenset({"PS0", "PS1", "PS2", "PS4"})
# Programs named by a path in these folders are the system's, judged by name; any other path
# is a local program, judged by its content (handlers.local_program).
_SYSTEM_FOLDERS = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/",
                   "/usr/local/sbin/", "/opt/homebrew/bin/", "/opt/homebrew/sbin/", "/snap/bin/",
                   "/usr/libexec/")
# `[[ X -eq Y ]]` evaluates X and Y as arithmetic.
_ARITHMETIC_TESTS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names that change the working directory; redefining one makes it impossible to follow.
_DIRECTORY_COMMANDS = frozenset({"cd", "pushd", "popd"})


@dataclass(frozen=True, slots=True)
class _Scope:
    """Placed on the walk's stack after a node's subtree: what the working directories are
    once it is done. restore: back to `cwds` (a subshell's cd ends with it); union: `cwds` or
    the current ones (after `cd x && …`); function: lost if the body changed them."""

    kind: str
    cwds: tuple[str, ...] | None
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
                 deadline: float | None = None, *, reader: ScriptReader | None = None,
                 cwd: str | None = None) -> None:
        self.registry = registry
        self.handlers = handlers
        self.places = Places(reader, cwd)
        # `cd` commands whose success bash guarantees before what follows (`cd x && …`).
        self._definite: set[int] = set()
        self._current: Node | None = None  # the command node being judged
        self._extended = 0.0  # seconds added to the deadline for files read
        # What handlers worked out once per analysis (a repository's configuration).
        self.cache: dict[object, object] = {}
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
        # What the commands read and write, for the guards (touches.py).
        self.touches: list[Touch] = []

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
        # The guards' view first: airlock's own commands, by any path (`.venv/bin/airlock`),
        # and what this command reads and writes (touches.py).
        name = program_name(name_word)
        own = airlock_cli.airlock_command(name, words, stdin)
        if own is not None:
            return own
        self.touches.extend(touches.of_command(name, words, stdin, self.handlers.wrappers))
        if "/" in name_word.value and not _system_program(name_word.value):
            return self.handlers.local_program(self, list(words), env, stdin, depth)
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
            if word.value is None or not word.value[:1].isalnum():
                continue  # an option, or a path such as `.` (never the builtin `.`)
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
    # Arithmetic: bash evaluates some text as an expression, and a subscript in it
    # (`a[$(cmd)]`) runs its command substitution — even when the text was quoted.

    def arithmetic(self, text: str | None, depth: int, origin: str) -> list[Effect]:
        if depth > MAX_DEPTH:
            return [unknown(f"arithmetic nested too deeply ({origin})")]
        if text is None:
            return [unknown(f"bash evaluates text computed at run time as arithmetic "
                            f"({origin})")]
        effects: list[Effect] = []
        if any(c in text for c in "$`"):
            effects.extend(self.script(f": $(( {text} ))", depth + 1,
                                       f"when bash evaluates {text!r} ({origin})"))
        # A name in an expression is evaluated in turn: `x='a[$(cmd)]'; (( x ))` runs cmd.
        for name in dict.fromkeys(_NAME.findall(text)):
            value = self.env.get(name)
            if value is not None and any(c in value for c in "$`"):
                effects.extend(self.arithmetic(value, depth + 1, f"${name}, {origin}"))
        return effects

    def arithmetic_word(self, word: Word, depth: int, origin: str) -> list[Effect]:
        """A word bash evaluates as arithmetic: its value, or its known parts (a computed
        part from the environment is taken as a number: see the architecture notes)."""
        if word.value is not None:
            return self.arithmetic(word.value, depth, origin)
        if word.sketch is not None:
            return self.arithmetic(word.sketch.replace(COMPUTED, "0"), depth, origin)
        return []

    # ----------------------------------------------------------------------------------------
    # Files a command runs, and where it runs

    def read_code(self, word: Word, base: str | None = None) -> list[CodeFile]:
        return self.places.read(word, base)

    def judge_file(self, code: CodeFile, language: str, depth: int,
                   same_shell: bool = False) -> list[Effect]:
        target = Target("path", code.shown, contextual=True)
        if code.text is None:
            return [unknown(f"runs {code.shown}, which {code.problem}: what it does cannot be "
                            "judged", target)]
        if depth > MAX_DEPTH:
            return [unknown(f"runs {code.shown}, nested more than {MAX_DEPTH} levels deep",
                            target)]
        self._extend_deadline(len(code.text))
        judge = self.handlers.languages.get(language)
        if language != "shell" and judge is None:
            return [unknown(f"runs {code.shown} as {language}, which airlock does not read",
                            target)]
        # A script run as its own process keeps its variables and directory to itself.
        saved = dict(self.env), self.places.cwds
        try:
            if judge is None:
                inner = self.script(code.text, depth + 1, f"in {code.shown}")
            else:
                inner = judge(self, code, depth + 1)
        finally:
            if not same_shell:
                self.env, self.places.cwds = saved
        named = Effect(Verb.READ, Risk.READ, f"runs {code.shown}, judged by what it contains",
                       target, "file")
        return [named, *(dataclasses.replace(e, reason=f"{e.reason} (in {code.shown})")
                         for e in inner)]

    def _extend_deadline(self, size: int) -> None:
        """A script read from a file brings more text than the command line: the time budget
        grows with what was read (FILE_SECONDS_PER_KIB), up to FILE_SECONDS in all."""
        if self.deadline is None or self._extended >= FILE_SECONDS:
            return
        extra = min(FILE_SECONDS - self._extended, size / 1024 * FILE_SECONDS_PER_KIB)
        self._extended += extra
        self.deadline += extra

    @contextmanager
    def elsewhere(self, where: str) -> Iterator[None]:
        with self.places.elsewhere(where):
            yield

    @contextmanager
    def in_directory(self, directory: str | None) -> Iterator[None]:
        saved = self.places.cwds
        self.places.cwds = (posixpath.normpath(directory),) \
            if directory is not None and posixpath.isabs(directory) else None
        try:
            yield
        finally:
            self.places.cwds = saved

    def change_directory(self, target: str | None) -> None:
        definite = self._current is not None and self._current.id in self._definite
        self.places.change_directory(target, definite)

    @property
    def directories(self) -> tuple[str, ...] | None:
        return self.places.cwds

    @property
    def inputs(self) -> dict[str, str]:
        return self.places.inputs

    # ----------------------------------------------------------------------------------------
    # The walk

    def walk(self, root: Node, src: bytes, depth: int, stdin: Stdin | None) -> list[Effect]:
        effects: list[Effect] = []
        stack: list[tuple[Node | _Scope, Stdin | None]] = [(root, stdin)]
        while stack:
            node, node_stdin = stack.pop()
            if isinstance(node, _Scope):
                self._end_scope(node)
                continue
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
            if kind in ("simple_expansion", "expansion", "declaration_command"):
                self.touches.extend(touches.expansion(node, src) if kind != "declaration_command"
                                    else touches.declaration(node, src))
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
                if kind in ("declaration_command", "unset_command"):
                    effects.extend(self._subscripted_names(node, src, depth))
                children = [(c, node_stdin) for c in node.named_children]
            elif kind in ("unary_expression", "binary_expression") and \
                    node.parent is not None and _in_test(node):
                effects.extend(self._test_operands(node, src, depth))
                children = [(c, node_stdin) for c in node.named_children]
            elif kind == "variable_name" and _in_arithmetic(node):
                effects.extend(self.arithmetic(_text(node, src), depth, "an arithmetic name"))
                children = []
            else:
                children = [(c, node_stdin) for c in node.named_children]
            scope = self._scope(node, src)
            if scope is not None:
                stack.append((scope, None))
            stack.extend(reversed(children))
        return effects

    def _scope(self, node: Node, src: bytes) -> _Scope | None:
        """What a node does to the working directories of what follows it (see places.py)."""
        kind = node.type
        cwds = self.places.cwds
        if kind in ("subshell", "command_substitution", "process_substitution", "pipeline"):
            return _Scope("restore", cwds)
        if kind == "function_definition":
            name = node.child_by_field_name("name")
            if name is not None and _text(name, src) in _DIRECTORY_COMMANDS:
                self.places.lost = True  # `cd` itself redefined
            return _Scope("function", cwds)
        if kind != "list":
            return None
        operator = _operator(node)
        parent = node.parent
        if operator == "&&" and not (parent is not None and parent.type == "list" and
                                     _operator(parent) == "&&" and
                                     parent.named_children[0].id == node.id):
            head = node
            while head.type == "list" and _operator(head) == "&&":
                head = head.named_children[0]
            if _is_directory_command(head, src):
                self._definite.add(_unredirected(head).id)
                return _Scope("union", cwds)
        if operator == "||" and len(node.named_children) == 2:
            left, right = node.named_children
            if _is_directory_command(left, src) and _command_name(right, src) in (
                    "exit", "return"):
                self._definite.add(_unredirected(left).id)
        return None

    def _end_scope(self, scope: _Scope) -> None:
        current = self.places.cwds
        if scope.kind == "restore":
            self.places.cwds = scope.cwds
        elif scope.kind == "union":
            self.places.cwds = Places.union(scope.cwds, current)
        elif current != scope.cwds:  # a function whose body changes directory: any later
            self.places.lost = True  # call may move what follows anywhere
            self.places.cwds = None

    def _late(self) -> bool:
        return self.deadline is not None and budget_clock() > self.deadline

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
        outer, self._current = self._current, node
        try:
            effects.extend(self.invoke(words, env, stdin, depth))
        except RecursionError:
            effects.append(unknown("the command nests too deeply to analyse"))
        finally:
            self._current = outer
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
        if operator in ("<", "<>"):
            self.touches.extend(touches.redirected(word, operator))
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

    def _subscripted_names(self, node: Node, src: bytes, depth: int) -> list[Effect]:
        """`declare 'a[$(cmd)]=1'`, `unset 'a[$(cmd)]'`: the subscript is evaluated."""
        effects: list[Effect] = []
        for child in node.named_children:
            if child.type in ("string", "raw_string", "word", "concatenation"):
                for word in evaluate(child, src):
                    text = word.value if word.value is not None else word.sketch
                    if text is not None and "[" in text:
                        effects.extend(self.arithmetic_word(word, depth, f"a {node.type[:-8]} "
                                                                         "subscript"))
        return effects

    def _test_operands(self, node: Node, src: bytes, depth: int) -> list[Effect]:
        """`[[ -v NAME ]]` evaluates NAME's subscript; `[[ X -eq Y ]]` evaluates X and Y."""
        operator = node.child_by_field_name("operator")
        if operator is None or operator.type != "test_operator":
            return []
        op = _text(operator, src)
        if node.type == "unary_expression" and op in ("-v", "-R"):
            operands = [c for c in node.named_children if c.id != operator.id]
        elif node.type == "binary_expression" and op in _ARITHMETIC_TESTS:
            operands = [c for c in (node.child_by_field_name("left"),
                                    node.child_by_field_name("right")) if c is not None]
        else:
            return []
        effects: list[Effect] = []
        for operand in operands:
            for word in evaluate(operand, src):
                effects.extend(self.arithmetic_word(word, depth, f"[[ {op} ]]"))
        return effects

    def special_variable(self, name: str, value: str | None, depth: int) -> list[Effect]:
        if name == "IFS":
            return [unknown("IFS is changed, so words split differently than they read")]
        if name == "TMPDIR":
            self.temp_voided = True
        if name == "CDPATH":
            self.places.lost = True  # `cd x` may now go anywhere CDPATH lists
            self.places.cwds = None
        if name in _LOADS_CODE or (name in _LOADING_OPTIONS and (value is None or any(
                option in value.split() or any(part.startswith(option + "=")
                                               for part in value.split())
                for option in _LOADING_OPTIONS[name]))):
            return [unknown(f"${name} makes the programs that follow load code that airlock "
                            "does not read")]
        if name in _CODE_VARIABLES or name.startswith(("LD_", "DYLD_")) or \
                name in _LOADING_OPTIONS:
            self.code_env_changed = True
        if name in _COMMAND_VARIABLES:
            return self.script(value, depth + 1, f"as ${name}")
        if name in _EXPANDED_VARIABLES and value is not None and any(
                c in value for c in "$`"):
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            return self.script(f': "{escaped}"', depth + 1, f"when bash expands ${name}")
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


def _in_test(node: Node) -> bool:
    parent = node.parent
    while parent is not None and parent.type in ("unary_expression", "binary_expression",
                                                 "parenthesized_expression",
                                                 "negated_expression"):
        parent = parent.parent
    return parent is not None and parent.type == "test_command"


def _in_arithmetic(node: Node) -> bool:
    parent = node.parent
    for _ in range(16):
        if parent is None:
            return False
        if parent.type in ("arithmetic_expansion", "c_style_for_statement"):
            return True
        if parent.type == "compound_statement":
            first = parent.children[0] if parent.children else None
            return first is not None and first.type == "(("
        if parent.type in ("command", "variable_assignment", "test_command", "program"):
            return False
        parent = parent.parent
    return False


def _system_program(path: str) -> bool:
    normal = posixpath.normpath(path) if path.startswith("/") else path
    return normal.startswith(_SYSTEM_FOLDERS)


def _text(node: Node, src: bytes) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _operator(node: Node) -> str:
    return next((c.type for c in node.children if not c.is_named), "")


def _unredirected(node: Node) -> Node:
    if node.type == "redirected_statement":
        body = node.child_by_field_name("body")
        if body is not None:
            return body
    return node


def _command_name(node: Node, src: bytes) -> str | None:
    node = _unredirected(node)
    if node.type != "command":
        return None
    name = node.child_by_field_name("name")
    return _text(name, src) if name is not None else None


def _is_directory_command(node: Node, src: bytes) -> bool:
    return _command_name(node, src) in ("cd", "pushd")


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

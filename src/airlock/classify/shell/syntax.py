"""Parsing with tree-sitter-bash, and the checks that decide whether its tree can be trusted.

tree-sitter is error-tolerant: it always returns a tree, marking what it could not parse with
ERROR or MISSING nodes. A guard cannot guess around those, so any error makes the text unknown.
It also has a few quiet misparses (a `-` before a heredoc vanishes; `r\\<newline>m` becomes two
words where bash sees `rm`); `uncovered_text` finds text that no node accounts for, so those
fail closed too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

_LANGUAGE = Language(tree_sitter_bash.language())
_local = threading.local()

# A tree with more nodes than this is not walked: the walk is linear, but a guard answering in
# milliseconds needs a bound that does not depend on the input. Agent commands are far smaller.
MAX_NODES = 40_000

# Nodes whose children do not account for all their text by design (the text between the
# children is literal content): the coverage check skips them.
_TEXT_NODES = frozenset({
    "word", "string", "raw_string", "ansi_c_string", "translated_string", "string_content",
    "heredoc_body", "heredoc_content", "heredoc_start", "heredoc_end", "comment", "number",
    "regex", "extglob_pattern", "variable_name", "special_variable_name", "test_operator",
    "file_descriptor", "expansion", "arithmetic_expansion", "simple_expansion",
    "brace_expression", "array",
})


def _parser() -> Parser:
    # A Parser is not safe to share between threads; one per thread is cheap.
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = Parser(_LANGUAGE)
        _local.parser = parser
    return parser


@dataclass(frozen=True, slots=True)
class Parsed:
    src: bytes
    root: Node
    problem: str | None  # why the tree cannot be trusted; None when it can


# Inputs larger than this are parsed with a deadline (tree-sitter checks it as it goes); small
# ones parse in microseconds and skip the callback's overhead.
_DEADLINE_ABOVE_BYTES = 4096


def budget_clock() -> float:
    """The clock the classification budget is counted on: CPU seconds of this thread, so the
    budget bounds work, and a busy machine does not turn a known command into an unknown one."""
    return time.thread_time()


def parse(src: bytes, deadline: float | None = None) -> Parsed:
    parser = _parser()
    if deadline is not None and len(src) > _DEADLINE_ABOVE_BYTES:
        try:
            tree = parser.parse(lambda offset, _point: src[offset : offset + 65536],
                                progress_callback=lambda *_: budget_clock() > deadline)
        except ValueError:  # tree-sitter's way of saying the callback cancelled the parse
            parser.reset()
            return Parsed(src, parser.parse(b"").root_node, "the command took too long to parse")
    else:
        tree = parser.parse(src)
    root = tree.root_node
    problem = None
    if root.has_error:
        problem = "the text does not parse as a shell command (syntax error)"
    elif root.descendant_count > MAX_NODES:
        problem = f"the command is too large to analyse ({root.descendant_count} syntax nodes)"
    return Parsed(src, root, problem)


def uncovered_text(node: Node, src: bytes) -> str | None:
    """Text inside a structural node that none of its children covers, if any.

    Between children only blanks and line continuations may appear. A continuation that joins
    two tokens with no blank beside it (`r\\<newline>m`) glues them into one word for bash,
    which tree-sitter does not do, so it counts as uncovered too."""
    if node.type in _TEXT_NODES or node.child_count == 0:
        return None
    pos = node.start_byte
    for child in node.children:
        if child.start_byte > pos and not _blank(src[pos : child.start_byte], pos > node.start_byte):
            return src[pos : child.start_byte].decode("utf-8", "replace")
        pos = max(pos, child.end_byte)
    if node.end_byte > pos and not _blank(src[pos : node.end_byte], True):
        return src[pos : node.end_byte].decode("utf-8", "replace")
    return None


def _blank(gap: bytes, between_tokens: bool) -> bool:
    if not gap.replace(b"\\\n", b"").strip(b" \t\r\n"):
        # Only blanks and continuations. Continuations alone, between two tokens, join them.
        return not (between_tokens and gap.strip(b"\\\n") == b"" and b"\\\n" in gap)
    return False

"""Codex's `apply_patch` envelope, read the way Codex reads it: which files it adds, updates,
moves and deletes.

Codex's parser (`codex-rs/apply-patch/src/parser.rs`, and its streaming successor) is lenient,
and airlock must see exactly the files it will touch, so this follows its rules, not the
format's description:

- the whole text is trimmed, then cut into lines at `\\n` (a `\\r` before it is dropped); only
  `\\n` ends a line (Rust's `str::lines`, not Python's `splitlines`, which also cuts at
  `\\x0b`, `\\x1c`, `\\u2028`, …);
- the first line, trimmed, must be `*** Begin Patch` and the last `*** End Patch`; a patch
  wrapped in a heredoc (`<<EOF`, `<<'EOF'`, `<<"EOF"` … `EOF`) is unwrapped first;
- a hunk header is matched on the line with whitespace trimmed on both sides — Unicode White_Space
  as Rust's `trim` knows it, not Python's `strip` — so `   *** Delete File: x` deletes `x`; the
  path is what follows `*** Add File: ` (or Delete, Update) up to the trimmed end;
- an Add hunk's content is the `+` lines after it; an Update hunk may start with `*** Move to: `
  and holds `@@` chunks of ` `, `+`, `-` lines until a line starting with `*`.

Versions of Codex differ at the edges (whether a `*** Move to:` line or a header inside an Update
hunk is trimmed first), so besides the parse every line that *some* version could read as a
header counts too: the operations are the union of what any version would do. A text the parser
refuses is unparseable (`PatchError`), and the caller treats it as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

BEGIN, END = "*** Begin Patch", "*** End Patch"
ADD, DELETE, UPDATE = "*** Add File: ", "*** Delete File: ", "*** Update File: "
MOVE_TO = "*** Move to: "
END_OF_FILE = "*** End of File"
_HEREDOC_OPENINGS = ("<<EOF", "<<'EOF'", '<<"EOF"')

# Rust's char::is_whitespace: the Unicode White_Space property. (Python's str.isspace also takes
# U+001C–U+001F, which Rust's trim keeps.)
_RUST_WHITESPACE = "".join(map(chr, [
    *range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
    0x202F, 0x205F, 0x3000]))


class PatchError(ValueError):
    """Codex would refuse this patch (or airlock cannot tell what it does)."""


@dataclass(frozen=True, slots=True)
class FileOperation:
    kind: str  # "add" | "update" | "delete" | "move"
    path: str  # the file written, removed, or (move) removed
    destination: str | None = None  # move: the file written


def trim(text: str) -> str:
    return text.strip(_RUST_WHITESPACE)


def lines_of(text: str) -> list[str]:
    """Rust's `str::lines`: split at \\n, drop one \\r before it, no empty last line."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]


def parse_patch(patch: str) -> list[FileOperation]:
    """Every file operation of the patch, in order, each once (see the module docstring)."""
    lines = lines_of(trim(patch))
    body = _body(lines)
    parsed = _parse_hunks(body)
    moved = {op.path for op in parsed if op.kind == "move"}
    extra = [op for op in _scan_headers(body)
             if not (op.kind == "update" and op.path in moved)]  # a move updates it anyway
    return list(dict.fromkeys([*parsed, *extra]))


def _body(lines: list[str]) -> list[str]:
    if _bounded(lines):
        return lines[1:-1]
    if len(lines) >= 4 and trim(lines[0]) in _HEREDOC_OPENINGS and trim(lines[-1]).endswith("EOF"):
        lines = lines[1:-1]
        if _bounded(lines):
            return lines[1:-1]
    if not lines or trim(lines[0]) != BEGIN:
        raise PatchError("the first line of the patch must be '*** Begin Patch'")
    raise PatchError("the last line of the patch must be '*** End Patch'")


def _bounded(lines: list[str]) -> bool:
    return len(lines) >= 2 and trim(lines[0]) == BEGIN and trim(lines[-1]) == END


def _parse_hunks(body: list[str]) -> list[FileOperation]:
    ops: list[FileOperation] = []
    i = 0
    while i < len(body):
        header = trim(body[i])
        line_number = i + 2
        if header.startswith(ADD):
            ops.append(FileOperation("add", header[len(ADD):]))
            i += 1
            while i < len(body) and body[i].startswith("+"):
                i += 1
        elif header.startswith(DELETE):
            ops.append(FileOperation("delete", header[len(DELETE):]))
            i += 1
        elif header.startswith(UPDATE):
            path = header[len(UPDATE):]
            i += 1
            destination = None
            if i < len(body) and body[i].startswith(MOVE_TO):
                destination = body[i][len(MOVE_TO):]
                i += 1
            i, chunks = _update_chunks(body, i, path)
            if not chunks:
                raise PatchError(f"update hunk for path '{path}' is empty (line {line_number})")
            ops.append(FileOperation("move", path, destination) if destination is not None
                       else FileOperation("update", path))
        else:
            raise PatchError(f"line {line_number}: '{header[:80]}' is not a valid hunk header "
                             "('*** Add File: ', '*** Delete File: ', '*** Update File: ')")
    return ops


def _update_chunks(body: list[str], i: int, path: str) -> tuple[int, int]:
    """Skip an Update hunk's chunks; (where the next hunk starts, how many chunks)."""
    chunks = 0
    while i < len(body):
        if not trim(body[i]):
            i += 1
            continue
        if body[i].startswith("*"):
            break
        start = i
        if body[i] == "@@" or body[i].startswith("@@ "):
            while i < len(body) and (body[i] == "@@" or body[i].startswith("@@ ")):
                i += 1  # newer versions take several context lines
        elif chunks:
            raise PatchError(f"line {i + 2}: an update chunk of '{path}' must start with @@")
        taken = 0
        while i < len(body):
            line = body[i]
            if line == END_OF_FILE:
                if not taken:
                    raise PatchError(f"line {i + 2}: an update chunk of '{path}' is empty")
                i += 1
                break
            if line == "" or line[0] in " +-":
                taken += 1
                i += 1
                continue
            if not taken:
                raise PatchError(f"line {i + 2}: unexpected line in an update of '{path}' "
                                 "(lines start with ' ', '+' or '-')")
            break
        if not taken:
            raise PatchError(f"line {start + 2}: an update chunk of '{path}' has no lines")
        chunks += 1
    return i, chunks


def _scan_headers(body: list[str]) -> list[FileOperation]:
    """Every operation some version of Codex could read from a header-like line, wherever it
    stands (an indented header inside an Update hunk, a trimmed Move line)."""
    ops: list[FileOperation] = []
    update: str | None = None
    for raw in body:
        line = trim(raw)  # added content (`+*** …`) never matches: it starts with +
        for marker, kind in ((ADD, "add"), (DELETE, "delete"), (UPDATE, "update")):
            if line.startswith(marker):
                ops.append(FileOperation(kind, line[len(marker):]))
                update = line[len(marker):] if kind == "update" else None
        if line.startswith(MOVE_TO) and update is not None:
            ops.append(FileOperation("move", update, line[len(MOVE_TO):]))
    return ops

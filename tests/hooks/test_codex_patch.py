"""Codex patches are read as Codex reads them (codex_patch.py): the same files, the same
operations; a deleted (or moved-away) file is a delete of that path, judged like `rm` of it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airlock.classify.secrets_files import FileRules, classify_file_access
from airlock.config import load_config
from airlock.fronts.hooks.codex import patch_writes
from airlock.fronts.hooks.codex_patch import FileOperation, PatchError, parse_patch
from airlock.model import FileAccess, Risk
from tests.cli import airlock
from tests.hooks.conftest import fixture, raw


def _ops(*items: tuple[str, str] | tuple[str, str, str]) -> list[FileOperation]:
    return [FileOperation(*item) for item in items]


def _patch(*body: str, begin: str = "*** Begin Patch", end: str = "*** End Patch") -> str:
    return "\n".join([begin, *body, end])


# (id, patch, operations) — how each line is read, header by header
READS = [
    ("plain", _patch("*** Add File: a.txt", "+hi", "*** Update File: b.py", "@@", "-x", "+y",
                     "*** Delete File: c.db"),
     _ops(("add", "a.txt"), ("update", "b.py"), ("delete", "c.db"))),
    ("indented-delete-after-add", _patch("*** Add File: a.txt", "+hi", "   *** Delete File: app.db"),
     _ops(("add", "a.txt"), ("delete", "app.db"))),
    ("tab-indented-header", _patch("\t*** Delete File: app.db"), _ops(("delete", "app.db"))),
    ("trailing-whitespace", _patch("*** Delete File: app.db  \t"), _ops(("delete", "app.db"))),
    ("ideographic-space", _patch("\u3000*** Delete File: app.db"), _ops(("delete", "app.db"))),
    ("crlf", _patch("*** Delete File: app.db\r", "*** Add File: x\r", "+y\r"),
     _ops(("delete", "app.db"), ("add", "x"))),
    ("padded-envelope", "\n  \t*** Begin Patch  \n*** Delete File: app.db\n  *** End Patch \n\n",
     _ops(("delete", "app.db"))),
    ("heredoc", "<<'EOF'\n*** Begin Patch\n*** Delete File: app.db\n*** End Patch\nEOF\n",
     _ops(("delete", "app.db"))),
    ("heredoc-double-quoted", '<<"EOF"\n*** Begin Patch\n*** Add File: a\n+x\n*** End Patch\nEOF',
     _ops(("add", "a"))),
    ("move", _patch("*** Update File: app.db", "*** Move to: attic/app.db", "@@", "-a", "+b"),
     _ops(("move", "app.db", "attic/app.db"))),
    ("indented-move-line", _patch("*** Update File: a.py", "  *** Move to: b.py", "+x"),
     _ops(("update", "a.py"), ("move", "a.py", "b.py"))),
    ("header-inside-an-update", _patch("*** Update File: a.py", "@@", " x",
                                       " *** Delete File: keep.db", "+y"),
     _ops(("update", "a.py"), ("delete", "keep.db"))),
    ("added-content-is-content", _patch("*** Add File: notes.md", "+*** Delete File: app.db",
                                        "+  *** Delete File: app.db"),
     _ops(("add", "notes.md"))),
    ("unicode-line-separator-is-not-a-line-break",
     _patch("*** Add File: a\u2028*** Delete File: b", "+x"), _ops(("add", "a\u2028*** Delete File: b"))),
    ("space-after-the-marker-is-the-path", _patch("*** Delete File:  spaced"),
     _ops(("delete", " spaced"))),
    ("several-context-lines", _patch("*** Update File: a.py", "@@ class A", "@@ def f", "-x", "+y"),
     _ops(("update", "a.py"))),
]


@pytest.mark.parametrize(("patch", "operations"), [pytest.param(p, o, id=i) for i, p, o in READS])
def test_patches_are_read_as_codex_reads_them(patch: str, operations: list[FileOperation]) -> None:
    assert parse_patch(patch) == operations


@pytest.mark.parametrize(("patch", "says"), [
    ("hello", "first line"),
    ("*** Begin Patch\n*** Delete File: x", "last line"),
    ("*** Begin Patch\r*** Delete File: x\r*** End Patch", "first line"),  # \r alone ends nothing
    (_patch("*** Frobnicate File: x"), "not a valid hunk header"),
    (_patch("\x1c*** Delete File: x"), "not a valid hunk header"),  # Rust does not trim U+001C
    (_patch("*** Delete File:"), "not a valid hunk header"),
    (_patch("*** Update File: a.py"), "is empty"),
    (_patch("*** Update File: a.py", "@@", "-x", "junk"), "must start with @@"),
    (_patch("*** Update File: a.py", "@@", "-x", "@@"), "has no lines"),
    (_patch("*** Update File: a.py", "@@", "*** End of File"), "is empty"),
    (_patch("*** Update File: a.py", "-x", " y", "!z"), "must start with @@"),
    ("<<EOF\n*** Begin Patch\n*** Delete File: x\nEOF", "last line"),
], ids=["no-envelope", "no-end", "bare-cr", "unknown-header", "info-separator", "empty-path",
        "empty-update", "junk-after-chunk", "empty-chunk", "eof-only", "bad-line",
        "heredoc-without-end"])
def test_what_codex_refuses_is_refused(patch: str, says: str) -> None:
    with pytest.raises(PatchError) as error:
        parse_patch(patch)
    assert says in str(error.value)


def test_operations_become_file_actions_resolved_against_the_working_directory() -> None:
    patch = _patch("*** Add File: ~/notes.md", "+x", "*** Delete File: /abs/app.db",
                   "*** Update File: src/a.py", "*** Move to: ../b.py", "@@", "-x", "+y")
    assert patch_writes(patch, "/w/p") == (
        FileAccess("/w/p/~/notes.md", write=True),  # Codex does not expand ~
        FileAccess("/abs/app.db", write=True, delete=True),
        FileAccess("/w/p/src/a.py", write=True, delete=True),  # moved away
        FileAccess("/w/b.py", write=True),
    )


# --------------------------------------------------------------------------------------------
# Through `airlock hook codex`, with a configuration


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    config = tmp_path / "airlock.toml"
    config.write_text(textwrap.dedent(f"""
        state_dir = "{tmp_path / 'state'}"
        [environments.staging]
        [resources.uploads]
        kind = "path"
        environment = "staging"
        path = "{project / 'data'}"
        """))
    return project, config


def _codex(patch: str, project: Path, config: Path) -> Any:
    data = fixture("codex", "pretooluse_apply_patch")
    data["cwd"] = str(project)
    data["tool_input"] = {"command": patch}
    return airlock("--config", str(config), "hook", "codex", cwd=project,
                   input=raw(data).decode())


DELETES = [
    # (id, patch body, risk of the worst file action, what its reason says, held/denied/allowed)
    ("add", ["*** Add File: notes.md", "+hi"], Risk.WRITE, "writes file", "allowed"),
    ("delete-plain-file", ["*** Delete File: notes.txt"], Risk.WRITE, "deletes file",
     "allowed"),  # as `rm notes.txt` is judged: a write
    ("indented-delete-of-a-database", ["*** Add File: notes.md", "+hi",
                                       "   *** Delete File: app.db"],
     Risk.DESTRUCTIVE, "looks like a database or a backup", "held"),
    ("delete-database", ["*** Delete File: app.sqlite3"], Risk.DESTRUCTIVE,
     "looks like a database or a backup", "held"),
    ("move-database-away", ["*** Update File: app.db", "*** Move to: attic/app.db", "@@", "-a",
                            "+b"], Risk.DESTRUCTIVE, "looks like a database or a backup", "held"),
    ("delete-in-a-resource", ["*** Delete File: data/upload-1.png"], Risk.DESTRUCTIVE,
     "belongs to resource uploads", "held"),
    ("delete-credential", ["*** Delete File: .env"], Risk.DESTRUCTIVE,
     "a credential file", "held"),
    ("delete-airlock-config", ["\t*** Delete File: ../airlock.toml"], Risk.CATASTROPHIC,
     "airlock's own files", "denied"),
]


@pytest.mark.parametrize(("body", "risk", "says", "answer"),
                         [pytest.param(b, r, s, a, id=i) for i, b, r, s, a in DELETES])
def test_codex_patches_through_the_hook(tmp_path: Path, body: list[str], risk: Risk, says: str,
                                        answer: str) -> None:
    project, config = _setup(tmp_path)
    rules = FileRules.from_config(load_config(config))
    judged = [classify_file_access(p, cwd=str(project), rules=rules)
              for p in patch_writes(_patch(*body), str(project)) if isinstance(p, FileAccess)]
    worst = max(judged, key=lambda a: a.risk.rank)
    assert worst.risk is risk and any(says in r for r in worst.reasons), worst.reasons
    done = _codex(_patch(*body), project, config)
    if answer == "allowed":
        assert (done.returncode, done.stdout) == (0, ""), done.stderr
        return
    assert done.returncode == 2, done.stdout + done.stderr
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert ("airlock held this action" in done.stderr) == (answer == "held"), done.stderr
    assert "delete " in done.stderr


def test_a_patch_codex_would_refuse_is_blocked_with_the_reason(tmp_path: Path) -> None:
    project, config = _setup(tmp_path)
    answer = _codex(_patch("*** Remove File: app.db"), project, config)
    assert answer.returncode == 2
    assert "cannot read this patch as Codex would" in answer.stderr
    assert "not a valid hunk header" in answer.stderr


def test_a_delete_is_a_file_write_with_its_own_digest() -> None:
    from airlock.model import Action, ActionKind

    delete = Action(FileAccess("/p/a.db", write=True, delete=True), "agent", "hook:codex")
    write = Action(FileAccess("/p/a.db", write=True), "agent", "hook:codex")
    assert delete.kind is ActionKind.FILE_WRITE  # the credential guard covers it
    assert delete.content() == {"kind": "file_write", "path": "/p/a.db", "write": True,
                                "delete": True}
    assert write.content() == {"kind": "file_write", "path": "/p/a.db", "write": True}
    assert delete.summary() == "delete /p/a.db"

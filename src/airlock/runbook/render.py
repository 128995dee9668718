"""A runbook as Markdown (its shell blocks are the procedure, in order, runnable as printed),
HTML (Jinja2 with autoescaping, no script) or JSON."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from airlock.runbook.facts import Runbook

FORMATS = ("md", "html", "json")
NEW_DATABASE = ("replace NEW_DATABASE_URL with postgresql://USER@HOST:PORT/NEW_NAME (the "
                "password in $PGPASSWORD).")


def render(book: Runbook, fmt: str) -> str:
    if fmt == "md":
        return markdown(book)
    if fmt == "html":
        return html(book)
    if fmt == "json":
        return json.dumps(book.to_json(), indent=2, sort_keys=True) + "\n"
    raise ValueError(f"unknown runbook format {fmt!r}")


def _cell(text: str) -> str:
    """Markdown table cell: a pipe or a newline would break the row."""
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def markdown(book: Runbook) -> str:
    env = book.environment
    if book.production and env != "production":
        env += " (production)"
    lines = [f"# Recovery runbook: {book.resource}", "",
             f"{book.kind} resource in {env}" + (f" — {book.description}" if book.description
                                                  else "") + ".",
             f"Generated {book.generated_at} from the state and configuration of {book.config}.",
             ""]
    if book.warnings:
        lines += ["## Read first", ""] + [f"- **{w}**" for w in book.warnings] + [""]
    lines += ["## Recovery procedure", ""]
    if not book.steps:
        lines += ["There is no snapshot to restore.", ""]
    for number, step in enumerate(book.steps, 1):
        lines += [f"{number}. **{step.title}.** {step.text}", "", "```sh",
                  *step.commands, "```", ""]
    lines += ["## Backups", "",
              f"Vault: {_code(book.vault)}. Key: {book.vault_key} — never kept in the vault; "
              "without it no snapshot can be read.", ""]
    if book.snapshots:
        lines += ["| snapshot | kind | taken | age | size | what | restore | undo | verified |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for s in book.snapshots:
            lines.append("| " + " | ".join(_cell(c) for c in (
                _code(s.id), s.kind, s.created_at[:19], s.age, s.size, s.summary,
                _code(s.restore), _code(s.undo) if s.undo else "—",
                s.verified or "not yet")) + " |")
        lines.append("")
    if any(s.kind == "postgres-database" for s in book.snapshots):
        lines += [f"A whole-database snapshot restores into a new database: {NEW_DATABASE}", ""]
    lines += [f"If airlock's state is lost, the vault alone is enough: {_code(book.from_vault_alone)}"
              " (TARGET: a configured resource, a postgresql:// URL or a path).", ""]
    lines += ["## What else dies with it", ""]
    if book.lives_on:
        lines += [f"{book.resource} itself is lost with: " + ", ".join(book.lives_on) + ".", ""]
    if book.blast_radius:
        lines += [f"- {n.name} ({n.kind}, {n.environment}): {n.why}" for n in book.blast_radius]
    else:
        lines.append(f"Nothing else configured is stored on {book.resource} or keeps its "
                     "backups there.")
    lines += ["", "## Who can approve", ""]
    lines.append("Enrolled approvers: " + (", ".join(book.approvers) or "**none**") + ".")
    for a in book.approvals:
        lines.append(f"- {a.what}: {a.verdict}" + (f", {a.approvals} approval(s)"
                                                   if a.approvals else "") + f" ({a.rule})")
    lines += ["", "## Last drill", ""]
    lines.append(_drill_line(book))
    return "\n".join(lines) + "\n"


def _drill_line(book: Runbook) -> str:
    last, passing = book.last_drill, book.last_passing_drill
    if last is None:
        return "Never drilled."
    text = (f"{last.at[:19]}: {'PASS' if last.ok else 'FAIL'} — {last.snapshot} ({last.kind})"
            + (f": {last.error}" if last.error else "") + ".")
    if not last.ok and passing is not None:
        text += f" Last passing: {passing.at[:19]} ({passing.snapshot})."
    return text


_JINJA = Environment(loader=PackageLoader("airlock.runbook", "templates"),
                     autoescape=select_autoescape(default=True, default_for_string=True))


def html(book: Runbook) -> str:
    """A whole page: no script, and a Content-Security-Policy that allows none."""
    return _JINJA.get_template("runbook.html").render(**_context(book))


def html_body(book: Runbook) -> Markup:
    """The page's content alone (escaped), for the console to place in its own layout."""
    # the output of an autoescaping template: every value in it was escaped
    return Markup(_JINJA.get_template("body.html").render(**_context(book)))  # noqa: S704


def _context(book: Runbook) -> dict[str, Any]:
    return {"book": book, "drill": _drill_line(book), "new_database": NEW_DATABASE}

"""The held action's full content as highlighted, escaped HTML (Pygments does the lexing).

Everything shown was redacted when the hold was recorded; this module only colours it. Every
piece of text reaches the page through Pygments' HTML formatter or `markupsafe.escape`, never
raw: the content is whatever an agent sent, and the console must not run it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import BashLexer, GraphQLLexer, JsonLexer, MySqlLexer, PostgresLexer, SqlLexer

# Beyond this, colouring costs more than it helps (Pygments is linear but not fast).
MAX_HIGHLIGHT = 64 * 1024

_FORMATTER = HtmlFormatter(nowrap=True, classprefix="t-")
_SQL_LEXERS: dict[str, type[Lexer]] = {"postgres": PostgresLexer, "mysql": MySqlLexer}


def _lex(text: str, lexer: Lexer) -> Markup:
    if len(text) > MAX_HIGHLIGHT:
        return escape(text)
    return Markup(highlight(text, lexer, _FORMATTER).rstrip("\n"))  # noqa: S704 (Pygments escapes)


def _http(content: Mapping[str, Any]) -> Markup:
    parts = [Markup('<span class="t-method">{}</span> <span class="t-url">{}</span>').format(
        str(content.get("method", "")), str(content.get("url", "")))]
    for header in content.get("headers") or []:
        if isinstance(header, list | tuple) and len(header) == 2:
            parts.append(Markup('\n<span class="t-header">{}</span>: {}').format(
                str(header[0]), str(header[1])))
    body = content.get("body")
    if isinstance(body, str) and body:
        parts.append(Markup("\n\n"))
        parts.append(_body(body))
    return Markup("").join(parts)


def _body(body: str) -> Markup:
    try:
        parsed = json.loads(body)
    except ValueError:
        return escape(body)
    if isinstance(parsed, dict) and isinstance(parsed.get("query"), str):
        # A GraphQL request: the query is what matters (volumeDelete lives there).
        rest = {k: v for k, v in parsed.items() if k != "query"}
        shown = _lex(parsed["query"], GraphQLLexer())
        if rest:
            shown += Markup("\n\n") + _lex(json.dumps(rest, indent=2, ensure_ascii=False),
                                           JsonLexer())
        return shown
    return _lex(json.dumps(parsed, indent=2, ensure_ascii=False), JsonLexer())


def content_html(content: Mapping[str, Any]) -> Markup:
    """The action's normalised content (`Action.content()`, redacted) as highlighted HTML."""
    kind = content.get("kind")
    if kind == "sql":
        lexer = _SQL_LEXERS.get(str(content.get("dialect")), SqlLexer)()
        return _lex(str(content.get("text", "")), lexer)
    if kind == "shell":
        return _lex(str(content.get("command", "")), BashLexer())
    if kind == "http":
        return _http(content)
    if kind == "mcp":
        head = Markup('<span class="t-method">{}</span>.<span class="t-url">{}</span>\n').format(
            str(content.get("server", "")), str(content.get("tool", "")))
        args = json.dumps(content.get("arguments"), indent=2, ensure_ascii=False)
        return head + _lex(args, JsonLexer())
    if kind in ("file_read", "file_write"):
        verb = "delete" if content.get("delete") else "write" if kind == "file_write" else "read"
        return Markup('<span class="t-method">{}</span> {}').format(verb,
                                                                    str(content.get("path", "")))
    return _lex(json.dumps(dict(content), indent=2, ensure_ascii=False), JsonLexer())

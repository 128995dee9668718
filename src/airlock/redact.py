"""Keep credentials out of audit records, logs and pages.

Agents put secrets in commands all the time (`PGPASSWORD=… psql`, `curl -H 'Authorization: …'`,
URLs with passwords). The audit log must record what was asked without becoming a second place
those secrets live. This is a best-effort text filter over known shapes; it errs toward hiding.

It runs on whatever an agent sends, on the daemon's threads, so its cost must not depend on how
hostile the text is: every pattern starts at a literal or a word boundary and uses possessive
quantifiers (no backtracking), and the one shape that needs context (`mysql … -pSECRET`) is
found segment by segment. Time is linear in the input, and the input is bounded: text over
`MAX_SHOWN` characters is cut (at a word boundary, so no half-secret is left at the cut) with a
note saying how much was left out. `bench/bench_redact.py` measures it against `str.replace`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
# What is shown of one text at most: the classifiers' own limit (a longer input is judged
# unknown without being parsed), so nothing airlock judged is hidden from the people reading.
MAX_SHOWN = 100 * 1024
_CUT_SLACK = 4096  # how far back from the cut a word boundary is looked for

_AUTH_HEADERS = r"authorization|proxy-authorization"
_KEY_HEADERS = (r"x-api-key|api-key|x-auth-token|cookie|set-cookie|private-token"
                r"|x-amz-security-token")
_SECRET_WORDS = ("password", "passwd", "secret", "token", "api_key", "apikey", "access_key",
                 "private_key", "credential", "signature")
_VALUE = r"'[^']*+'|\"[^\"]*+\"|[^\s;&|]++"

_PATTERNS = (
    # scheme://user:password@host — anchored at the literal "://"; neither part can run past a
    # '/', so attempts never rescan each other's text
    re.compile(r"(?P<pre>://[^/\s:@]*+:)(?P<secret>[^@\s/]++)(?P<post>@)"),
    # Authorization: Bearer xyz, and other credential headers
    re.compile(rf"(?i)(?P<pre>\b(?:{_AUTH_HEADERS})\s*+[:=]\s*+"
               r"(?:(?:bearer|basic|token|digest)\s++)?+)(?P<secret>[^\s'\"]++)"),
    re.compile(rf"(?i)(?P<pre>\b(?:{_KEY_HEADERS})\s*+[:=]\s*+)(?P<secret>[^\s'\"]++)"),
    # --password=x / --token x
    re.compile(rf"(?i)(?P<pre>--(?:password|token|secret|api-key|access-token)[= ])"
               rf"(?P<secret>{_VALUE})"),
    # airlock's own tokens
    re.compile(r"(?P<pre>alk_tok_[0-9a-z]{26}_)(?P<secret>[A-Za-z0-9_-]{43})"),
    # approver credentials (alk_apv_<name>_<secret>): everything after the prefix
    re.compile(r"(?P<pre>alk_apv_)(?P<secret>[A-Za-z0-9_.-]++)"),
)
# NAME=value: every assignment is found once (a word, then '='); only names that smell of
# credentials (PGPASSWORD, AWS_SECRET_ACCESS_KEY, api_key in a query string, …) lose the value.
_ASSIGNMENT = re.compile(r"(?<![\w-])[A-Za-z_][\w-]*+=")
_ASSIGNED_VALUE = re.compile(_VALUE)
# "password": "…" in JSON text (a request body, MCP arguments): the field's name decides
_JSON_FIELD = re.compile(r'(?P<pre>"(?P<name>[\w-]{1,64}+)"\s*+:\s*+")(?P<secret>(?:[^"\\]|\\.)*+)')
# mysql -pSECRET: within one command segment that runs mysql
_SEGMENT = re.compile(r"[^|;&\n]++")
_MYSQL = re.compile(r"\bmysql\b")
_MYSQL_PASSWORD = re.compile(r"(?P<pre>\s-p)(?P<secret>[^\s'\"]++)")


# Every pattern above needs one of these somewhere in its match (case aside); an ASCII text
# without any has nothing to hide, and looking for them is far cheaper than eight substitutions
# (the wire proxy redacts every statement it journals). A new pattern must add its trigger here.
_TRIGGERS = ("://", "authorization", "api-key", "api_key", "apikey", "access_key", "access-key",
             "private_key", "private-key", "token", "cookie", "passw", "secret", "credential",
             "signature", "mysql", "alk_")


def redact_text(text: str) -> str:
    text, note = _bounded(text)
    # ASCII only: the patterns ignore case the Unicode way ('ſ' matches 's'), lower() does not
    if text.isascii() and not any(trigger in text.lower() for trigger in _TRIGGERS):
        return text + note
    return _mask_all(text) + note


def _mask_all(text: str) -> str:
    """Every pattern applied, no pre-check (what redact_text must equal whatever it skips)."""
    for pattern in _PATTERNS:
        text = pattern.sub(_mask, text)
    text = _mask_assignments(text)
    text = _JSON_FIELD.sub(_mask_json_field, text)
    return _SEGMENT.sub(_mask_mysql, text)


def _bounded(text: str) -> tuple[str, str]:
    """The text cut to MAX_SHOWN characters at a word boundary, and the note that says so."""
    if len(text) <= MAX_SHOWN:
        return text, ""
    head = text[:MAX_SHOWN]
    space = max(head.rfind(" ", MAX_SHOWN - _CUT_SLACK), head.rfind("\n", MAX_SHOWN - _CUT_SLACK))
    head = head[:space] if space > 0 else head[:MAX_SHOWN - _CUT_SLACK]
    return head, f" … [{len(text) - len(head)} more characters not shown]"


def _mask(match: re.Match[str]) -> str:
    return f"{match.group('pre')}{MASK}{match.groupdict().get('post') or ''}"


def _mask_assignments(text: str) -> str:
    out: list[str] = []
    done = 0
    for match in _ASSIGNMENT.finditer(text):
        if match.start() < done or not _secret_name(match.group()[:-1]):
            continue
        value = _ASSIGNED_VALUE.match(text, match.end())
        if value is None:
            continue
        out.append(text[done:match.end()])
        out.append(MASK)
        done = value.end()
    out.append(text[done:])
    return "".join(out)


def _mask_json_field(match: re.Match[str]) -> str:
    return f"{match.group('pre')}{MASK}" if _secret_name(match.group("name")) else match.group()


def _secret_name(name: str) -> bool:
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in _SECRET_WORDS)


def _mask_mysql(match: re.Match[str]) -> str:
    segment = match.group()
    found = _MYSQL.search(segment)
    if found is None:
        return segment
    rest = _MYSQL_PASSWORD.sub(_mask, segment[found.end():])
    return segment[:found.end()] + rest


def redact(value: Any) -> Any:
    """Redact every string inside a JSON-like value; header-like keys lose their values."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: MASK if _secret_key(k) and isinstance(v, str) else redact(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and _secret_key(value[0]):
            return [value[0], MASK]
        return [redact(v) for v in value]
    return value


_SECRET_KEYS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key",
    "x-auth-token", "password", "token", "secret", "private-token", "x-amz-security-token"})
# Header names that carry or prove a credential beyond the list above: anything named like a
# secret, and AWS's signing headers (a replayed signature is a request signed with someone's key).
_CREDENTIAL_PARTS = ("authorization", "auth-", "-auth", "token", "secret", "password", "passwd",
                     "cookie", "session", "api-key", "apikey", "signature", "credential",
                     "private-key")


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and is_credential_header(key)


def is_credential_header(name: str) -> bool:
    """A header (or field) name whose value carries or proves a credential. Its value is masked
    wherever it is shown or recorded, and a stored call drops the header altogether (deferred
    calls run with airlock's own credential). It errs toward hiding: `max_tokens` is masked too."""
    lowered = name.strip().lower().replace("_", "-")
    return (lowered in _SECRET_KEYS or lowered.startswith("x-amz-")
            or any(part in lowered for part in _CREDENTIAL_PARTS))


def without_credentials(content: Mapping[str, Any]) -> dict[str, Any]:
    """An action's content fit to be stored and carried out later (a deferred call): credential
    headers are dropped, not masked — the stored call keeps no trace of the credential the agent
    used, and the front that runs it adds airlock's own — and every other string is redacted."""
    out = dict(content)
    headers = out.get("headers")
    if headers is not None:
        out["headers"] = [list(pair) for pair in headers if isinstance(headers, list | tuple)
                          and isinstance(pair, list | tuple) and len(pair) == 2
                          and all(isinstance(part, str) for part in pair)
                          and not is_credential_header(pair[0])]
    cleaned: dict[str, Any] = redact(out)
    return cleaned

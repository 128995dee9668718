"""Keep credentials out of audit records, logs and pages.

Agents put secrets in commands all the time (`PGPASSWORD=… psql`, `curl -H 'Authorization: …'`,
URLs with passwords). The audit log must record what was asked without becoming a second place
those secrets live. This is a best-effort text filter over known shapes; it errs toward hiding.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

_SCHEME = r"[a-zA-Z][a-zA-Z0-9+.-]*://"
_AUTH_HEADERS = r"authorization|proxy-authorization"
_KEY_HEADERS = (r"x-api-key|api-key|x-auth-token|cookie|set-cookie|private-token"
                r"|x-amz-security-token")
_SECRET_NAMES = r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|ACCESS_KEY|PRIVATE_KEY"  # noqa: S105
_VALUE = r"'[^']*'|\"[^\"]*\"|[^\s;&|]+"

_PATTERNS = (
    # scheme://user:password@host
    re.compile(rf"(?P<pre>{_SCHEME}[^/\s:@]*:)(?P<secret>[^@\s/]+)(?P<post>@)"),
    # Authorization: Bearer xyz, and other credential headers
    re.compile(rf"(?i)(?P<pre>\b(?:{_AUTH_HEADERS})\s*[:=]\s*(?:bearer|basic|token|digest)?\s*)"
               r"(?P<secret>[^\s'\"]+)"),
    re.compile(rf"(?i)(?P<pre>\b(?:{_KEY_HEADERS})\s*[:=]\s*)(?P<secret>[^\s'\"]+)"),
    # NAME=value for names that smell of credentials (PGPASSWORD, AWS_SECRET_ACCESS_KEY, …)
    re.compile(rf"(?i)(?P<pre>\b[A-Za-z_]*(?:{_SECRET_NAMES})[A-Za-z_]*=)(?P<secret>{_VALUE})"),
    # --password=x / --token x
    re.compile(rf"(?i)(?P<pre>--(?:password|token|secret|api-key|access-token)[= ])(?P<secret>{_VALUE})"),
    # mysql -pSECRET
    re.compile(r"(?P<pre>\bmysql\b[^|;&]*?\s-p)(?P<secret>[^\s'\"]+)"),
    # airlock's own tokens
    re.compile(r"(?P<pre>alk_tok_[0-9a-z]{26}_)(?P<secret>[A-Za-z0-9_-]{43})"),
    # approver credentials (alk_apv_<name>_<secret>): everything after the prefix
    re.compile(r"(?P<pre>alk_apv_)(?P<secret>[A-Za-z0-9_.-]+)"),
)


# Every pattern above needs one of these somewhere in its match (case aside); an ASCII text
# without any has nothing to hide, and looking for them is far cheaper than eight substitutions
# (the wire proxy redacts every statement it journals). A new pattern must add its trigger here.
_TRIGGERS = ("://", "authorization", "api-key", "api_key", "access_key", "private_key", "token",
             "cookie", "passw", "secret", "mysql", "alk_")


def redact_text(text: str) -> str:
    # ASCII only: the patterns ignore case the Unicode way ('ſ' matches 's'), lower() does not
    if text.isascii() and not any(trigger in text.lower() for trigger in _TRIGGERS):
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(_mask, text)
    return text


def _mask(match: re.Match[str]) -> str:
    return f"{match.group('pre')}{MASK}{match.groupdict().get('post') or ''}"


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


def _secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower().replace("_", "-")
    return lowered in {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                       "api-key", "x-auth-token", "password", "token", "secret", "private-token",
                       "x-amz-security-token"}

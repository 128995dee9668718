"""`[approvals]`: how long holds wait, the approvals key, the console, the webhooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from airlock.config.base import BuildContext, SecretSource, Strict, secret_or_plain
from airlock.errors import ConfigError
from airlock.secrets import Secret


class ConsoleFile(Strict):
    public_url: str | None = None  # where people open the console (links in notifications)
    session_idle: str = "30m"  # a console session ends after this long unused…
    session_max: str = "8h"  # …and after this long in any case


class WebhookFile(Strict):
    url: SecretSource | str  # Slack webhook URLs are secrets: prefer { env = "NAME" }
    format: Literal["slack", "json"] = "json"


class ApprovalsFile(Strict):
    ttl: str = "15m"  # how long a held action waits for its approvals
    use_window: str = "15m"  # how long an approved action may then be retried (once)
    key: SecretSource | None = None  # encrypts TOTP seeds, signs console sessions
    console: ConsoleFile = Field(default_factory=ConsoleFile)
    webhooks: list[WebhookFile] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Webhook:
    url: Secret
    format: str  # "slack" | "json"


@dataclass(frozen=True, slots=True)
class ApprovalSettings:
    """`[approvals]`: how long holds wait, the approvals key, the console, the webhooks."""

    ttl: timedelta = timedelta(minutes=15)
    use_window: timedelta = timedelta(minutes=15)
    key: Secret | None = None  # default: a key file in the state folder
    public_url: str | None = None  # default: the address `airlock up` listens on
    session_idle: timedelta = timedelta(minutes=30)
    session_max: timedelta = timedelta(hours=8)
    webhooks: tuple[Webhook, ...] = ()


def build_approvals(parsed: ApprovalsFile, ctx: BuildContext) -> ApprovalSettings:
    defaults = ApprovalSettings()
    # Bounds: a hold that waits days invites approving stale intent; seconds are unusable.
    ttl = ctx.duration(parsed.ttl, "approvals.ttl", least=timedelta(minutes=1),
                       most=timedelta(days=1), default=defaults.ttl)
    use_window = ctx.duration(parsed.use_window, "approvals.use_window",
                              least=timedelta(minutes=1), most=timedelta(days=1),
                              default=defaults.use_window)
    idle = ctx.duration(parsed.console.session_idle, "approvals.console.session_idle",
                        least=timedelta(minutes=1), most=timedelta(hours=24),
                        default=defaults.session_idle)
    most = ctx.duration(parsed.console.session_max, "approvals.console.session_max",
                        least=timedelta(minutes=1), most=timedelta(days=7),
                        default=defaults.session_max)
    key = ctx.secret(parsed.key, "approvals.key")
    public_url = parsed.console.public_url
    if public_url is not None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            ctx.fail("approvals.console.public_url", f"{public_url!r} is not an http(s) URL")
        public_url = public_url.rstrip("/")
    webhooks: list[Webhook] = []
    for index, hook in enumerate(parsed.webhooks):
        where = f"approvals.webhooks[{index}].url"
        try:
            url = secret_or_plain(hook.url, where, ctx.base)
        except ConfigError as exc:
            ctx.fail(where, exc.message)
            continue
        if urlsplit(url.reveal()).scheme not in ("http", "https"):
            ctx.fail(where, "a webhook URL must start with https:// (or http://)")
            continue
        webhooks.append(Webhook(url, hook.format))
    return ApprovalSettings(ttl=ttl, use_window=use_window, key=key, public_url=public_url,
                            session_idle=idle, session_max=most, webhooks=tuple(webhooks))

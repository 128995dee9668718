"""`[hooks]`: how the agent hooks (Claude Code, Cursor, Codex, Gemini) act."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from airlock.config.base import BuildContext, Strict
from airlock.model import PrincipalKind

MAX_HOOK_WAIT_SECONDS = 600  # harnesses kill hooks after minutes; a wait must end before that


class HooksFile(Strict):
    """`[hooks]`: how the agent hooks (Claude Code, Cursor, Codex, Gemini) act."""

    principal: str | None = None  # a declared agent principal; default: the built-in local agent
    wait_seconds: int = 0  # 0: answer a hold at once; N: wait up to N seconds for the approval
    ask_passthrough: bool = False  # Claude Code / Cursor show their own "ask" for holds (weaker)
    allow_credential_reads: list[str] = Field(default_factory=list)  # file names or path globs
    mcp_resources: dict[str, str] = Field(default_factory=dict)  # MCP server → resource
    # When airlock runs as its own OS user, the agent's user cannot enter the state folder:
    # serve the hooks socket elsewhere, to one group.
    socket: str | None = None  # default: <state_dir>/hooks.sock
    socket_group: str | None = None  # an OS group whose members may call the hooks


@dataclass(frozen=True, slots=True)
class HookSettings:
    """`[hooks]`: who the hooks act as, whether a hold waits, and which credential files agents
    may read. `allow_credential_reads` holds file names (`.env.test`) and absolute path globs
    (relative ones in the file are resolved against the configuration's folder)."""

    principal: str | None = None
    wait_seconds: int = 0
    ask_passthrough: bool = False
    allow_credential_reads: tuple[str, ...] = ()
    mcp_resources: Mapping[str, str] = field(default_factory=dict)
    socket: Path | None = None  # None: <state_dir>/hooks.sock
    socket_group: str | None = None


def build_hooks(parsed: HooksFile, ctx: BuildContext) -> HookSettings:
    principals, resources, base = ctx.principals, ctx.resources, ctx.base
    if parsed.principal is not None:
        principal = principals.get(parsed.principal)
        if principal is None:
            ctx.fail("hooks.principal", f"{parsed.principal!r} is not a declared principal "
                     f"(declared: {', '.join(sorted(principals)) or 'none'})")
        elif principal.kind is not PrincipalKind.AGENT:
            ctx.fail("hooks.principal", f"{parsed.principal!r} is a {principal.kind.value}; "
                     "hooks act for the agent, so name an agent principal")
    if not 0 <= parsed.wait_seconds <= MAX_HOOK_WAIT_SECONDS:
        ctx.fail("hooks.wait_seconds", f"{parsed.wait_seconds} is outside "
                 f"0..{MAX_HOOK_WAIT_SECONDS} (agent harnesses give up on a hook after minutes)")
    allowed: list[str] = []
    for index, pattern in enumerate(parsed.allow_credential_reads):
        if not pattern.strip():
            ctx.fail(f"hooks.allow_credential_reads[{index}]", "an empty pattern allows nothing")
            continue
        if "/" not in pattern:
            allowed.append(pattern)  # a file name (glob), matched against the base name
            continue
        full = Path(pattern).expanduser()
        allowed.append(os.path.normpath(full if full.is_absolute() else base / full))
    for server, resource in parsed.mcp_resources.items():
        if resource not in resources:
            ctx.fail(f"hooks.mcp_resources.{server}", f"names {resource!r}, which is not a "
                     "declared resource")
    socket = None
    if parsed.socket is not None:
        socket = Path(parsed.socket).expanduser()
        socket = Path(os.path.normpath(socket if socket.is_absolute() else base / socket))
    if parsed.socket_group is not None:
        import grp

        try:
            grp.getgrnam(parsed.socket_group)
        except KeyError:
            ctx.fail("hooks.socket_group",
                     f"there is no OS group {parsed.socket_group!r} on this machine")
        if parsed.socket is None:
            ctx.fail("hooks.socket_group", "also set hooks.socket: the agent's user cannot reach "
                     "a socket inside airlock's private state folder")
    return HookSettings(principal=parsed.principal, wait_seconds=parsed.wait_seconds,
                        ask_passthrough=parsed.ask_passthrough,
                        allow_credential_reads=tuple(allowed),
                        mcp_resources=dict(parsed.mcp_resources), socket=socket,
                        socket_group=parsed.socket_group)

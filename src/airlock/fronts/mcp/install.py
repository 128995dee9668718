"""The MCP servers a harness already has, put behind `airlock mcp wrap` — and back, exactly.

    harness  user file            project file (under --dir)   key
    claude   ~/.claude.json       .mcp.json                    mcpServers
    cursor   ~/.cursor/mcp.json   .cursor/mcp.json             mcpServers
    gemini   ~/.gemini/settings.json  .gemini/settings.json    mcpServers
    codex    ~/.codex/config.toml (TOML: listed as not handled; wrap by hand)

A stdio server (`command`, optional `args`) is wrapped in place: `command` becomes this Python,
`args` becomes `-m airlock [--config F] mcp wrap --state-dir S --name NAME -- <command> <args…>`,
and every other key (env, cwd, type, …) stays as it was, where it was. Servers reached by URL are
listed and left alone (the wrap relays stdio only). Unwrapping reads the original back from the
wrapped entry itself — the command and arguments after `--`, and `--args-key-absent` when the
original had no `args` — so nothing is kept anywhere else, and install then uninstall gives the
file back byte for byte (its indentation, key order and final newline are kept).

An agent that can write these files can also unwrap its servers: this guards the harness's own
use of its servers, not a user who edits the configuration (docs/architecture.md, MCP).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airlock.config import Config
from airlock.errors import InputError
from airlock.files import replace_atomically

__all__ = ["ARGS_ABSENT", "MCP_FILES", "Survey", "is_wrapped", "mcp_settings_path", "survey",
           "unwrap_all", "wrap_command", "wrap_servers"]

MCP_FILES: dict[str, tuple[str, str]] = {
    "claude": (".claude.json", ".mcp.json"),
    "cursor": (".cursor/mcp.json", ".cursor/mcp.json"),
    "gemini": (".gemini/settings.json", ".gemini/settings.json"),
}
NOT_HANDLED = {"codex": "Codex keeps its MCP servers in ~/.codex/config.toml; wrap one by hand: "
                        "command = the airlock command below, args = [..., \"--\", <its command>]"}
ARGS_ABSENT = "--args-key-absent"
_MARK = ("-m", "airlock")


@dataclass(frozen=True, slots=True)
class Survey:
    path: Path
    wrappable: tuple[str, ...]  # stdio servers not yet wrapped
    wrapped: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (name, why it is left alone)


def mcp_settings_path(harness: str, *, project: Path | None, home: Path | None = None
                      ) -> Path | None:
    files = MCP_FILES.get(harness)
    if files is None:
        return None
    return project / files[1] if project is not None else (home or Path.home()) / files[0]


def wrap_command(config: Config, python: str | None = None) -> list[str]:
    """The command and first arguments every wrapped server gets (all paths absolute; the
    configuration is named, never looked up in the agent's working directory)."""
    command = [python or sys.executable, *_MARK]
    if config.path is not None:
        command += ["--config", str(config.path.resolve())]
    return [*command, "mcp", "wrap", "--state-dir", str(config.state_dir)]


def is_wrapped(entry: Any) -> bool:
    args = entry.get("args") if isinstance(entry, Mapping) else None
    return isinstance(args, list) and tuple(args[:2]) == _MARK and "--" in args and \
        "wrap" in args[:args.index("--")]


def survey(path: Path) -> Survey:
    servers = _servers(_read(path)[0])
    wrappable, wrapped, skipped = [], [], []
    for name, entry in servers.items():
        if is_wrapped(entry):
            wrapped.append(name)
        elif why := _not_stdio(entry):
            skipped.append((name, why))
        else:
            wrappable.append(name)
    return Survey(path, tuple(wrappable), tuple(wrapped), tuple(skipped))


def wrap_servers(path: Path, names: list[str], command: list[str]) -> list[str]:
    """Wrap these servers in `path`; returns the ones changed."""
    data, text = _read(path)
    servers = _servers(data)
    changed = []
    for name in names:
        entry = servers.get(name)
        if not isinstance(entry, dict) or is_wrapped(entry) or _not_stdio(entry):
            continue
        original = [entry["command"], *entry.get("args", [])]
        absent = [ARGS_ABSENT] if "args" not in entry else []
        entry["command"] = command[0]
        entry["args"] = [*command[1:], "--name", name, *absent, "--", *original]
        changed.append(name)
    if changed:
        _write(path, data, text)
    return changed


def unwrap_all(path: Path) -> list[str]:
    """Put back every wrapped server in `path` exactly as it was; returns their names."""
    if not path.exists():
        return []
    data, text = _read(path)
    changed = []
    for name, entry in _servers(data).items():
        if not is_wrapped(entry):
            continue
        args = entry["args"]
        split = args.index("--")
        original = args[split + 1:]
        if not original:
            raise InputError(f"{path}: the wrapped MCP server {name!r} names no command after "
                             "`--`; fix it by hand")
        entry["command"] = original[0]
        if ARGS_ABSENT in args[:split]:
            del entry["args"]
        else:
            entry["args"] = original[1:]
        changed.append(name)
    if changed:
        _write(path, data, text)
    return changed


# ----------------------------------------------------------------------------------------------


def _not_stdio(entry: Any) -> str:
    if not isinstance(entry, Mapping):
        return "not an object"
    if any(k in entry for k in ("url", "httpUrl", "serverUrl")) or \
            entry.get("type") not in (None, "stdio"):
        return "reached over the network, not stdio: put airlock in front of what it calls"
    if not isinstance(entry.get("command"), str) or not entry["command"]:
        return "has no command"
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return "its args are not a list of strings"
    return ""


def _servers(data: dict[str, Any]) -> dict[str, Any]:
    servers = data.get("mcpServers", {})
    if not isinstance(servers, dict):
        raise InputError("`mcpServers` is not a JSON object; fix it by hand first")
    return servers


def _read(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, ""
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise InputError(f"{path} is not valid JSON ({exc}); airlock does not change it") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} does not hold a JSON object; airlock does not change it")
    return data, text


def _style(text: str) -> tuple[int | str, bool, bool]:
    """The file's indentation, whether it ends with a newline, whether it escapes non-ASCII."""
    match = re.search(r"\n([ \t]+)\S", text)
    indent: int | str = 2
    if match:
        indent = match.group(1) if "\t" in match.group(1) else len(match.group(1))
    return indent, text.endswith("\n") or not text, text.isascii() and "\\u" in text


def _write(path: Path, data: Mapping[str, Any], original: str) -> None:
    """Atomically, in the file's own style, keeping its permissions."""
    indent, newline, ascii_only = _style(original)
    text = json.dumps(data, indent=indent, ensure_ascii=ascii_only) + ("\n" if newline else "")
    replace_atomically(path, text.encode("utf-8"), suffix=".airlock")

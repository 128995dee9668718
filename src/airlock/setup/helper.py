"""Work done as another user: inside a developer's home *as that developer*, and reading
airlock's state as airlock's user.

    python -I -m airlock.setup.helper      (JSON request on stdin, JSON answer on stdout)

Root starts this with the developer's uid, gid and groups (`system.run_as`) from the root-owned
install, so nothing root does follows a link the agent planted; when the caller already is the
developer (trial mode, `airlock doctor` run by the developer) the same functions run in-process.

    op              request                                   answer
    install-hook    harness, path, command, timeout           changed
    uninstall-hook  harness, path                             changed
    hook-settings   paths                                     {path: settings or error}
    scan            roots, home                               findings (secrets included: the
                                                              pipe goes to root only)
    read            path                                      content (base64), sha256
    rewrite         path, sha256, edits | remove              sha256 of what was left ("" removed)
    restore         path, content (base64), expect_sha256     restored (false: the file changed)
    doctor-state    config                                    tokens, approvers, snapshots, drills
                                                              (run as airlock's user, doctor/state.py)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from airlock.errors import AirlockError, SetupError
from airlock.setup.system import OsUser, run_as


def handle(request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "install-hook":
        from airlock.fronts.hooks import install as installer

        path = Path(request["path"])
        before = installer.read_settings(path)
        after = installer.merged(before, request["harness"], request["command"],
                                 int(request["timeout"]))
        if after != before:
            installer.write_settings(path, after)
        return {"changed": after != before}
    if op == "uninstall-hook":
        from airlock.fronts.hooks import install as installer

        return {"changed": installer.uninstall(request["harness"], Path(request["path"]))}
    if op == "hook-settings":
        from airlock.fronts.hooks import install as installer

        found: dict[str, Any] = {}
        for path in request["paths"]:
            try:
                found[path] = {"settings": installer.read_settings(Path(path)),
                               "exists": Path(path).exists()}
            except AirlockError as exc:
                found[path] = {"error": exc.message, "exists": True}
        return {"settings": found}
    if op == "scan":
        from airlock.credentials.scan import scan

        result = scan([Path(r) for r in request["roots"]], home=Path(request["home"]))
        return result.to_json(with_secrets=True)
    if op == "read":
        from airlock.credentials.custody import read_file

        data = read_file(Path(request["path"]))
        return {"content": encode(data), "sha256": sha256_of(data)}
    if op == "rewrite":
        from airlock.credentials.custody import rewrite_file

        return {"sha256": rewrite_file(Path(request["path"]), request["sha256"],
                                       request.get("edits", []), remove=request.get("remove", False))}
    if op == "restore":
        from airlock.credentials.custody import restore_file

        return {"restored": restore_file(Path(request["path"]),
                                         base64.b64decode(request["content"]),
                                         request["expect_sha256"])}
    if op == "doctor-state":
        from airlock.doctor.state import read_state

        return read_state(request["config"])
    raise SetupError(f"unknown helper operation {op!r}")


def run_helper(user: OsUser, python: Path | None, request: dict[str, Any]) -> dict[str, Any]:
    """`handle(request)` as `user`: in-process when we already are that user, else in a child
    process of the root-owned install's interpreter with the user's identity."""
    if os.geteuid() == user.uid:
        return handle(request)
    if python is None or not python.exists():
        raise SetupError(f"acting as {user.name} needs airlock's installed interpreter, and "
                         "there is none yet", hint="run `airlock setup` (without --dry-run)")
    proc = run_as(user, [str(python), "-I", "-m", "airlock.setup.helper"],
                  input=json.dumps(request).encode())
    try:
        answer: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise SetupError(f"acting as {user.name} failed (exit {proc.returncode}): "
                         + " / ".join(tail)) from None
    if "error" in answer:
        raise SetupError(f"as {user.name}: {answer['error']}")
    return answer


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def main() -> int:
    try:
        request = json.loads(sys.stdin.buffer.read())
        answer = handle(request)
    except AirlockError as exc:
        answer = {"error": exc.message}
    except Exception as exc:  # reported to root as a failed step, never a traceback
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())

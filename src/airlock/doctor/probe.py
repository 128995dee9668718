"""Can this user read, write or replace a path? Tried for real, not worked out from mode bits.

`airlock doctor` runs this file's source as the agent's user (`python3 -I -S -c <source>`, so it
needs nothing but the standard library and no file the user might not be able to read), with a
JSON list of probes on stdin, and reads the results from stdout:

    test      the user can …                             tried by
    read      read a file, or list a folder               open(O_RDONLY) / listdir
    write     change a file in place                      open(O_WRONLY), no truncation, nothing
                                                          written
    create    add an entry to a folder (a rival socket,   creating and removing a uniquely named
              a planted module)                           empty file
    replace   remove or rename the entry, putting          `create` in its folder, and not stopped
              something else in its place                  by that folder's sticky bit
    connect   talk to a Unix socket                        connect(), then close at once

Nothing is left behind: a write opens without writing, a create removes what it made.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from typing import Any


def probe(path: str, test: str) -> dict[str, Any]:
    try:
        if test == "read":
            if os.path.isdir(path):
                os.listdir(path)
            else:
                os.close(os.open(path, os.O_RDONLY | os.O_NOFOLLOW))
        elif test == "write":
            if os.path.isdir(path):
                return probe(path, "create")
            os.close(os.open(path, os.O_WRONLY | os.O_NOFOLLOW))
        elif test == "create":
            name = os.path.join(path, f".airlock-doctor-{os.getpid()}-{id(path)}")
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(name)
        elif test == "replace":
            parent = os.path.dirname(path.rstrip("/")) or "/"
            result = probe(parent, "create")
            if not result["ok"]:
                return {**result, "path": path, "test": test}
            info, folder = os.lstat(path), os.stat(parent)
            if folder.st_mode & stat.S_ISVTX and os.getuid() not in (info.st_uid, folder.st_uid):
                return {"path": path, "test": test, "ok": False,
                        "error": f"{parent} is sticky: only the entry's owner may replace it"}
        elif test == "connect":
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                conn.settimeout(2)
                conn.connect(path)
            finally:
                conn.close()
        else:
            return {"path": path, "test": test, "ok": False, "error": "unknown test"}
    except OSError as exc:
        return {"path": path, "test": test, "ok": False,
                "error": f"{os.strerror(exc.errno) if exc.errno else exc}"}
    return {"path": path, "test": test, "ok": True, "error": ""}


def main() -> None:
    probes = json.loads(sys.stdin.read())
    sys.stdout.write(json.dumps([probe(p["path"], p["test"]) for p in probes]))


if __name__ == "__main__":
    main()

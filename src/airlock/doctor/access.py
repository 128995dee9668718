"""Can the agent's OS user read or change what airlock depends on? Tried as that user, path by
path (`probe.py`), never inferred from mode bits.

    category      the agent must not …                         paths
    state         read or add to airlock's state               the state folder, its database
    keys          read a key                                   audit.key, approvals.key, vault.key
    credentials   read a credential airlock holds              the store, every { file = … } the
                                                               configuration names, recovered/
    config        change the configuration                     airlock.toml (write, replace), its
                                                               folder (add a file)
    vault         read or add to the backups                   the local vault folder
    socket        replace the hooks socket                     the socket, its folder
    code          change the code airlock runs                 the installed package, its venv,
                                                               the hook client, `airlock`, the unit

"Replace" is checked up the whole path: whoever may rename any folder above a file may put
another in its place.
"""

from __future__ import annotations

import os
from pathlib import Path

import airlock
from airlock.doctor.context import Doctor
from airlock.doctor.report import Finding, Severity
from airlock.setup.system import OsUser

FIXES = {
    "state": "airlock's state must be readable by airlock's own user only: `sudo airlock setup` "
             "moves airlock to its own user and repairs the folder",
    "keys": "keys must be airlock's own user's alone (0600 in a 0700 folder): `sudo airlock "
            "setup` repairs them; then replace the keys the agent could read",
    "credentials": "credentials airlock holds must be its own user's alone: `sudo airlock setup` "
                   "repairs the store; rotate any credential the agent could read",
    "config": "the configuration must be root's and writable by root only: `sudo chown root:root "
              "FILE && sudo chmod 644 FILE` (its folder root's, 0755), or `sudo airlock setup`",
    "vault": "the vault must be airlock's own user's alone: `sudo airlock setup`, or point "
             "[vault] path at a folder only airlock's user can reach",
    "socket": "the socket's folder must be airlock's (0710, the agents' group may only enter): "
              "re-run `sudo airlock setup`",
    "code": "run airlock from code the agent cannot change: `sudo airlock setup` installs it, "
            "root-owned, in /opt/airlock/venv and points the service and the hooks at it",
}
TITLES = {
    "state": "can read or add to airlock's state",
    "keys": "can read airlock's keys (audit, approvals, vault)",
    "credentials": "can read credentials airlock holds for it",
    "config": "can change airlock's configuration",
    "vault": "can read or change airlock's backups",
    "socket": "can replace airlock's hooks socket (and answer its own hook calls)",
    "code": "can change the code airlock runs",
}


def expectations(doc: Doctor) -> list[tuple[str, Path, str]]:
    """(category, path, test): what the agent must not be able to do."""
    state = doc.state_dir
    wanted: list[tuple[str, Path, str]] = [
        ("state", state, "read"), ("state", state, "create"), ("state", state / "state.db", "read"),
        ("state", state / "state.db", "write"),
        ("keys", state / "audit.key", "read"), ("keys", state / "approvals.key", "read"),
        ("keys", state / "vault.key", "read"),
        ("credentials", state / "credentials", "read"), ("credentials", state / "recovered", "read"),
    ]
    wanted += [("credentials", path, "read") for path in doc.secret_files()]
    if doc.config_path is not None:
        config = doc.config_path.resolve()
        wanted += [("config", config, "write"), ("config", config.parent, "create")]
        wanted += [("config", p, "replace") for p in _chain(config)]
    vault = doc.vault_path
    if vault is not None:
        wanted += [("vault", vault, "read"), ("vault", vault, "create")]
    socket = doc.socket_path
    wanted += [("socket", socket.parent, "create")]
    wanted += [("socket", p, "replace") for p in _chain(socket)]
    for code in _code_paths(doc):
        wanted += [("code", code, "write")]
        wanted += [("code", p, "replace") for p in _chain(code)]
    return wanted


def _chain(path: Path) -> list[Path]:
    """The path and every folder above it (not /), deepest first."""
    return [p for p in [path, *path.parents] if p != Path("/")]


def _code_paths(doc: Doctor) -> list[Path]:
    """What `airlock up` runs: the setup's install, else the package this doctor runs from (in
    trial mode that is the one `airlock up` runs too)."""
    lay = doc.layout
    if doc.record is not None and lay.venv.exists():
        package = sorted(lay.venv.glob("lib/python3*/site-packages/airlock"))
        paths = [lay.venv, lay.venv / "bin", *package]
        paths += [p / "hookclient.py" for p in package] + [p / "cli" for p in package]
        paths += [x for x in (lay.wrapper_path, lay.unit_path) if x.exists()]
        return paths
    running = Path(airlock.__file__).resolve().parent
    return [running, running / "hookclient.py", running / "cli"]


def check_access(doc: Doctor) -> list[Finding]:
    findings: list[Finding] = []
    wanted = [(c, p, t) for c, p, t in expectations(doc) if os.path.lexists(p)]
    seen: set[tuple[str, str]] = set()
    unique = []
    for c, p, t in wanted:
        if (str(p), t) not in seen:
            seen.add((str(p), t))
            unique.append((c, p, t))
    for agent in doc.agents:
        owner = doc.state_owner
        if owner is not None and owner.uid == agent.uid:
            findings.append(Finding(
                "access.same-user", Severity.CRITICAL,
                f"airlock's state belongs to {agent.name}, the agent's own user: this is trial "
                "mode, and the agent can change anything airlock keeps",
                (f"{doc.state_dir} is owned by {agent.name}",),
                f"`sudo airlock setup --developer {agent.name}` runs airlock as its own user"))
        findings += _probe(doc, agent, unique)
    return findings + _workspaces(doc)


def _workspaces(doc: Doctor) -> list[Finding]:
    """The other direction: airlock's own user must read the projects agents work in, or the
    scripts they run there cannot be judged (and are held)."""
    owner = doc.state_owner
    if owner is None or any(owner.uid == a.uid for a in doc.agents) or not doc.workspaces:
        return []
    results = doc.probe(owner, [(w, "read") for w in doc.workspaces])
    blind = [f"{owner.name} cannot read {r['path']}: {r['error']}" for r in results if not r["ok"]]
    if not blind:
        return []
    return [Finding("access.workspace", Severity.WARNING,
                    f"airlock's user ({owner.name}) cannot read a workspace: scripts the agents "
                    "run there cannot be judged, so they are held", tuple(blind),
                    workspace_fix(owner.name))]


def workspace_fix(user: str) -> str:
    return (f"let {user} read the projects, as the developer: `setfacl -m u:{user}:x ~ && "
            f"setfacl -R -m u:{user}:rX,d:u:{user}:rX WORKSPACE` (Debian: apt install acl), "
            "or share them through a group it is in")

def _probe(doc: Doctor, agent: OsUser, wanted: list[tuple[str, Path, str]]) -> list[Finding]:
    results = doc.probe(agent, [(p, t) for _, p, t in wanted])
    allowed: dict[str, list[str]] = {}
    for (category, path, test), result in zip(wanted, results, strict=True):
        if result["ok"]:
            allowed.setdefault(category, []).append(f"{agent.name} can {test} {path}")
    return [Finding(f"access.{category}", Severity.CRITICAL,
                    f"the agent's user ({agent.name}) {TITLES[category]}",
                    tuple(evidence), FIXES[category])
            for category, evidence in allowed.items()]

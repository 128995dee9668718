"""Targets: what an action touches, in the shapes the gate resolves.

    path                 local path as written              contextual (this machine)
    postgres             host:port/dbname (5432)            "localhost" when no host, "?" unknown
    mysql | redis | mongodb   same shape (3306, 6379 + db number, 27017)
    url                  the URL
    k8s:context, k8s:namespace, k8s:<kind> (ns/name)
    aws:profile, aws:region, aws:<service>:<resource>
    railway:volume | project | service | environment
    git:remote, docker:volume (contextual), ssh:host, env (a variable whose value names the target)

Everything that names an external system is non-contextual: unresolved, it counts as production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from airlock.classify.shell import paths
from airlock.classify.shell.words import Word
from airlock.model import Target

if TYPE_CHECKING:
    from airlock.classify.shell.argv import Args


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """How a rule pack names what a rule acts on (`targets = [{ kind, from, transform }]`)."""

    kind: str
    # Tried in order, the first that yields a value wins: "args", "arg1", "arg2", ..., "last",
    # "flag:--a|-b", "env:NAME", "value:TEXT".
    sources: tuple[str, ...]
    transform: str | None = None  # a name in TRANSFORMS
    contextual: bool | None = False  # None ("auto"): contextual unless the value is a URL
    default: str | None = None


DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "redis": 6379, "mongodb": 27017}
_SCHEMES = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql",
            "mariadb": "mysql", "redis": "redis", "rediss": "redis", "mongodb": "mongodb",
            "mongodb+srv": "mongodb"}


def database(kind: str, host: str | None, port: str | int | None, name: str | None) -> Target:
    """A database target: lowercase host ("localhost" when none given), default port."""
    host_part = (host or "localhost").lower()
    if host_part.startswith("/"):  # a Unix socket directory is the local server
        host_part = "localhost"
    port_part = str(port) if port not in (None, "") else str(DEFAULT_PORTS[kind])
    return Target(kind, f"{host_part}:{port_part}/{name or '?'}")


def database_url(url: str) -> Target | None:
    """postgres://user:pw@host:port/db?x → Target("postgres", "host:port/db"), and friends."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    kind = _SCHEMES.get(scheme)
    if kind is None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return Target(kind, "?:?/?")
    if "," in (parts.netloc or ""):  # several hosts (mongodb replica sets): name the first
        host = parts.netloc.rsplit("@", 1)[-1].split(",")[0].split(":")[0] or None
        port = None
    name = unquote(parts.path.lstrip("/")) or None
    if kind == "redis" and name is None:
        name = "0"
    if kind == "postgres" and name is None:
        name = parts.username
    return database(kind, host, port, name)


def conninfo(text: str) -> dict[str, str]:
    """libpq `key=value key='quoted value'` connection strings."""
    result: dict[str, str] = {}
    i = 0
    n = len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        start = i
        while i < n and text[i] not in "= \t":
            i += 1
        key = text[start:i].strip()
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] != "=":
            break
        i += 1
        while i < n and text[i].isspace():
            i += 1
        value: list[str] = []
        if i < n and text[i] == "'":
            i += 1
            while i < n and text[i] != "'":
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(text[i])
                i += 1
            i += 1
        else:
            while i < n and not text[i].isspace():
                value.append(text[i])
                i += 1
        if key:
            result[key] = "".join(value)
    return result


# --------------------------------------------------------------------------------------------
# Transforms named by rule packs


def _s3_bucket(value: str) -> str | None:
    if value.startswith("s3://"):
        return value[5:].split("/", 1)[0] or None
    return None


def _gs_bucket(value: str) -> str | None:
    if value.startswith("gs://"):
        return value[5:].split("/", 1)[0] or None
    return None


def _remote_host(value: str) -> str | None:
    return paths.remote_host(Word.literal(value))


def _rclone_remote(value: str) -> str | None:
    head, sep, rest = value.partition(":")
    if not sep or "/" in head or value.startswith(("/", ".")):
        return None
    return f"{head}:{rest.split('/', 1)[0]}" if rest else f"{head}:"


def _db_url(value: str) -> str | None:
    target = database_url(value)
    return target.value if target else None


def _arn_or_url_name(value: str) -> str | None:
    return value.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] or None


def _lower(value: str) -> str | None:
    return value.lower()


def _no_flag(value: str) -> str | None:
    return None if value.startswith("-") else value


def _local(value: str) -> str | None:
    return None if paths.remote_host(Word.literal(value)) else value


TRANSFORMS: dict[str, Callable[[str], str | None]] = {
    "s3-bucket": _s3_bucket,
    "gs-bucket": _gs_bucket,
    "remote-host": _remote_host,
    "rclone-remote": _rclone_remote,
    "db-url": _db_url,
    "last-segment": _arn_or_url_name,
    "lower": _lower,
    "no-flag": _no_flag,
    "local": _local,
    # "kv:KEY" keeps the value of KEY=value words (dd of=/dev/sda).
    "kv": lambda value: value,
    # "k8s" turns `TYPE NAME...` or `TYPE/NAME` into objects (see kubernetes_objects).
    "k8s": lambda value: value,
}


def extract(specs: Iterable[TargetSpec], args: Args, rest: Sequence[Word],
            env: Mapping[str, str | None], after_verb: Sequence[Word] = ()) -> list[Target]:
    """The targets named by `specs`. `rest` are the positionals after the rule's path,
    `after_verb` those after the first subcommand (kubectl's `TYPE NAME…`)."""
    found: dict[Target, None] = {}
    for spec in specs:
        if spec.transform == "k8s":
            for target in kubernetes_objects(after_verb, args):
                found[target] = None
            continue
        produced = False
        for source in spec.sources:
            for raw in _source_values(source, args, rest, env):
                value = _transform(spec.transform, raw)
                if value:
                    found[Target(spec.kind, value, _contextual(spec.contextual, value))] = None
                    produced = True
            if produced:
                break
        if not produced and spec.default is not None:
            found[Target(spec.kind, spec.default,
                         _contextual(spec.contextual, spec.default))] = None
    return list(found)


def _contextual(declared: bool | None, value: str) -> bool:
    """"auto": a name (git's `origin`) is resolved by the checkout the command runs in, so it
    lives in the command's context; a URL (`https://…`, `git@host:repo`) names a system on
    its own."""
    if declared is not None:
        return declared
    return not ("://" in value or "@" in value or ":" in value)


def _source_values(source: str, args: Args, rest: Sequence[Word],
                   env: Mapping[str, str | None]) -> list[str]:
    if source == "args":
        return [w.display for w in rest]
    if source == "last":
        return [rest[-1].display] if rest else []
    if source.startswith("arg") and source[3:].isdigit():
        index = int(source[3:]) - 1
        return [rest[index].display] if index < len(rest) else []
    if source.startswith("flag:"):
        names = frozenset(source[5:].split("|"))
        return [w.display for w in args.values(names)]
    if source.startswith("env:"):
        value = env.get(source[4:])
        return [value] if value else []
    if source.startswith("value:"):
        return [source[6:]]
    return []


def _transform(name: str | None, raw: str) -> str | None:
    if name is None:
        return raw
    if name.startswith("kv:"):
        key = name[3:] + "="
        return raw[len(key):] if raw.startswith(key) else None
    return TRANSFORMS[name](raw)


_K8S_ALIASES = {"ns": "namespace", "namespaces": "namespace", "po": "pod", "pods": "pod",
                "svc": "service", "services": "service", "deploy": "deployment",
                "deployments": "deployment", "pv": "persistentvolume",
                "persistentvolumes": "persistentvolume", "pvc": "persistentvolumeclaim",
                "persistentvolumeclaims": "persistentvolumeclaim", "sts": "statefulset",
                "statefulsets": "statefulset", "cm": "configmap", "configmaps": "configmap",
                "secrets": "secret", "crd": "customresourcedefinition",
                "crds": "customresourcedefinition", "ds": "daemonset", "daemonsets": "daemonset",
                "rs": "replicaset", "replicasets": "replicaset", "jobs": "job",
                "cronjobs": "cronjob", "cj": "cronjob", "ing": "ingress", "ingresses": "ingress",
                "no": "node", "nodes": "node", "sa": "serviceaccount"}


def k8s_kind(name: str) -> str:
    base = name.lower().split(".", 1)[0]
    return _K8S_ALIASES.get(base, base)


def kubernetes_objects(rest: Sequence[Word], args: Args) -> list[Target]:
    """`pod web-1 web-2`, `pod/web-1 svc/web`, `namespace prod` → k8s targets."""
    namespace_words = args.values(frozenset({"-n", "--namespace"}))
    namespace = namespace_words[-1].display if namespace_words else "?"
    if args.has(frozenset({"-A", "--all-namespaces"})):
        namespace = "*"
    words = [w.display for w in rest]
    found: list[Target] = []
    if not words:
        return found
    if "/" in words[0]:
        for text in words:
            kind, _, name = text.partition("/")
            found.append(_k8s_object(k8s_kind(kind), name, namespace))
        return found
    kinds = [k8s_kind(k) for k in words[0].split(",")]
    names = words[1:] or (["*"] if args.has(frozenset({"--all"})) else [])
    for kind in kinds:
        for name in names:
            found.append(_k8s_object(kind, name, namespace))
    return found


def _k8s_object(kind: str, name: str, namespace: str) -> Target:
    if kind == "namespace":
        return Target("k8s:namespace", name)
    if kind in ("node", "persistentvolume", "customresourcedefinition", "clusterrole",
                "clusterrolebinding", "storageclass"):
        return Target(f"k8s:{kind}", name)
    return Target(f"k8s:{kind}", f"{namespace}/{name}")

"""`[fronts.apiproxy]`: where the API proxy listens, and what it knows per api resource.

    [fronts.apiproxy]
    listen = "127.0.0.1:8378"        # every api resource at http://127.0.0.1:8378/<resource>/
                                     #   (port 0: any free port, for tests)
    public_url = "http://airlock.internal:8378"   # what `airlock endpoints` prints (optional)
    max_body_mb = 64                 # larger request bodies are refused (413)
    max_decoded_mb = 512             # a compressed answer decoding to more is refused: a 502
                                     #   before its head, a cut connection after it
    max_decode_ratio = 1000          # so is one decoding to more than 1000x its size (past
                                     #   1 MiB): a decompression bomb
    max_upstream_connections = 64    # open connections per upstream host; more calls wait
    verdict_ttl = "60s"              # an allowed read's verdict is reused this long for the same
                                     #   read by the same token (airlock/verdicts.py); "0s": off

    [fronts.apiproxy.resources.aws-staging]
    one_environment = true           # an account (or cluster) of one environment: what it names
                                     #   lives in the resource's environment unless a configured
                                     #   resource claims it
    [fronts.apiproxy.resources.railway]
    railway_projects = ["<project id>"]                  # look ids up there (read-only, cached)
    railway_environments = { production = "production", staging = "staging" }
    lookup_ttl = "5m"

Without `one_environment` (the default), a target nothing claims has no known environment and
counts as production: one Railway or Kubernetes token reaches every environment, which is the
incident this exists for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import Field

from airlock.config import BuildContext, FrontSection, Strict

__all__ = ["SECTION", "ApiProxySettings", "ProxiedResource"]

DEFAULT_LISTEN = "127.0.0.1:8378"


class ProxiedResourceFile(Strict):
    one_environment: bool = False
    railway_projects: list[str] = Field(default_factory=list)
    railway_environments: dict[str, str] = Field(default_factory=dict)
    lookup_ttl: str = "5m"


class ApiProxyFile(Strict):
    enabled: bool = True
    listen: str = DEFAULT_LISTEN
    public_url: str | None = None
    max_body_mb: int = 64
    max_decoded_mb: int = 512
    max_decode_ratio: int = 1000
    max_upstream_connections: int = 64
    verdict_ttl: str = "60s"
    resources: dict[str, ProxiedResourceFile] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProxiedResource:
    one_environment: bool = False
    railway_projects: tuple[str, ...] = ()
    # Railway environment (name or id) → airlock environment; unnamed ones map by equal name
    railway_environments: Mapping[str, str] = field(default_factory=dict)
    lookup_ttl: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ApiProxySettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8378
    public_url: str | None = None  # None: http://host:port
    max_body: int = 64 * 1024 * 1024
    resources: Mapping[str, ProxiedResource] = field(default_factory=dict)
    verdict_ttl: timedelta = timedelta(seconds=60)  # zero: every call is judged afresh
    max_decoded: int = 512 * 1024 * 1024  # a decoded answer's size limit (wire.BodyDecoder)
    max_decode_ratio: int = 1000
    max_upstream_connections: int = 64  # per upstream host (upstream/client.py)

    def of(self, resource: str) -> ProxiedResource:
        return self.resources.get(resource, ProxiedResource())

    def endpoint(self, resource: str) -> str:
        """The local URL agents use for an api resource."""
        base = self.public_url or f"http://{_bracketed(self.host)}:{self.port}"
        return f"{base.rstrip('/')}/{resource}"


def build(parsed: ApiProxyFile, ctx: BuildContext) -> ApiProxySettings:
    host, port = _listen(parsed.listen, ctx)
    public_url = parsed.public_url
    if public_url is not None and urlsplit(public_url).scheme not in ("http", "https"):
        ctx.fail("public_url", f"{public_url!r} is not an http(s) URL")
    if not 1 <= parsed.max_body_mb <= 5 * 1024:
        ctx.fail("max_body_mb", "give a size in MiB from 1 to 5120")
    if not 1 <= parsed.max_decoded_mb <= 64 * 1024:
        ctx.fail("max_decoded_mb", "give a size in MiB from 1 to 65536")
    if not 10 <= parsed.max_decode_ratio <= 1_000_000:
        ctx.fail("max_decode_ratio", "give a ratio from 10 to 1000000")
    if not 1 <= parsed.max_upstream_connections <= 4096:
        ctx.fail("max_upstream_connections", "give a number of connections from 1 to 4096")
    verdict_ttl = ctx.duration(parsed.verdict_ttl, "verdict_ttl", least=timedelta(seconds=0),
                               most=timedelta(hours=1), default=timedelta(seconds=60))
    resources: dict[str, ProxiedResource] = {}
    for name, entry in parsed.resources.items():
        key = f"resources.{name}"
        declared = ctx.resources.get(name)
        if declared is None or declared.kind != "api":
            ctx.fail(key, "is not a declared api resource ([resources.NAME] with kind = \"api\")")
            continue
        if (entry.railway_projects or entry.railway_environments) and declared.provider != "railway":
            ctx.fail(key, f"railway_projects and railway_environments need a Railway resource; "
                          f"{name} has provider {declared.provider!r}")
        for railway_env, env in entry.railway_environments.items():
            if env not in ctx.environments:
                ctx.fail(f"{key}.railway_environments.{railway_env}",
                         f"{env!r} is not declared under [environments]")
        ttl = ctx.duration(entry.lookup_ttl, f"{key}.lookup_ttl", least=timedelta(seconds=0),
                           most=timedelta(hours=24), default=timedelta(minutes=5))
        resources[name] = ProxiedResource(entry.one_environment, tuple(entry.railway_projects),
                                          dict(entry.railway_environments), ttl)
    return ApiProxySettings(parsed.enabled, host, port, public_url,
                            parsed.max_body_mb * 1024 * 1024, resources, verdict_ttl,
                            parsed.max_decoded_mb * 1024 * 1024, parsed.max_decode_ratio,
                            parsed.max_upstream_connections)


def _listen(text: str, ctx: BuildContext) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        ctx.fail("listen", f"{text!r} is not host:port (for example {DEFAULT_LISTEN!r})")
        return "127.0.0.1", 8378
    return host, int(port)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


SECTION = FrontSection("apiproxy", ApiProxyFile, build)

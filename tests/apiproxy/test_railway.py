"""The incident, through the API proxy: `curl` posting `volumeDelete` to airlock's Railway
endpoint. A staging-scoped token is denied; a production-scoped one is held with the blast
radius shown, and after approval forwarded once (or deferred) — always with airlock's own
Railway token, never the agent's."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from airlock.errors import ApprovalError
from airlock.store import DeferredStatus
from tests.apiproxy.conftest import REAL_SECRET, StartProxy, Upstream
from tests.conftest import require

# The call from the incident, as an agent with a shell would send it.
VOLUME_DELETE = json.dumps({
    "query": "mutation volumeDelete($volumeId: String!) { volumeDelete(volumeId: $volumeId) }",
    "variables": {"volumeId": "vol-prod-pg"}})

CONFIG = """
[environments.production]
[environments.staging]

[resources.railway]
kind = "api"
environment = "production"
provider = "railway"
base_url = "{upstream}"
credential = {{ env = "UPSTREAM_TOKEN" }}

[resources.pg-volume]
kind = "volume"
environment = "production"
match = ["railway:volume:vol-prod-pg"]
description = "the production database's volume"

[resources.pg-backups]
kind = "volume"
environment = "production"
stored_on = ["pg-volume"]
description = "the database's backups, kept on the same volume"
"""


def curl(url: str, token: str, body: str = VOLUME_DELETE) -> tuple[int, dict[str, Any]]:
    require(shutil.which("curl") is not None, "curl")
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", "-X", "POST", url,
                           "-H", f"Authorization: Bearer {token}",
                           "-H", "Content-Type: application/json", "--data-binary", body],
                          capture_output=True, text=True, timeout=30, check=True)
    text, _, code = done.stdout.rpartition("\n")
    return int(code), json.loads(text)


@pytest.fixture
def vault_off() -> str:
    return "\n[vault]\nenabled = false\n"


def test_staging_token_is_denied_and_nothing_reaches_railway(
        start_proxy: StartProxy, upstream: Upstream, vault_off: str) -> None:
    proxy = start_proxy(CONFIG.format(upstream=upstream.url) + vault_off)
    status, body = curl(f"{proxy.base}/railway/graphql/v2", proxy.token("staging"))
    assert status == 403 and body["status"] == "denied"
    assert "production" in body["reason"]
    assert body["errors"][0]["extensions"]["code"] == "AirlockDenied"  # GraphQL clients see it
    assert upstream.seen == []


def test_production_token_is_held_with_blast_radius_then_forwarded_once(
        start_proxy: StartProxy, upstream: Upstream, vault_off: str) -> None:
    proxy = start_proxy(CONFIG.format(upstream=upstream.url) + vault_off)
    token = proxy.token("production")
    url = f"{proxy.base}/railway/graphql/v2"

    status, held = curl(url, token)
    assert status == 409 and held["status"] == "held"
    assert held["approval_id"] and held["next_step"] and held["console_url"].endswith(
        f"/console/approvals/{held['approval_id']}")
    (target,) = [t for t in held["targets"] if t["target"] == "railway:volume:vol-prod-pg"]
    assert target["blast_radius"] == ["pg-volume", "pg-backups"]
    assert [c["resource"] for c in target["casualties"]] == ["pg-volume", "pg-backups"]
    assert held["risk"] == "catastrophic"
    assert upstream.seen == []

    with pytest.raises(ApprovalError, match="without a backup"):  # the vault is off here
        proxy.approve(held["approval_id"])
    proxy.approve(held["approval_id"], without_backup=True)
    status, answer = curl(url, token)
    assert (status, answer) == (200, {"data": {"volumeDelete": True}})
    (seen,) = upstream.seen
    assert seen.path == "/graphql/v2" and json.loads(seen.body) == json.loads(VOLUME_DELETE)
    assert seen.headers["Authorization"] == f"Bearer {REAL_SECRET}"
    assert token not in json.dumps(seen.headers)

    status, again = curl(url, token)  # an approval lets the identical call through once
    assert status == 409 and again["approval_id"] != held["approval_id"]
    assert len(upstream.seen) == 1


def test_approved_deletion_of_a_volume_is_deferred_and_the_agent_is_told(
        start_proxy: StartProxy, upstream: Upstream, other_fs_dir: Path) -> None:
    proxy = start_proxy(CONFIG.format(upstream=upstream.url)
                        + f'\n[vault]\npath = "{other_fs_dir}"\n')
    token = proxy.token("production")
    url = f"{proxy.base}/railway/graphql/v2"
    _, held = curl(url, token)
    proxy.approve(held["approval_id"])
    status, deferred = curl(url, token)
    assert status == 202 and deferred["status"] == "deferred"
    assert deferred["due_at"] and deferred["deferred_ids"]
    (record,) = proxy.runtime.store.list_deferred(status=DeferredStatus.PENDING)
    assert record.id == deferred["deferred_ids"][0]
    assert record.context["resource"] is None and REAL_SECRET not in json.dumps(record.to_json())
    assert token[-43:] not in json.dumps(record.to_json())
    assert upstream.seen == []


PROJECT = {
    "id": "proj-1", "name": "shop",
    "environments": {"edges": [{"node": {"id": "env-p", "name": "production"}},
                               {"node": {"id": "env-s", "name": "staging"}}]},
    "services": {"edges": [{"node": {"id": "svc-pg", "name": "postgres"}}]},
    "volumes": {"edges": [{"node": {"id": "vol-shared", "name": "pg-data", "volumeInstances": {
        "edges": [{"node": {"environmentId": "env-s", "serviceId": "svc-pg"}},
                  {"node": {"environmentId": "env-p", "serviceId": "svc-pg"}}]}}}]},
}


def test_an_unconfigured_volume_is_placed_by_asking_railway(
        start_proxy: StartProxy, upstream: Upstream, vault_off: str) -> None:
    upstream.project = {"proj-1": PROJECT}
    proxy = start_proxy(CONFIG.format(upstream=upstream.url) + vault_off + """
[resources.pg-service]
kind = "service"
environment = "production"
match = ["railway:service:svc-pg"]
[fronts.apiproxy.resources.railway]
railway_projects = ["proj-1"]
""")
    body = VOLUME_DELETE.replace("vol-prod-pg", "vol-shared")
    status, denied = curl(f"{proxy.base}/railway/graphql/v2", proxy.token("staging"), body)
    assert status == 403 and "production" in denied["reason"]
    (target,) = [t for t in denied["targets"] if t["target"] == "railway:volume:vol-shared"]
    assert set(target["environments"]) == {"staging", "production"}
    assert target["blast_radius"] == ["pg-service"]
    # how it is hit travels with it, as for configured targets (the "also reaches" line)
    assert [(c["resource"], c["environment"]) for c in target["casualties"]] == [
        ("pg-service", "production")]
    assert "mounted by postgres in staging, postgres in production" in target["note"]
    (lookup,) = upstream.seen  # one read-only query, with airlock's own token
    assert b"airlockProjectMap" in lookup.body and b"mutation" not in lookup.body
    assert lookup.headers["Authorization"] == f"Bearer {REAL_SECRET}"

    status, held = curl(f"{proxy.base}/railway/graphql/v2", proxy.token("production", "staging"),
                        body)
    assert status == 409 and held["status"] == "held"
    assert len(upstream.seen) == 1  # the map was cached


def test_a_read_passes_and_an_unknown_endpoint_or_token_is_refused(
        start_proxy: StartProxy, upstream: Upstream, vault_off: str) -> None:
    proxy = start_proxy(CONFIG.format(upstream=upstream.url) + vault_off)
    query = json.dumps({"query": "query { me { id } }"})
    status, _ = curl(f"{proxy.base}/railway/graphql/v2", proxy.token("staging"), query)
    assert status == 200 and len(upstream.seen) == 1
    status, body = curl(f"{proxy.base}/railway/graphql/v2", "alk_tok_" + "0" * 26 + "_" + "x" * 43,
                        query)
    assert status == 401 and body["status"] == "refused"
    status, body = curl(f"{proxy.base}/nothing/graphql/v2", proxy.token("staging"), query)
    assert status == 404 and "railway" in body["reason"]
    assert len(upstream.seen) == 1

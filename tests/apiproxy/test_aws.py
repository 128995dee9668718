"""boto3 → airlock → moto (server mode): the agent signs with an airlock key pair, airlock
checks the signature, judges the operation and signs again with the real keys. Deletions are
held; reads pass; an approved deletion is deferred and carried out, signed, when due."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from airlock.fronts.apiproxy.keys import issue_aws_key
from airlock.model import utcnow
from airlock.store import DeferredStatus
from airlock.tokens import issue_token
from airlock.vault.runners import run_due_and_record
from tests.apiproxy.conftest import Proxy, StartProxy

REAL_KEY_ID = "AKIAREALKEY7F3A9C0001"
REAL_SECRET_KEY = "real/secret+access+key/7f3a9c0000000000000000"

CONFIG = """
[environments.staging]

[resources.aws]
kind = "api"
environment = "staging"
provider = "aws"
base_url = "{moto}"
aws = {{ access_key_id = {{ env = "REAL_AWS_KEY_ID" }}, secret_access_key = {{ env = "REAL_AWS_SECRET" }} }}

[fronts.apiproxy.resources.aws]
one_environment = true
"""


@pytest.fixture
def aws_proxy(start_proxy: StartProxy, moto_endpoint: str, other_fs_dir: Path,
              monkeypatch: pytest.MonkeyPatch) -> Proxy:
    monkeypatch.setenv("REAL_AWS_KEY_ID", REAL_KEY_ID)
    monkeypatch.setenv("REAL_AWS_SECRET", REAL_SECRET_KEY)
    return start_proxy(CONFIG.format(moto=moto_endpoint) + f'\n[vault]\npath = "{other_fs_dir}"\n')


def agent_client(proxy: Proxy, service: Any) -> Any:
    issued = issue_token(proxy.runtime.store, proxy.runtime.config, principal="agent",
                         environments=["staging"])
    key = issue_aws_key(proxy.runtime.store, proxy.runtime.approvals_key, issued.record)
    return boto3.client(service, endpoint_url=f"{proxy.base}/aws", region_name="us-east-1",
                        aws_access_key_id=key.access_key_id,
                        aws_secret_access_key=key.secret_access_key,
                        config=BotoConfig(retries={"max_attempts": 1}))


def direct(moto: str, service: Any) -> Any:
    return boto3.client(service, endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id=REAL_KEY_ID, aws_secret_access_key=REAL_SECRET_KEY)


def airlock_error(exc: ClientError) -> dict[str, Any]:
    return dict(exc.response["Error"])


def test_reads_pass_deletions_are_held_and_the_real_keys_never_show(aws_proxy: Proxy,
                                                                     moto_endpoint: str) -> None:
    s3 = agent_client(aws_proxy, "s3")
    s3.create_bucket(Bucket="agent-scratch")  # a write in staging: allowed
    assert "agent-scratch" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.put_object(Bucket="agent-scratch", Key="note.txt", Body=b"hello")
    got = s3.get_object(Bucket="agent-scratch", Key="note.txt")
    assert got["Body"].read() == b"hello"

    with pytest.raises(ClientError) as held:
        s3.delete_bucket(Bucket="agent-scratch")
    error = airlock_error(held.value)
    assert error["Code"] == "AirlockHeld" and error["ApprovalId"].startswith("apr_")
    assert held.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert "agent-scratch" in [b["Name"] for b in direct(moto_endpoint, "s3").list_buckets()["Buckets"]]

    rds = agent_client(aws_proxy, "rds")
    assert rds.describe_db_instances()["DBInstances"] == []
    with pytest.raises(ClientError) as held_rds:
        rds.delete_db_instance(DBInstanceIdentifier="prod-db", SkipFinalSnapshot=True)
    assert airlock_error(held_rds.value)["Code"] == "AirlockHeld"
    assert "DeleteDBInstance" in airlock_error(held_rds.value)["Message"]

    shown = json.dumps([error, airlock_error(held_rds.value)])
    assert REAL_KEY_ID not in shown and REAL_SECRET_KEY not in shown


def test_an_approved_bucket_deletion_is_deferred_then_carried_out_signed(aws_proxy: Proxy,
                                                                         moto_endpoint: str) -> None:
    s3 = agent_client(aws_proxy, "s3")
    s3.create_bucket(Bucket="old-logs")
    with pytest.raises(ClientError) as held:
        s3.delete_bucket(Bucket="old-logs")
    aws_proxy.approve(airlock_error(held.value)["ApprovalId"])
    with pytest.raises(ClientError) as deferred:
        s3.delete_bucket(Bucket="old-logs")
    error = airlock_error(deferred.value)
    assert error["Code"] == "AirlockDeferred" and "do not send it again" in error["Message"]
    (record,) = aws_proxy.runtime.store.list_deferred(status=DeferredStatus.PENDING)
    stored = json.dumps(record.to_json())
    assert REAL_KEY_ID not in stored and "Signature=" not in stored
    assert record.content["url"] == "https://s3.us-east-1.amazonaws.com/old-logs"

    rt = aws_proxy.runtime
    assert run_due_and_record(rt.store, rt.config, rt.audit) == []  # not due yet
    (done,) = run_due_and_record(rt.store, rt.config, rt.audit,
                                 now=utcnow() + timedelta(hours=49))
    assert done.status is DeferredStatus.EXECUTED, done.result
    assert "old-logs" not in [b["Name"] for b in direct(moto_endpoint, "s3").list_buckets()["Buckets"]]


def test_a_bad_signature_or_unknown_key_is_refused(aws_proxy: Proxy) -> None:
    good = agent_client(aws_proxy, "s3")
    creds = good._request_signer._credentials
    forged = boto3.client("s3", endpoint_url=f"{aws_proxy.base}/aws", region_name="us-east-1",
                          aws_access_key_id=creds.access_key,
                          aws_secret_access_key="not-the-secret-" + "x" * 25,
                          config=BotoConfig(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as bad:
        forged.list_buckets()
    assert airlock_error(bad.value)["Code"] == "SignatureDoesNotMatch"
    real = boto3.client("s3", endpoint_url=f"{aws_proxy.base}/aws", region_name="us-east-1",
                        aws_access_key_id=REAL_KEY_ID, aws_secret_access_key=REAL_SECRET_KEY,
                        config=BotoConfig(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as unknown:
        real.list_buckets()  # even the real keys do not work here: only airlock's
    assert "unknown access key" in airlock_error(unknown.value)["Message"]


def test_without_the_aws_extra_nothing_is_forwarded_and_the_extra_is_named(
        aws_proxy: Proxy, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from airlock import extras

    s3 = agent_client(aws_proxy, "s3")
    monkeypatch.setattr(extras, "installed", lambda extra: False)  # as if botocore were absent
    with pytest.raises(ClientError) as refused:
        s3.create_bucket(Bucket="never-made")
    error = airlock_error(refused.value)
    assert error["Code"] == "AirlockUnavailable" and "`aws` extra" in error["Message"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    buckets = {b["Name"] for b in direct(moto_endpoint, "s3").list_buckets()["Buckets"]}
    assert "never-made" not in buckets

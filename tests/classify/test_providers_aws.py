"""AWS: query, JSON and REST (S3 and others) protocols, by operation."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from airlock.classify.http import classify_http
from airlock.classify.providers.aws_table import aws_table, convention
from airlock.model import Assessment, HttpRequest, Risk, Target

FORM = (("Content-Type", "application/x-www-form-urlencoded"),)
REGION = Target("aws:region", "us-east-1")


def query_call(host: str, action: str, method: str = "POST", **params: str) -> Assessment:
    fields = {"Action": action, "Version": "2014-10-31", **params}
    if method == "GET":
        return classify_http(HttpRequest("GET", f"https://{host}/?{urlencode(fields)}"))
    return classify_http(HttpRequest("POST", f"https://{host}/", FORM, urlencode(fields)))


def json_call(target: str, body: dict[str, Any],
              host: str = "dynamodb.us-east-1.amazonaws.com") -> Assessment:
    headers = (("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", target))
    return classify_http(HttpRequest("POST", f"https://{host}/", headers, json.dumps(body)))


def call(method: str, url: str, body: str | None = None,
         headers: tuple[tuple[str, str], ...] = ()) -> Assessment:
    return classify_http(HttpRequest(method, url, headers, body))


# ----------------------------------------------------------------------------------------------
# Query protocol


@pytest.mark.parametrize(("action", "params", "risk", "target"), [
    ("DeleteDBInstance", {"DBInstanceIdentifier": "prod-db", "SkipFinalSnapshot": "true"},
     Risk.CATASTROPHIC, Target("aws:rds:db-instance", "prod-db")),
    ("DeleteDBCluster", {"DBClusterIdentifier": "aurora-1"}, Risk.CATASTROPHIC,
     Target("aws:rds:db-cluster", "aurora-1")),
    ("DeleteDBSnapshot", {"DBSnapshotIdentifier": "snap"}, Risk.CATASTROPHIC,
     Target("aws:rds:db-snapshot", "snap")),
    ("DeleteDBInstanceAutomatedBackup", {"DbiResourceId": "db-ABC"}, Risk.CATASTROPHIC,
     Target("aws:rds:db-instance-resource", "db-ABC")),
    ("DescribeDBInstances", {}, Risk.READ, REGION),
    ("CreateDBInstance", {"DBInstanceIdentifier": "new"}, Risk.WRITE, REGION),
    ("RebootDBInstance", {"DBInstanceIdentifier": "x"}, Risk.WRITE, REGION),
    ("ModifyDBInstance", {"DBInstanceIdentifier": "x", "AllocatedStorage": "50"}, Risk.WRITE,
     Target("aws:rds:db-instance", "x")),
    ("ModifyDBInstance", {"DBInstanceIdentifier": "x", "BackupRetentionPeriod": "0"},
     Risk.CATASTROPHIC, Target("aws:rds:db-instance", "x")),
    ("ModifyDBInstance", {"DBInstanceIdentifier": "x", "DeletionProtection": "False"},
     Risk.DESTRUCTIVE, Target("aws:rds:db-instance", "x")),
])
def test_rds(action: str, params: dict[str, str], risk: Risk, target: Target) -> None:
    for method in ("POST", "GET"):
        assessment = query_call("rds.us-east-1.amazonaws.com", action, method, **params)
        assert assessment.risk is risk, assessment.reasons
        assert target in assessment.targets
        assert REGION in assessment.targets
        assert assessment.complete


def test_ec2_volumes_snapshots_instances() -> None:
    host = "ec2.eu-west-1.amazonaws.com"
    a = query_call(host, "DeleteVolume", VolumeId="vol-0abc")
    assert a.risk is Risk.CATASTROPHIC
    assert Target("aws:ec2:volume", "vol-0abc") in a.targets
    assert Target("aws:region", "eu-west-1") in a.targets
    assert query_call(host, "DeleteSnapshot", SnapshotId="snap-1").risk is Risk.CATASTROPHIC
    a = query_call(host, "TerminateInstances", **{"InstanceId.1": "i-1", "InstanceId.2": "i-2"})
    assert a.risk is Risk.CATASTROPHIC
    assert {Target("aws:ec2:instance", "i-1"), Target("aws:ec2:instance", "i-2")} <= set(
        a.targets)
    assert query_call(host, "StopInstances", **{"InstanceId.1": "i-1"}).risk is Risk.WRITE
    assert query_call(host, "DescribeVolumes").risk is Risk.READ
    assert query_call(host, "DeleteSecurityGroup", GroupId="sg-1").risk is Risk.DESTRUCTIVE
    fleets = query_call(host, "DeleteFleets", **{"FleetId.1": "f", "TerminateInstances": "true"})
    assert fleets.risk is Risk.CATASTROPHIC


def test_query_protocol_member_lists() -> None:
    a = query_call("cloudformation.us-east-1.amazonaws.com", "DeleteStack", StackName="app")
    assert a.risk is Risk.CATASTROPHIC
    assert Target("aws:cloudformation:stack", "app") in a.targets


def test_credentials_minted_are_destructive() -> None:
    assert query_call("iam.amazonaws.com", "CreateAccessKey",
                      UserName="ci").risk is Risk.DESTRUCTIVE
    assert query_call("sts.amazonaws.com", "AssumeRole",
                      RoleArn="arn:aws:iam::1:role/admin").risk is Risk.DESTRUCTIVE
    assert query_call("sts.amazonaws.com", "GetCallerIdentity").risk is Risk.READ


def test_action_in_url_and_body_must_agree() -> None:
    request = HttpRequest("POST", "https://rds.us-east-1.amazonaws.com/?Action=DescribeDBInstances",
                          FORM, urlencode({"Action": "DeleteDBInstance",
                                           "DBInstanceIdentifier": "prod"}))
    assessment = classify_http(request)
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete


def test_unknown_verb_is_unknown() -> None:
    assessment = query_call("rds.us-east-1.amazonaws.com", "FrobnicateDBInstance")
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete


# ----------------------------------------------------------------------------------------------
# JSON protocol


def test_dynamodb_operations() -> None:
    a = json_call("DynamoDB_20120810.DeleteTable", {"TableName": "orders"})
    assert a.risk is Risk.CATASTROPHIC
    assert Target("aws:dynamodb:table", "orders") in a.targets
    assert json_call("DynamoDB_20120810.DeleteBackup",
                     {"BackupArn": "arn:b"}).risk is Risk.CATASTROPHIC
    assert json_call("DynamoDB_20120810.DeleteItem", {"TableName": "t",
                                                      "Key": {}}).risk is Risk.DESTRUCTIVE
    assert json_call("DynamoDB_20120810.Query", {"TableName": "t"}).risk is Risk.READ
    assert json_call("DynamoDB_20120810.Scan", {"TableName": "t"}).risk is Risk.READ
    assert json_call("DynamoDB_20120810.PutItem", {"TableName": "t"}).risk is Risk.WRITE
    pitr = {"TableName": "t", "PointInTimeRecoverySpecification":
            {"PointInTimeRecoveryEnabled": False}}
    assert json_call("DynamoDB_20120810.UpdateContinuousBackups", pitr).risk is Risk.DESTRUCTIVE


def test_dynamodb_batch_write_put_versus_delete() -> None:
    puts: dict[str, Any] = {"RequestItems": {"t": [{"PutRequest": {"Item": {}}}]}}
    assert json_call("DynamoDB_20120810.BatchWriteItem", puts).risk is Risk.WRITE
    mixed: dict[str, Any] = {"RequestItems": {"t": [{"PutRequest": {"Item": {}}},
                                    {"DeleteRequest": {"Key": {}}}]}}
    a = json_call("DynamoDB_20120810.BatchWriteItem", mixed)
    assert a.risk is Risk.DESTRUCTIVE
    assert Target("aws:dynamodb:table", "t") in a.targets
    assert json_call("DynamoDB_20120810.BatchWriteItem", {}).risk is Risk.UNKNOWN


def test_dynamodb_transactions_and_partiql() -> None:
    items = {"TransactItems": [{"Put": {"TableName": "a"}}, {"Delete": {"TableName": "b"}}]}
    assert json_call("DynamoDB_20120810.TransactWriteItems", items).risk is Risk.DESTRUCTIVE
    select = {"Statement": "SELECT * FROM orders"}
    assert json_call("DynamoDB_20120810.ExecuteStatement", select).risk is Risk.READ
    delete = {"Statement": "  delete FROM orders WHERE id = 1"}
    assert json_call("DynamoDB_20120810.ExecuteStatement", delete).risk is Risk.DESTRUCTIVE
    batch = {"Statements": [{"Statement": "SELECT 1"}, {"Statement": "EXPLODE x"}]}
    assert json_call("DynamoDB_20120810.BatchExecuteStatement", batch).risk is Risk.UNKNOWN


def test_other_json_services() -> None:
    kms = json_call("TrentService.ScheduleKeyDeletion", {"KeyId": "k1"},
                    host="kms.us-east-1.amazonaws.com")
    assert kms.risk is Risk.CATASTROPHIC
    assert Target("aws:kms:key", "k1") in kms.targets
    assert json_call("AmazonMemoryDB.DeleteSnapshot", {"SnapshotName": "s"},
                     host="memory-db.us-east-1.amazonaws.com").risk is Risk.CATASTROPHIC
    assert json_call("secretsmanager.GetSecretValue", {"SecretId": "s"},
                     host="secretsmanager.us-east-1.amazonaws.com").risk is Risk.READ
    assert json_call("Logs_20140328.DeleteLogGroup", {"logGroupName": "g"},
                     host="logs.us-east-1.amazonaws.com").risk is Risk.DESTRUCTIVE


def test_bad_json_target_or_body_is_unknown() -> None:
    assert json_call("DynamoDB_20120810", {}).risk is Risk.UNKNOWN
    headers = (("X-Amz-Target", "DynamoDB_20120810.DeleteTable"),)
    bad = classify_http(HttpRequest("POST", "https://dynamodb.us-east-1.amazonaws.com/",
                                    headers, "[1, 2]"))
    assert bad.risk is Risk.UNKNOWN


# ----------------------------------------------------------------------------------------------
# S3


@pytest.mark.parametrize(("method", "url", "operation_risk", "target"), [
    ("DELETE", "https://data.s3.us-east-1.amazonaws.com/", Risk.CATASTROPHIC,
     Target("aws:s3:bucket", "data")),
    ("DELETE", "https://s3.us-east-1.amazonaws.com/data", Risk.CATASTROPHIC,
     Target("aws:s3:bucket", "data")),
    ("DELETE", "https://s3.amazonaws.com/data/", Risk.CATASTROPHIC,
     Target("aws:s3:bucket", "data")),
    ("DELETE", "https://data.s3.us-east-1.amazonaws.com/dir/file.txt", Risk.DESTRUCTIVE,
     Target("aws:s3:object", "data/dir/file.txt")),
    ("DELETE", "https://s3.us-east-1.amazonaws.com/data/dir/file.txt", Risk.DESTRUCTIVE,
     Target("aws:s3:object", "data/dir/file.txt")),
    ("DELETE", "https://my.dotted.bucket.s3.amazonaws.com/k", Risk.DESTRUCTIVE,
     Target("aws:s3:object", "my.dotted.bucket/k")),
    ("DELETE", "https://data.s3.us-east-1.amazonaws.com/k?versionId=3", Risk.DESTRUCTIVE,
     Target("aws:s3:object", "data/k")),
    ("DELETE", "https://data.s3.us-east-1.amazonaws.com/?policy", Risk.DESTRUCTIVE,
     Target("aws:s3:bucket", "data")),
    ("DELETE", "https://data.s3.us-east-1.amazonaws.com/?x-id=DeleteBucket", Risk.CATASTROPHIC,
     Target("aws:s3:bucket", "data")),
    ("DELETE", "https://data.s3.us-east-1.amazonaws.com/?policy&surprise=1", Risk.CATASTROPHIC,
     Target("aws:s3:bucket", "data")),
    ("PUT", "https://data.s3.us-east-1.amazonaws.com/?lifecycle", Risk.DESTRUCTIVE,
     Target("aws:s3:bucket", "data")),
    ("PUT", "https://data.s3.us-east-1.amazonaws.com/k", Risk.WRITE,
     Target("aws:region", "us-east-1")),
    ("PUT", "https://data.s3.us-east-1.amazonaws.com/", Risk.WRITE,
     Target("aws:region", "us-east-1")),
    ("GET", "https://data.s3.us-east-1.amazonaws.com/k", Risk.READ,
     Target("aws:region", "us-east-1")),
    ("GET", "https://data.s3.us-east-1.amazonaws.com/?list-type=2&prefix=a", Risk.READ,
     Target("aws:region", "us-east-1")),
    ("HEAD", "https://s3.us-west-2.amazonaws.com/data", Risk.READ,
     Target("aws:region", "us-west-2")),
    ("GET", "https://s3.amazonaws.com/", Risk.READ, None),
    ("DELETE", "https://data.s3.us-east-1.amazonaws.com/k?uploadId=u1", Risk.WRITE,
     Target("aws:s3:object", "data/k")),
    ("DELETE", "https://data.s3-us-west-2.amazonaws.com/", Risk.CATASTROPHIC,
     Target("aws:region", "us-west-2")),
])
def test_s3_rest(method: str, url: str, operation_risk: Risk, target: Target | None) -> None:
    assessment = call(method, url)
    assert assessment.risk is operation_risk, assessment.reasons
    if target is not None:
        assert target in assessment.targets


def test_s3_versioned_delete_says_permanent() -> None:
    reasons = call("DELETE", "https://data.s3.us-east-1.amazonaws.com/k?versionId=3").reasons
    assert "permanently deletes version 3" in reasons[0]


DELETE_OBJECTS = """<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Object><Key>a.txt</Key></Object>
  <Object><Key>logs/b.txt</Key><VersionId>v2</VersionId></Object>
  <Quiet>true</Quiet>
</Delete>"""


def test_s3_delete_objects_batch() -> None:
    a = call("POST", "https://data.s3.us-east-1.amazonaws.com/?delete", DELETE_OBJECTS,
             (("Content-Type", "application/xml"),))
    assert a.risk is Risk.DESTRUCTIVE
    assert Target("aws:s3:object", "data/a.txt") in a.targets
    assert Target("aws:s3:object", "data/logs/b.txt@v2") in a.targets
    assert Target("aws:s3:bucket", "data") in a.targets


@pytest.mark.parametrize("body", [
    "", "<Delete>", "<Delete></Delete>", "<Delete><Object><Size>1</Size></Object></Delete>",
    '<!DOCTYPE d [<!ENTITY a "aaaa">]><Delete><Object><Key>&a;</Key></Object></Delete>',
])
def test_s3_delete_objects_unreadable_is_unknown(body: str) -> None:
    a = call("POST", "https://data.s3.us-east-1.amazonaws.com/?delete", body)
    assert a.risk is Risk.UNKNOWN and not a.complete


# ----------------------------------------------------------------------------------------------
# Other REST services


@pytest.mark.parametrize(("method", "url", "risk", "target"), [
    ("DELETE", "https://backup.us-east-1.amazonaws.com/backup-vaults/main", Risk.CATASTROPHIC,
     Target("aws:backup:vault", "main")),
    ("DELETE", "https://backup.us-east-1.amazonaws.com/backup-vaults/main/recovery-points/"
     "arn%3Aaws%3Aec2%3Aus-east-1%3A%3Asnapshot%2Fsnap-1", Risk.CATASTROPHIC,
     Target("aws:backup:recovery-point", "arn:aws:ec2:us-east-1::snapshot/snap-1")),
    ("DELETE", "https://backup.us-east-1.amazonaws.com/backup/plans/p1", Risk.DESTRUCTIVE,
     Target("aws:backup:plan", "p1")),
    ("GET", "https://backup.us-east-1.amazonaws.com/backup-vaults/", Risk.READ, REGION),
    ("DELETE", "https://elasticfilesystem.us-east-1.amazonaws.com/2015-02-01/file-systems/fs-1",
     Risk.CATASTROPHIC, Target("aws:efs:file-system", "fs-1")),
    ("DELETE", "https://eks.us-east-1.amazonaws.com/clusters/prod", Risk.CATASTROPHIC,
     Target("aws:eks:cluster", "prod")),
    ("DELETE", "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f", Risk.DESTRUCTIVE,
     Target("aws:lambda:function", "f")),
    ("DELETE", "https://glacier.us-east-1.amazonaws.com/-/vaults/cold", Risk.CATASTROPHIC,
     Target("aws:glacier:vault", "cold")),
    ("DELETE", "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f/aliases/a",
     Risk.DESTRUCTIVE, REGION),
    ("POST", "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f/policy", Risk.WRITE,
     REGION),
])
def test_rest_routes(method: str, url: str, risk: Risk, target: Target) -> None:
    assessment = call(method, url)
    assert assessment.risk is risk, assessment.reasons
    assert target in assessment.targets


ROUTE53 = """<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
<ChangeBatch><Changes><Change><Action>{action}</Action><ResourceRecordSet><Name>a.example.com</Name>
</ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"""


def test_route53_change_batch() -> None:
    url = "https://route53.amazonaws.com/2013-04-01/hostedzone/Z1/rrset/"
    assert call("POST", url, ROUTE53.format(action="UPSERT")).risk is Risk.WRITE
    deleting = call("POST", url, ROUTE53.format(action="DELETE"))
    assert deleting.risk is Risk.DESTRUCTIVE
    assert Target("aws:route53:hosted-zone", "Z1") in deleting.targets
    assert call("POST", url, "not xml").risk is Risk.UNKNOWN


# ----------------------------------------------------------------------------------------------
# Recognition


def test_signed_request_to_a_local_endpoint_is_aws() -> None:
    auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/eu-central-1/rds/aws4_request, "
            "SignedHeaders=host, Signature=abc")
    request = HttpRequest("POST", "http://localhost:4566/", (*FORM, ("Authorization", auth)),
                          urlencode({"Action": "DeleteDBCluster", "DBClusterIdentifier": "c"}))
    a = classify_http(request)
    assert a.risk is Risk.CATASTROPHIC
    assert Target("aws:region", "eu-central-1") in a.targets


def test_presigned_s3_url() -> None:
    url = ("http://minio.local:9000/bucket-1/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
           "AKID%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc")
    assert call("DELETE", url).risk is Risk.CATASTROPHIC


@pytest.mark.parametrize("url", [
    "https://abc123.execute-api.us-east-1.amazonaws.com/prod/items/1",
    "https://my-lb-1.us-east-1.elb.amazonaws.com/items/1",
    "https://ec2-1-2-3-4.compute-1.amazonaws.com/items/1",
])
def test_customer_endpoints_under_aws_domains_are_generic(url: str) -> None:
    assessment = call("DELETE", url)
    assert assessment.risk is Risk.DESTRUCTIVE
    assert assessment.targets == (Target("url", url),)


def test_appsync_graphql_is_generic_graphql() -> None:
    body = json.dumps({"query": "mutation { deletePost(id: 1) { id } }"})
    a = call("POST", "https://x.appsync-api.us-east-1.amazonaws.com/graphql", body)
    assert a.risk is Risk.DESTRUCTIVE


def test_conventions_have_each_verb_once() -> None:
    assert convention("DescribeThings") is Risk.READ
    assert convention("BatchGetItem") is Risk.READ
    assert convention("BatchDeleteImage") is Risk.DESTRUCTIVE
    assert convention("ReleaseAddress") is Risk.DESTRUCTIVE
    assert convention("Zap") is Risk.UNKNOWN
    assert aws_table().operations["rds"]["DeleteDBInstance"].risk is Risk.CATASTROPHIC

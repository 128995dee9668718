"""AWS support is the `aws` extra: without botocore, what needs it fails naming the extra, and
nothing else imports it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airlock import extras
from airlock.config.resources import AwsKeys
from airlock.errors import AirlockError
from airlock.extras import MissingExtraError
from airlock.fronts.apiproxy import sigv4
from airlock.secrets import Secret
from airlock.upstream import aws
from airlock.vault.location import s3_client

KEYS = AwsKeys(Secret("AKIAEXAMPLE", "env:ID"), Secret("secret", "env:SECRET"))
SIGNED = [("Host", "127.0.0.1:8378"), ("X-Amz-Date", "20260301T120000Z"),
          ("Authorization", "AWS4-HMAC-SHA256 Credential=ALKA/20260301/us-east-1/rds/aws4_request, "
                            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)]


@pytest.fixture
def without_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extras, "installed", lambda extra: False)


@pytest.mark.usefixtures("without_botocore")
def test_each_use_of_aws_names_the_extra_to_install() -> None:
    uses: list[Callable[[], object]] = [
        lambda: aws.sign(KEYS, aws.AwsScope("s3", "us-east-1"), "GET",
                         "https://s3.us-east-1.amazonaws.com/b", [], aws.payload_hash(b"")),
        lambda: sigv4.verify(method="POST", path="/aws/", query="", headers=SIGNED,
                             payload_sha256=aws.payload_hash(b""), secret="s",
                             now=datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),
        lambda: s3_client(),
    ]
    for use in uses:
        with pytest.raises(MissingExtraError) as caught:
            use()
        assert "`aws` extra" in str(caught.value) and "AIRLOCK_EXTRAS=aws" in str(caught.value)
        assert isinstance(caught.value, AirlockError)  # one message at the CLI's edge, exit 2


@pytest.mark.usefixtures("without_botocore")
def test_a_forwarded_aws_call_fails_as_an_upstream_error_not_a_crash() -> None:
    from airlock.config import Resource
    from airlock.upstream.http import UpstreamCallError, upstream_headers

    resource = Resource(name="aws-staging", kind="api", environment="staging", selectors=(),
                        base_url="https://amazonaws.com", provider="aws", aws=KEYS)
    with pytest.raises(UpstreamCallError, match="`aws` extra"):
        upstream_headers(resource, "GET", "https://s3.us-east-1.amazonaws.com/b",
                         "https://s3.us-east-1.amazonaws.com/b", [], None)


def test_the_default_path_does_not_import_botocore() -> None:
    code = ("import sys\n"
            "import airlock.cli, airlock.services, airlock.fronts.api, airlock.upstream.http\n"
            "import airlock.fronts.apiproxy.app, airlock.vault.location, airlock.gate\n"
            "sys.exit(1 if 'botocore' in sys.modules or 'boto3' in sys.modules else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr or "botocore was imported"


def test_config_check_warns_when_aws_is_configured_but_not_installed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from airlock.cli import app, load_all

    load_all()
    (tmp_path / "airlock.toml").write_text(
        '[environments.staging]\n'
        '[resources.aws-staging]\nkind = "api"\nenvironment = "staging"\n'
        'base_url = "https://amazonaws.com"\n'
        'aws = { access_key_id = { env = "T_AWS_ID" }, secret_access_key = { env = "T_AWS_SECRET" } }\n')
    monkeypatch.setenv("T_AWS_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("T_AWS_SECRET", "secret")
    runner = CliRunner()
    args = ["--config", str(tmp_path / "airlock.toml"), "config", "check"]
    installed = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert installed.exit_code == 0, installed.output
    assert "warning" not in installed.output
    monkeypatch.setattr(extras, "installed", lambda extra: False)
    missing = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert missing.exit_code == 0, missing.output
    assert "resource aws-staging (AWS) needs AWS support" in missing.output
    assert "`aws` extra" in missing.output


def test_the_extra_matches_pyproject_and_the_hint_never_installs_from_pypi_by_our_name() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert tuple(pyproject["project"]["optional-dependencies"]["aws"]) == extras.AWS.requirements
    with pytest.raises(MissingExtraError) as caught:
        extras.require(extras.Extra("aws", ("no_such_module_xyz",), extras.AWS.requirements,
                                    "AWS support"), "this")
    hint = caught.value.hint or ""
    assert f"{sys.executable} -m pip install 'boto3>=1.34'" in hint
    assert "pip install 'airlock[" not in hint  # PyPI's `airlock` is another project

"""Credential files: by name, by where they live, by what detect-secrets finds in them; the
allowlist; airlock's own files; and the deny the credential rule turns them into."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.classify import secrets_files
from airlock.classify.secrets_files import (
    CREDENTIAL_FILES_RULE,
    FileRules,
    classify_file_access,
    scan_for_secrets,
)
from airlock.config import Config
from airlock.model import Action, ActionContext, FileAccess, Risk, Verdict
from airlock.runtime import Runtime
from airlock.tokens import local_caller

AWS_KEY = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def _risk(path: str, *, write: bool = False, cwd: str | None = "/w",
          rules: FileRules | None = None) -> Risk:
    return classify_file_access(FileAccess(path, write=write), cwd=cwd, rules=rules).risk


@pytest.mark.parametrize("name", [
    ".env", ".env.local", ".env.production", "prod.env", "server.pem", "tls.key", "cert.p12",
    "id_rsa", "id_ed25519", ".netrc", ".pgpass", ".git-credentials", ".npmrc", "kubeconfig",
    "cluster.kubeconfig", "terraform.tfstate", "prod.tfvars", "credentials.json",
    "service-account-prod.json", "application_default_credentials.json"])
def test_credential_names_anywhere(tmp_path: Path, home: Path, name: str) -> None:
    assert _risk(str(tmp_path / "project" / name)) is Risk.CATASTROPHIC


@pytest.mark.parametrize("name", [
    ".env.example", ".env.sample", "id_rsa.pub", "id_utils.py", "README.md", "keys.py",
    "environment.ts", "pem_parser.go"])
def test_ordinary_names_are_plain_reads(tmp_path: Path, home: Path, name: str) -> None:
    assert _risk(str(tmp_path / "project" / name)) is Risk.READ


@pytest.mark.parametrize(("rel", "risk"), [
    (".aws/credentials", Risk.CATASTROPHIC), (".aws/sso/cache/x.json", Risk.CATASTROPHIC),
    (".aws/config", Risk.READ), (".ssh/work_key", Risk.CATASTROPHIC),
    (".ssh/id_ed25519.pub", Risk.READ), (".ssh/known_hosts", Risk.READ),
    (".ssh/config", Risk.READ), (".kube/config", Risk.CATASTROPHIC),
    (".config/gcloud/credentials.db", Risk.CATASTROPHIC), (".railway/config.json", Risk.CATASTROPHIC),
    (".docker/config.json", Risk.CATASTROPHIC), (".config/gh/hosts.yml", Risk.CATASTROPHIC),
    (".config/other/settings.toml", Risk.READ)])
def test_credential_locations_under_home(home: Path, rel: str, risk: Risk) -> None:
    assert _risk(str(home / rel)) is risk
    assert _risk("~/" + rel) is risk  # as an agent writes it


def test_relative_paths_and_symlinks_are_followed(tmp_path: Path, home: Path) -> None:
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(AWS_KEY)
    link = tmp_path / "notes.txt"
    link.symlink_to(home / ".aws" / "credentials")
    assert _risk("notes.txt", cwd=str(tmp_path)) is Risk.CATASTROPHIC
    assert _risk("sub/../.env", cwd=str(tmp_path)) is Risk.CATASTROPHIC


def test_detect_secrets_finds_keys_in_ordinary_files(tmp_path: Path, home: Path) -> None:
    settings = tmp_path / "settings.py"
    settings.write_text("DEBUG = True\nAWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE'\n")
    assert scan_for_secrets(str(settings)) == "AWS Access Key"
    assessment = classify_file_access(FileAccess(str(settings)), cwd=None)
    assert assessment.risk is Risk.CATASTROPHIC
    assert "it contains AWS Access Key" in " ".join(assessment.reasons)
    key = tmp_path / "deploy_key_backup"
    key.write_text(PRIVATE_KEY)
    assert _risk(str(key)) is Risk.CATASTROPHIC
    template = tmp_path / ".env.example"  # a template by name, but a real key inside
    template.write_text("GITHUB_TOKEN=ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8" + "\n")
    assert _risk(str(template)) is Risk.CATASTROPHIC


def test_what_the_scan_skips(tmp_path: Path) -> None:
    clean = tmp_path / "app.py"
    clean.write_text("def main():\n    return 'hello'\n" * 2000)
    assert scan_for_secrets(str(clean)) is None
    assert scan_for_secrets(str(tmp_path / "missing.txt")) is None
    assert scan_for_secrets(str(tmp_path)) is None  # a folder
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\0\1AKIAIOSFODNN7EXAMPLE")
    assert scan_for_secrets(str(binary)) is None
    lookalike = tmp_path / "docs.md"  # matches a detector's pattern, fails its filters
    lookalike.write_text("password: ${DB_PASSWORD}\nurl = 'http://user:${PW}@host'\n")
    assert scan_for_secrets(str(lookalike)) is None


def test_large_files_are_judged_by_their_first_mib(tmp_path: Path) -> None:
    big = tmp_path / "dump.sql"
    big.write_text(AWS_KEY + "x" * (secrets_files.MAX_SCAN_BYTES + 10))
    assert scan_for_secrets(str(big)) is not None
    hidden = tmp_path / "dump2.sql"
    hidden.write_text("x" * (secrets_files.MAX_SCAN_BYTES + 10) + AWS_KEY)
    assert scan_for_secrets(str(hidden)) is None  # documented limit


def test_globs_are_expanded_and_bounded(tmp_path: Path, home: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    assert _risk(str(tmp_path / "src" / "*.py")) is Risk.READ
    (tmp_path / "src" / ".env").write_text("X=1\n")
    assert _risk(str(tmp_path / "src" / "*")) is Risk.CATASTROPHIC  # hidden files included
    monkeypatch.setattr(secrets_files, "MAX_GLOB_MATCHES", 1)
    assessment = classify_file_access(FileAccess(str(tmp_path / "src" / "*")), cwd=None)
    assert not assessment.complete and assessment.risk.at_least(Risk.UNKNOWN)


def test_the_allowlist_by_name_and_by_path(tmp_path: Path, home: Path) -> None:
    env = str(tmp_path / ".env.test")
    assert _risk(env) is Risk.CATASTROPHIC
    assert _risk(env, rules=FileRules(allowed=(".env.test",))) is Risk.READ
    assert _risk(env, rules=FileRules(allowed=(str(tmp_path / "*"),))) is Risk.READ
    assert _risk(env, rules=FileRules(allowed=("/elsewhere/*",))) is Risk.CATASTROPHIC


def test_airlocks_own_files_are_off_limits_both_ways(tmp_path: Path, home: Path) -> None:
    rules = FileRules(protected=(str(tmp_path / ".airlock"), str(tmp_path / "airlock.toml")))
    for path in (".airlock/audit.key", ".airlock/state.db", "airlock.toml"):
        full = str(tmp_path / path)
        assert _risk(full, rules=rules) is Risk.CATASTROPHIC
        assert _risk(full, write=True, rules=rules) is Risk.CATASTROPHIC
    allowed = FileRules(allowed=("*",), protected=rules.protected)  # the allowlist cannot open them
    assert _risk(str(tmp_path / ".airlock/audit.key"), rules=allowed) is Risk.CATASTROPHIC


def test_overwriting_a_credential_is_destructive(tmp_path: Path, home: Path) -> None:
    assert _risk(str(home / ".aws" / "credentials"), write=True) is Risk.DESTRUCTIVE
    assert _risk(str(tmp_path / "main.py"), write=True) is Risk.WRITE


def test_the_rule_denies_through_the_real_judge(tmp_path: Path, home: Path) -> None:
    config = Config(path=None, state_dir=tmp_path / ".airlock")
    runtime = Runtime(config)
    caller = local_caller(config)

    def verdict(path: str, write: bool = False) -> Verdict:
        action = Action(FileAccess(path, write), caller.principal.name, "hook:test",
                        ActionContext(cwd=str(tmp_path), environment="local"))
        return runtime.judge.evaluate(action, caller).decision.verdict

    assert verdict(str(home / ".ssh" / "id_rsa")) is Verdict.DENY
    assert verdict(str(tmp_path / ".airlock" / "audit.key")) is Verdict.DENY
    assert verdict(str(tmp_path / ".airlock" / "state.db"), write=True) is Verdict.DENY
    assert verdict(str(tmp_path / "README.md")) is Verdict.ALLOW
    assert verdict(str(home / ".aws" / "credentials"), write=True) is Verdict.HOLD
    assert runtime.judge.policy.rules[0] == CREDENTIAL_FILES_RULE  # before any configured rule


def test_an_allowed_name_cannot_lead_to_another_credential(tmp_path: Path, home: Path) -> None:
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(AWS_KEY)
    link = tmp_path / ".env.test"
    link.symlink_to(home / ".aws" / "credentials")
    rules = FileRules(allowed=(".env.test",))
    assessment = classify_file_access(FileAccess(str(link)), cwd=None, rules=rules)
    assert assessment.risk is Risk.CATASTROPHIC
    assert f"it leads to {home / '.aws' / 'credentials'}" in " ".join(assessment.reasons)
    own = tmp_path / "notes.env"
    (tmp_path / ".airlock").mkdir()
    (tmp_path / ".airlock" / "audit.key").write_text("k")
    own.symlink_to(tmp_path / ".airlock" / "audit.key")
    guarded = FileRules(allowed=("*.env",), protected=(str(tmp_path / ".airlock"),))
    assert _risk(str(own), rules=guarded) is Risk.CATASTROPHIC


def test_too_many_files_to_scan_is_unknown(tmp_path: Path, home: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_text("x\n")
    monkeypatch.setattr(secrets_files, "MAX_CONTENT_SCANS", 2)
    assessment = classify_file_access(FileAccess(str(tmp_path / "*.txt")), cwd=None)
    assert not assessment.complete and assessment.risk.at_least(Risk.UNKNOWN)

"""The credentials scan: airlock's detect-secrets plugins (each found, its look-alikes not), a
realistic home (what is skipped, what is one folder finding), and environments."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airlock.credentials.scan import scan, scan_environment, whole_token

RAILWAY = "4f2c8a7e-1b2c-4d3e-8f9a-0b1c2d3e4f5a"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def kinds(home: Path, *roots: Path) -> dict[str, str]:
    """{"relative/path:line": kind} for everything found."""
    result = scan(list(roots) or [home], home=home)
    return {f"{os.path.relpath(f.path, home)}:{f.line}": f.kind for f in result.findings}


@pytest.mark.parametrize(("line", "kind", "secret"), [
    (f"RAILWAY_TOKEN={RAILWAY}", "Railway Token", RAILWAY),
    (f"export RAILWAY_API_TOKEN='{RAILWAY}'", "Railway Token", RAILWAY),
    ("DATABASE_URL=postgres://app:s3cr3tPassw0rd@db.internal:5432/app", "Database URL with password",
     "postgres://app:s3cr3tPassw0rd@db.internal:5432/app"),
    ("url: mysql://root:hunter2hunter@10.0.0.5/shop", "Database URL with password",
     "mysql://root:hunter2hunter@10.0.0.5/shop"),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", "AWS Secret Access Key", AWS_SECRET),
    ("GITHUB_TOKEN=github_pat_" + "A1b2C3d4E5" * 8, "GitHub Fine-Grained Token",
     "github_pat_" + "A1b2C3d4E5" * 8),
    ("STRIPE=sk_test_" + "a1B2c3D4e5F6" * 3, "Stripe Test Key", "sk_test_" + "a1B2c3D4e5F6" * 3),
    # a detector that captures part of a key: the whole key is what moves
    ("STRIPE_KEY=sk_live_abcdefghijklmnopqrstuvwx1234", "Stripe Access Key",
     "sk_live_abcdefghijklmnopqrstuvwx1234"),
    ("GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789", "GitHub Token",
     "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("DB_PASSWORD=hunter2isnotgood", "Secret assignment", "hunter2isnotgood"),
])
def test_each_kind_is_found_with_its_whole_secret(tmp_path: Path, line: str, kind: str,
                                                  secret: str) -> None:
    env = write(tmp_path / "proj" / ".env", f"DEBUG=1\n{line}\n")
    found = scan([env], home=tmp_path).findings
    assert [(f.line, f.kind) for f in found] == [(2, kind)]
    assert found[0].secret is not None and found[0].secret.reveal() == secret
    assert secret not in repr(found[0]) and secret not in str(found[0].to_json())


@pytest.mark.parametrize("line", [
    f"REQUEST_ID={RAILWAY}",  # a UUID alone is an id, not a Railway token
    "DATABASE_URL=postgres://app:password@localhost/app",  # a placeholder password
    "DATABASE_URL=postgres://app:${DB_PASSWORD}@localhost/app",  # a template
    "DATABASE_URL=postgres://localhost/app",  # no password at all
    "RAILWAY_TOKEN=airlock:railway",  # the pointer custody leaves behind
    "DB_PASSWORD=",
    "AWS_SECRET_ACCESS_KEY=short",
])
def test_look_alikes_are_not_credentials(tmp_path: Path, line: str) -> None:
    env = write(tmp_path / ".env", f"{line}\n")
    assert scan([env], home=tmp_path).findings == []


def test_a_realistic_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home / "proj" / ".env", f"RAILWAY_TOKEN={RAILWAY}\n")
    write(home / "proj" / ".env.example", "DB_PASSWORD=changeme-in-prod\n")  # a template
    write(home / "proj" / "src" / "app.py", "import os\nprint(os.environ['X'])\n")
    write(home / "proj" / "node_modules" / "pkg" / ".env", f"RAILWAY_TOKEN={RAILWAY}\n")
    write(home / "proj" / ".git" / "objects" / "ab" / "cd", f"RAILWAY_TOKEN={RAILWAY}\n")
    write(home / "proj" / ".git" / "config",
          "[remote \"origin\"]\n  url = https://x:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/a/b\n")
    write(home / ".aws" / "credentials",
          f"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {AWS_SECRET}\n")
    write(home / ".kube" / "config", "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n"
          "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFB\n")
    write(home / ".railway" / "config.json", f'{{"user": {{"token": "{RAILWAY}"}}}}\n')
    write(home / ".config" / "gcloud" / "logs" / "a.log", "nothing secret\n")
    write(home / ".config" / "gcloud" / "access_tokens.db", b"SQLite format 3\0binary")
    write(home / "keys" / "sa.json", '{\n  "type": "service_account",\n  "project_id": "acme",\n'
          '  "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n'
          '-----END PRIVATE KEY-----\\n"\n}\n')
    write(home / "big.txt", "x" * (2 * 1024 * 1024))
    (home / "link-to-secret").symlink_to(home / ".aws" / "credentials")
    found = kinds(home)
    assert found == {
        ".aws/credentials:2": "AWS Access Key",
        ".aws/credentials:3": "AWS Access Key",
        ".config/gcloud:0": "Credential folder",
        ".kube/config:6": "Kubernetes Credential",
        ".railway/config.json:1": "Railway Token",
        "keys/sa.json:2": "GCP Service Account Key",
        "keys/sa.json:4": "Private Key",
        "proj/.env:1": "Railway Token",
        "proj/.git/config:2": "GitHub Token",
    }


def test_environment_variables_by_value_and_by_name() -> None:
    found = {f.key: f.kind for f in scan_environment({
        "RAILWAY_TOKEN": RAILWAY, "PROD_DB": "postgres://a:b1234567@h/db",
        "MY_API_KEY": "abcdefghijkl12345", "HOME": "/root", "GITHUB_TOKEN": "",
        "EDITOR_TOKEN": "true", "SESSION": RAILWAY})}
    assert found == {"RAILWAY_TOKEN": "Railway Token", "PROD_DB": "Database URL with password",
                     "MY_API_KEY": "Secret named variable"}


def test_whole_token_widens_a_partial_capture_only_over_token_characters() -> None:
    assert whole_token("X=ghp_abc123 # note", "ghp") == "ghp_abc123"
    assert whole_token("url=postgres://a:b@h/db", "postgres://a:b@h/db") == "postgres://a:b@h/db"
    assert whole_token("nothing here", "absent") == "absent"

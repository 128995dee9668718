"""detect-secrets plugins for the credentials its defaults miss, and what each kind of credential
becomes in airlock's configuration.

    plugin                      finds                                         defaults miss it because
    RailwayTokenDetector        RAILWAY_TOKEN=<uuid>, "token": "<uuid>" in     a UUID is filtered out as
                                ~/.railway                                    an id (is_potential_uuid)
    DatabaseUrlDetector         postgres://user:pw@host/db, mysql://, …        Basic Auth finds the password,
                                                                              not the URL airlock needs
    AwsSecretKeyDetector        aws_secret_access_key = … (unquoted, ini/env)  AWSKeyDetector wants quotes
    GcpServiceAccountDetector   "type": "service_account" key files           it sees a private key, not
                                                                              whose
    KubeconfigDetector          client-key-data, token, password in kube       no detector for them
                                configs
    GitHubFineGrainedDetector   github_pat_…                                  only ghp_/gho_/… are known
    StripeTestKeyDetector       sk_test_… / rk_test_…                         only live keys are known
    SecretAssignmentDetector    DB_PASSWORD=… in .env and credentials files   the keyword detector wants
                                                                              quotes there

Plugins never verify a secret over the network (`verify` is detect-secrets' default: unverified).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from detect_secrets.plugins.base import RegexBasedDetector

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_KEY = r"""["']?[\w.-]*"""
_ASSIGN = r"""["']?\s*(?:=|:|:=|=>)\s*["']?"""


class RailwayTokenDetector(RegexBasedDetector):
    secret_type = "Railway Token"  # noqa: S105  (a name, not a secret)
    denylist: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(rf"railway{_KEY}(?:token|key|secret){_KEY}{_ASSIGN}({_UUID})\b", re.IGNORECASE),
    )
    _in_railway_file = re.compile(
        rf"""["']?(?:token|accessToken|apiToken)["']?\s*[:=]\s*["']?({_UUID})\b""", re.IGNORECASE)

    def analyze_line(self, filename: str, line: str, line_number: int = 0,
                     context: Any = None, **kwargs: Any) -> Any:
        found = super().analyze_line(filename=filename, line=line, line_number=line_number,
                                     context=context, **kwargs)
        if "railway" in filename.lower() and not found:
            from detect_secrets.core.potential_secret import PotentialSecret

            for match in self._in_railway_file.findall(line):
                found.add(PotentialSecret(self.secret_type, filename, match, line_number))
        return found


class DatabaseUrlDetector(RegexBasedDetector):
    secret_type = "Database URL with password"  # noqa: S105  (a name, not a secret)
    denylist: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"""(?<![\w+.-])((?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|"""
                   r"""amqps?)://[^\s:/@'"`]*:[^\s@'"`/]+@[^\s'"`]+)"""),
    )

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        for url in super().analyze_string(string):
            password = url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
            if not placeholder(password):
                yield url.rstrip(",;)")


class AwsSecretKeyDetector(RegexBasedDetector):
    secret_type = "AWS Secret Access Key"  # noqa: S105  (a name, not a secret)
    denylist: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(rf"aws_?secret_?access_?key{_ASSIGN}([A-Za-z0-9/+]{{40}})(?![A-Za-z0-9/+=])",
                   re.IGNORECASE),
    )


class GcpServiceAccountDetector(RegexBasedDetector):
    secret_type = "GCP Service Account Key"  # noqa: S105  (a name, not a secret)
    denylist: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"""["']type["']\s*:\s*["'](service_account)["']"""),
    )


class KubeconfigDetector(RegexBasedDetector):
    secret_type = "Kubernetes Credential"  # noqa: S105  (a name, not a secret)
    denylist: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"^\s*client-key-data:\s*([A-Za-z0-9+/=]{20,})\s*$", re.MULTILINE),
    )
    _in_kubeconfig = re.compile(r"""^\s*(?:token|password|id-token|refresh-token):\s*["']?([^\s"'#]{8,})""")

    def analyze_line(self, filename: str, line: str, line_number: int = 0,
                     context: Any = None, **kwargs: Any) -> Any:
        found = super().analyze_line(filename=filename, line=line, line_number=line_number,
                                     context=context, **kwargs)
        name = filename.lower()
        if not found and ("kube" in name or name.endswith((".kubeconfig",))):
            from detect_secrets.core.potential_secret import PotentialSecret

            for match in self._in_kubeconfig.findall(line):
                if not placeholder(match):
                    found.add(PotentialSecret(self.secret_type, filename, match, line_number))
        return found


class SecretAssignmentDetector(RegexBasedDetector):
    """`DB_PASSWORD=hunter2` in a file named as credentials (`.env`, `*.env`, `credentials`):
    detect-secrets' keyword detector wants quotes in files whose type it does not know."""

    secret_type = "Secret assignment"  # noqa: S105  (a name, not a secret)
    denylist: ClassVar[tuple[re.Pattern[str], ...]] = ()
    _assignment = re.compile(r"""^\s*(?:export\s+)?[A-Za-z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|"""
                             r"""API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|AUTH)[A-Za-z0-9_]*\s*=\s*"""
                             r"""["']?([^\s"'#]{8,})""", re.IGNORECASE)
    _files = re.compile(r"(?i)(?:^|/)(?:\.env(?:\.[^/]*)?|[^/]*\.env|credentials)$")

    def analyze_line(self, filename: str, line: str, line_number: int = 0,
                     context: Any = None, **kwargs: Any) -> Any:
        from detect_secrets.core.potential_secret import PotentialSecret

        found = set()
        if self._files.search(filename) and not filename.lower().endswith(
                (".example", ".sample", ".template", ".dist", ".defaults")):
            for match in self._assignment.findall(line):
                if not placeholder(match):
                    found.add(PotentialSecret(self.secret_type, filename, match, line_number))
        return found


class GitHubFineGrainedDetector(RegexBasedDetector):
    secret_type = "GitHub Fine-Grained Token"  # noqa: S105  (a name, not a secret)
    denylist: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"\b(github_pat_[A-Za-z0-9_]{60,})"),
    )


class StripeTestKeyDetector(RegexBasedDetector):
    secret_type = "Stripe Test Key"  # noqa: S105  (a name, not a secret)
    denylist: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"\b((?:sk|rk)_test_[0-9a-zA-Z]{24,})"),
    )


PLUGINS: tuple[type[RegexBasedDetector], ...] = (
    RailwayTokenDetector, DatabaseUrlDetector, AwsSecretKeyDetector, GcpServiceAccountDetector,
    KubeconfigDetector, GitHubFineGrainedDetector, StripeTestKeyDetector,
    SecretAssignmentDetector,
)

_PLACEHOLDERS = frozenset({"password", "pass", "passwd", "secret", "changeme", "xxx", "xxxx",
                           "***", "****", "<password>", "your-password", "example", "pw", "user"})


def placeholder(value: str) -> bool:
    """A value that stands for a credential without being one."""
    if value.startswith("airlock:"):  # the pointer custody leaves behind
        return True
    lowered = value.lower().strip("<>{}[]()$%")
    return lowered in _PLACEHOLDERS or set(lowered) <= {"x", "*", "."} or lowered.startswith(
        ("${", "{{", "%(", "$(")) or value.startswith(("${", "{{", "$(", "<"))


# --------------------------------------------------------------------------------------------
# What a credential becomes in airlock's configuration


@dataclass(frozen=True, slots=True)
class Custody:
    """How airlock holds a kind of credential: the resource it declares and whether the whole
    file is the credential (a service-account key file, a kube config)."""

    kind: str  # the resource kind (`[resources.X] kind`)
    field: str  # "url" (databases) or "credential" (APIs and the rest)
    base_url: str | None = None
    whole_file: bool = False


_DB_KINDS = {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql",
             "mariadb": "mysql", "mongodb": "mongodb", "mongodb+srv": "mongodb",
             "redis": "redis", "rediss": "redis"}

CUSTODY: dict[str, Custody] = {
    "Railway Token": Custody("api", "credential", "https://backboard.railway.app/graphql/v2"),
    "GitHub Token": Custody("api", "credential", "https://api.github.com"),
    "GitHub Fine-Grained Token": Custody("api", "credential", "https://api.github.com"),
    "Stripe Access Key": Custody("api", "credential", "https://api.stripe.com"),
    "Stripe Test Key": Custody("api", "credential", "https://api.stripe.com"),
    "AWS Access Key": Custody("other", "credential"),
    "AWS Secret Access Key": Custody("other", "credential"),
    "GCP Service Account Key": Custody("project", "credential", whole_file=True),
    "Kubernetes Credential": Custody("namespace", "credential", whole_file=True),
    "GitLab Token": Custody("api", "credential", "https://gitlab.com/api/v4"),
    "Slack Token": Custody("api", "credential", "https://slack.com/api"),
    "OpenAI Token": Custody("api", "credential", "https://api.openai.com"),
}


def custody_of(kind: str, secret: str) -> Custody | None:
    """The custody for a found credential, or None when airlock cannot use it on the
    developer's behalf (an SSH key, a password in a config file)."""
    if kind == "Database URL with password":
        scheme = secret.split("://", 1)[0].lower()
        db_kind = _DB_KINDS.get(scheme)
        return Custody(db_kind, "url") if db_kind else Custody("other", "credential")
    return CUSTODY.get(kind)

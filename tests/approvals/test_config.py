"""`[approvals]` in airlock.toml: defaults, and nonsense refused at start-up with the key named."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airlock.errors import ConfigError
from tests.factories import make_config


def test_defaults() -> None:
    settings = make_config().approvals
    assert settings.ttl == timedelta(minutes=15) and settings.use_window == timedelta(minutes=15)
    assert settings.key is None and settings.public_url is None and settings.webhooks == ()
    assert settings.session_idle == timedelta(minutes=30)
    assert settings.session_max == timedelta(hours=8)


def test_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_HOOK", "https://hooks.slack.com/services/T/B/xyz")
    monkeypatch.setenv("APPROVALS_KEY", "k" * 40)
    settings = make_config("""
[approvals]
ttl = "30m"
use_window = "5m"
key = { env = "APPROVALS_KEY" }

[approvals.console]
public_url = "https://airlock.example.com/"
session_idle = "10m"
session_max = "12h"

[[approvals.webhooks]]
url = { env = "SLACK_HOOK" }
format = "slack"

[[approvals.webhooks]]
url = "https://ops.example.com/airlock"
""").approvals
    assert settings.ttl == timedelta(minutes=30) and settings.use_window == timedelta(minutes=5)
    assert settings.key is not None and settings.key.reveal() == "k" * 40
    assert settings.public_url == "https://airlock.example.com"
    assert settings.session_idle == timedelta(minutes=10)
    assert [w.format for w in settings.webhooks] == ["slack", "json"]
    assert "xyz" not in repr(settings.webhooks[0])  # the Slack URL is a credential


@pytest.mark.parametrize(("toml", "message"), [
    ('[approvals]\nttl = "soon"', "`approvals.ttl`: 'soon' is not a duration"),
    ('[approvals]\nttl = "10s"', "`approvals.ttl`: 10s is outside the allowed range"),
    ('[approvals]\nuse_window = "3d"', "`approvals.use_window`: 3d is outside"),
    ('[approvals.console]\nsession_max = "30d"', "`approvals.console.session_max`"),
    ('[approvals.console]\npublic_url = "airlock.local"', "is not an http(s) URL"),
    ('[[approvals.webhooks]]\nurl = "ftp://x.example/"', "must start with https://"),
    ('[[approvals.webhooks]]\nurl = "https://u:pw@x.example/"', "contains a password"),
    ('[[approvals.webhooks]]\nurl = "https://x.example/"\nformat = "teams"', "approvals.webhooks.0.format"),
    ('[approvals]\nkey = { env = "AIRLOCK_NO_SUCH_VARIABLE" }', "AIRLOCK_NO_SUCH_VARIABLE is not set"),
    ('[approvals]\nttl_minutes = 5', "`approvals.ttl_minutes`: unknown key"),
])
def test_nonsense_is_refused_with_the_key_named(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(toml)
    assert message in str(info.value)

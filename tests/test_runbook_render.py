"""Rendering a runbook: facts in, Markdown / HTML / JSON out — no state, no database."""

from __future__ import annotations

import json
import re

from airlock.runbook.facts import Approval, Drill, Neighbour, Runbook, SnapshotLine, Step, age
from airlock.runbook.render import render


def _book(summary: str = "table public.orders") -> Runbook:
    snap = SnapshotLine("snap_1", "postgres-table", "2031-05-04T11:00:00+00:00", "1 h", "3 kB",
                        "act_1", summary, "airlock restore snap_1", "airlock undo act_1", "")
    return Runbook(
        resource="app", kind="postgres", environment="live", production=True,
        description="", generated_at="2031-05-04T12:00:00+00:00", config="/etc/airlock.toml",
        vault="/srv/vault", vault_key="file /var/lib/airlock/vault.key", snapshots=(snap,),
        blast_radius=(Neighbour("exports", "live", "other", "stored on app"),),
        lives_on=("disk (volume, live)",), approvers=("alice",),
        approvals=(Approval("DROP DATABASE (all of it)", "hold", 2, "builtin:x"),),
        last_drill=Drill("2031-05-03T00:00:00+00:00", False, "snap_0", "postgres-table", "boom"),
        last_passing_drill=None,
        steps=(Step("Check the vault", "…", ("airlock vault verify",)),
               Step("Restore", "…", ("airlock undo act_1",))),
        from_vault_alone="airlock restore snap_1 --vault /srv/vault --key-file K --into T",
        warnings=("a hold on app can need 2 approvals but 1 approver(s) are enrolled",))


def test_markdown_puts_warnings_first_and_the_procedure_in_ordered_shell_blocks() -> None:
    text = render(_book(), "md")
    assert text.index("## Read first") < text.index("## Recovery procedure") < text.index(
        "## Backups")
    blocks = re.findall(r"^```sh\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    assert blocks == ["airlock vault verify\n", "airlock undo act_1\n"]
    assert "in live (production)" in text
    assert "app itself is lost with: disk (volume, live)." in text
    assert "2031-05-03T00:00:00: FAIL — snap_0 (postgres-table): boom." in text


def test_markdown_table_survives_a_pipe_in_a_name() -> None:
    text = render(_book("table public.\"a|b\""), "md")
    [row] = [line for line in text.splitlines() if line.startswith("| `snap_1`")]
    assert row.count(" | ") == 8  # nine cells, the pipe in the name escaped
    assert 'public."a\\|b"' in row


def test_html_escapes_everything_and_carries_no_script() -> None:
    page = render(_book("<script>alert(1)</script>"), "html")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "default-src 'none'" in page


def test_json_is_the_facts() -> None:
    data = json.loads(render(_book(), "json"))
    assert data["snapshots"][0]["undo"] == "airlock undo act_1"
    assert data["last_drill"]["ok"] is False and data["production"] is True


def test_age_is_read_from_the_given_clock() -> None:
    from datetime import UTC, datetime

    now = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
    assert age("2031-05-04T11:59:30+00:00", now) == "30 s"
    assert age("2031-05-04T10:00:00+00:00", now) == "2 h"
    assert age("2031-04-01T12:00:00+00:00", now) == "33 d"
    assert age("2031-05-05T12:00:00+00:00", now) == "0 s"  # a clock behind the snapshot

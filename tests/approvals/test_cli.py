"""`airlock approver …`, `airlock approve|deny`, `airlock approvals`, as people and scripts
run them: real processes, real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airlock.model import Action, ShellCommand, Status
from tests.approvals.helpers import enrol_by_cli, runtime_for, write_project
from tests.cli import airlock
from tests.factories import caller


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path)


def hold(project: Path, command: str) -> str:
    """A hold made the way a hook process makes one: the gate, in-process, on the same state."""
    runtime = runtime_for(project)
    outcome = runtime.gate().submit(Action(ShellCommand(command), "agent", "hook"), caller())
    runtime.close()
    assert outcome.status is Status.HELD and outcome.approval_id
    return outcome.approval_id


def test_approver_add_refuses_agents_and_unknown_names(project: Path) -> None:
    agent = airlock("approver", "add", "agent", cwd=project)
    assert agent.returncode == 2 and "only humans approve" in agent.stderr
    unknown = airlock("approver", "add", "mallory", cwd=project)
    assert unknown.returncode == 2 and "humans declared: alice, bob, carol" in unknown.stderr
    assert "no approvers" in airlock("approver", "list", cwd=project).stdout


def test_approver_add_prints_credential_uri_and_qr_once(project: Path) -> None:
    result = airlock("approver", "add", "alice", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "otpauth://totp/airlock:alice?secret=" in result.stdout
    assert "▀" in result.stdout or "█" in result.stdout  # the QR code
    credential = result.stdout.splitlines()[-1]
    assert credential.startswith("alk_apv_alice_")
    again = airlock("approver", "add", "alice", cwd=project)
    assert again.returncode == 2 and "--replace" in again.stderr
    listing = json.loads(airlock("approver", "list", "--json", cwd=project).stdout)
    assert [a["name"] for a in listing] == ["alice"] and listing[0]["declared"] == "human"
    assert credential not in json.dumps(listing)
    export = airlock("audit", "export", cwd=project).stdout
    assert '"approver_added"' in export and credential[-43:] not in export


def test_replace_voids_the_old_credential(project: Path) -> None:
    old = enrol_by_cli(project, "alice")
    replaced = airlock("approver", "add", "alice", "--replace", cwd=project)
    assert replaced.returncode == 0 and "re-enrolled" in replaced.stdout
    apr = hold(project, "rm -rf /srv/data")
    result = airlock("approve", apr, "--token", old.credential, "--code", old.code(),
                     "--without-backup", cwd=project)
    assert result.returncode == 2 and "wrong credential" in result.stderr


def test_approve_prompts_for_credential_and_code(project: Path) -> None:
    alice = enrol_by_cli(project, "alice")
    apr = hold(project, "rm -rf /srv/data")
    result = airlock("approve", apr, "--without-backup", cwd=project,
                     input=f"{alice.credential}\n{alice.code()}\n")
    assert result.returncode == 0, result.stderr
    assert "rm -rf /srv/data" in result.stdout and "no backup" in result.stdout  # shown first
    assert alice.credential not in result.stdout  # typed hidden, never echoed
    assert "approved" in result.stdout


def test_wrong_code_is_a_clear_error_and_recorded(project: Path) -> None:
    alice = enrol_by_cli(project, "alice")
    apr = hold(project, "rm -rf /srv/data")
    result = airlock("approve", apr, "--without-backup", "--token", alice.credential, "--code",
                     alice.wrong_code(), cwd=project)
    assert result.returncode == 2
    assert "wrong TOTP code" in result.stderr and "current 6-digit code" in result.stderr
    assert '"why": "bad_code"' in airlock("audit", "export", cwd=project).stdout


def test_deny_needs_a_reason(project: Path) -> None:
    alice = enrol_by_cli(project, "alice")
    apr = hold(project, "rm -rf /srv/data")
    missing = airlock("deny", apr, "--token", alice.credential, "--code", alice.code(),
                      cwd=project)
    assert missing.returncode == 2 and "--reason" in missing.stderr
    blank = airlock("deny", apr, "--reason", " ", "--token", alice.credential, "--code",
                    alice.code(), cwd=project)
    assert blank.returncode == 2 and "needs a reason" in blank.stderr
    done = airlock("deny", apr, "--reason", "not on a Friday", "--token", alice.credential,
                   "--code", alice.code(), cwd=project)
    assert done.returncode == 0 and "not on a Friday" in done.stdout


def test_unknown_approval_and_unreachable_server_are_clear(project: Path) -> None:
    alice = enrol_by_cli(project, "alice")
    missing = airlock("approve", "apr_nope", "--token", alice.credential, "--code", "123456",
                      cwd=project)
    assert missing.returncode == 2 and "no approval apr_nope" in missing.stderr
    assert "airlock approvals" in missing.stderr
    nowhere = airlock("approve", "apr_nope", "--token", alice.credential, "--code", "123456",
                      "--server", "http://127.0.0.1:9", cwd=project)
    assert nowhere.returncode == 2 and "cannot reach" in nowhere.stderr
    bad_url = airlock("approve", "apr_nope", "--token", "x", "--code", "1", "--server", "nope",
                      cwd=project)
    assert bad_url.returncode == 2 and "not an http(s) URL" in bad_url.stderr


def test_approvals_lists_what_waits_and_with_all_what_was_decided(project: Path) -> None:
    alice = enrol_by_cli(project, "alice")
    assert "nothing is waiting" in airlock("approvals", cwd=project).stdout
    first = hold(project, "rm -rf /srv/data")
    second = hold(project, "PGPASSWORD=hunter2 psql -h db.prod.internal -c 'DROP TABLE users'")
    airlock("deny", first, "--reason", "no", "--token", alice.credential, "--code",
            alice.code(), cwd=project)
    waiting = airlock("approvals", cwd=project).stdout
    assert second in waiting and first not in waiting and "hunter2" not in waiting
    rows = json.loads(airlock("approvals", "--all", "--json", cwd=project).stdout)
    assert {r["id"]: r["status"] for r in rows} == {first: "denied", second: "pending"}
    denied = next(r for r in rows if r["id"] == first)
    assert denied["reason"] == "no" and denied["decided_by"] == ["alice"]


def test_removed_approver_cannot_approve(project: Path) -> None:
    alice = enrol_by_cli(project, "alice")
    assert airlock("approver", "remove", "alice", cwd=project).returncode == 0
    apr = hold(project, "rm -rf /srv/data")
    result = airlock("approve", apr, "--without-backup", "--token", alice.credential, "--code",
                     alice.code(), cwd=project)
    assert result.returncode == 2 and "unknown approver or wrong credential" in result.stderr
    again = airlock("approver", "remove", "alice", cwd=project)
    assert again.returncode == 2 and "is not an approver" in again.stderr


def test_up_warns_when_the_state_folder_is_open_to_other_users(project: Path) -> None:
    from tests.approvals.helpers import start_server

    state = project / ".airlock"
    state.mkdir(mode=0o755)
    state.chmod(0o755)  # the mistake being detected (mkdir applies the umask)
    server = start_server(project)
    try:
        log = server.log.read_text()
    finally:
        server.stop()
    assert "warning:" in log and f"{state} is open to other users (mode 755)" in log
    assert f"chmod 700 {state}" in log
    assert "approval console: http://127.0.0.1:" in log


def test_approving_what_no_backup_protects_needs_without_backup(project: Path) -> None:
    """No vault here, so `rm -rf /srv/data` cannot be backed up: approving says so by name,
    the refusal comes before any code is asked for or spent, and the outcome says it ran
    without a backup — never that one was taken."""
    alice = enrol_by_cli(project, "alice")
    apr = hold(project, "rm -rf /srv/data")
    code = alice.code()
    refused = airlock("approve", apr, "--token", alice.credential, "--code", code, cwd=project)
    assert refused.returncode == 2
    assert "without a backup" in refused.stderr and "--without-backup" in refused.stderr
    prompted = airlock("approve", apr, cwd=project, input="")  # refused before any prompt
    assert prompted.returncode == 2 and "credential" not in prompted.stdout
    approved = airlock("approve", apr, "--without-backup", "--token", alice.credential, "--code",
                       code, cwd=project)  # the same code: it was not spent above
    assert approved.returncode == 0, approved.stderr
    assert "runs without a backup" in approved.stdout
    runtime = runtime_for(project)
    try:
        outcome = runtime.gate().submit(Action(ShellCommand("rm -rf /srv/data"), "agent", "hook"),
                                        caller())
        assert outcome.status is Status.ALLOWED
        assert "ran without a backup of" in outcome.reason and "accepted by alice" in outcome.reason
        assert "verified" not in outcome.reason
        [record] = [r for r in runtime.store.audit_records() if r.kind == "outcome"
                    and r.action_id == outcome.action_id]
        assert record.data["backup"].startswith("ran without a backup of")
        [given] = [r for r in runtime.store.audit_records() if r.kind == "approval_given"]
        assert given.data["without_backup"] is True
    finally:
        runtime.close()


def test_approve_over_the_server_shows_the_action_before_asking_for_the_code(
        project: Path) -> None:
    """`--server` mode reads the hold through the running service (the approver's account
    cannot read airlock's state): the action, the missing backup and the agent's words come
    first; the code is asked for only then, and a wrong credential never gets that far."""
    from tests.approvals.helpers import start_server

    alice = enrol_by_cli(project, "alice")
    apr = hold(project, "rm -rf /srv/data")
    server = start_server(project)
    try:
        wrong = airlock("approve", apr, "--server", server.base, cwd=project,
                        input="alk_apv_alice_" + "x" * 43 + "\n123456\n")
        assert wrong.returncode == 2 and "wrong credential" in wrong.stderr
        assert "authenticator code" not in wrong.stdout and "rm -rf" not in wrong.stdout
        gap = airlock("approve", apr, "--server", server.base, cwd=project,
                      input=f"{alice.credential}\n")
        assert gap.returncode == 2 and "--without-backup" in gap.stderr
        assert "rm -rf /srv/data" in gap.stdout and "authenticator code" not in gap.stdout
        done = airlock("approve", apr, "--server", server.base, "--without-backup", "--json",
                       cwd=project, input=f"{alice.credential}\n{alice.code()}\n")
        assert done.returncode == 0, done.stderr
        shown = done.stderr.index("rm -rf /srv/data")
        assert "no backup" in done.stderr[shown:]
        result = json.loads(done.stdout[done.stdout.index("{"):])
        assert result["status"] == "approved" and result["decision"] == "approve"
        assert alice.credential not in done.stdout + done.stderr
    finally:
        server.stop()


def test_approvals_is_a_table_that_folds_rather_than_cuts(project: Path) -> None:
    long = "rm -rf /srv/" + "very-long-folder-name-" * 7 + "end"  # (summaries keep 200)
    apr = hold(project, long)
    listing = airlock("approvals", cwd=project).stdout
    assert "ID" in listing and "Status" in listing and "Expires" in listing  # headers
    assert apr in listing and "in 15 min" in listing
    assert "end" in listing and "…" not in listing  # the whole command, folded


def test_json_from_deny_audit_verify_config_check_and_policy_explain(tmp_path: Path) -> None:
    from tests.approvals.helpers import TWO_PEOPLE

    project = write_project(tmp_path, TWO_PEOPLE.replace("approvals = 2", "approvals = 4"))
    alice = enrol_by_cli(project, "alice")
    apr = hold(project, "rm -rf /srv/data")
    denied = airlock("deny", apr, "--reason", "not now", "--json", "--token", alice.credential,
                     "--code", alice.code(), cwd=project)
    assert denied.returncode == 0, denied.stderr
    assert json.loads(denied.stdout)["status"] == "denied"
    assert "rm -rf /srv/data" in denied.stderr  # the action, shown where JSON is not
    verified = airlock("audit", "verify", "--json", cwd=project)
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["ok"] and report["count"] > 3
    checked = airlock("config", "check", "--json", cwd=project)
    warnings = json.loads(checked.stdout)["warnings"]
    assert "holds for 4 approvals, but only 1 of the 3 declared human(s) are enrolled" \
        in warnings[0]
    plain = airlock("config", "check", cwd=project)
    assert plain.returncode == 0 and "warning:" in plain.stderr
    explained = json.loads(airlock("policy", "explain", "DROP TABLE users", "--kind", "sql",
                                   "--resource", "prod-db", "--json", cwd=project).stdout)
    assert explained["verdict"] == "hold" and explained["trace"]

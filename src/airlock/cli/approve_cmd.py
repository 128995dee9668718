"""`airlock approver add|list|remove`, `airlock approve ID`, `airlock deny ID`, `airlock approvals`.

Approving asks for the approver's credential (hidden) and a TOTP code; scripts pass
`--token` and `--code`. By default the decision is written to the state store directly (the CLI
runs as airlock's user); with `--server URL` it goes to a running `airlock up` instead, which is
how a person approves when airlock runs as its own OS user and their account cannot read its
state.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from airlock.approvals import effective_status
from airlock.approvers import enrol
from airlock.cli.app import CliState, app, err, out, state
from airlock.config import Config
from airlock.console.moments import relative
from airlock.console.views import approval_json, environments
from airlock.errors import ApprovalError, AuthError, InputError
from airlock.model import PrincipalKind, utcnow
from airlock.redact import redact_text
from airlock.store import ApprovalStatus
from airlock.tokens import TOKEN_RE

approver_app = typer.Typer(no_args_is_help=True,
                           help="Enrol, list and remove the humans who approve held actions.")
app.add_typer(approver_app, name="approver")


# ---- approvers -------------------------------------------------------------------------------

@approver_app.command("add")
def approver_add(ctx: typer.Context,
                 name: str = typer.Argument(..., help="A human principal declared in the config."),
                 replace: bool = typer.Option(False, "--replace",
                                              help="Issue a new credential and TOTP seed; the "
                                                   "old ones stop working.")) -> None:
    """Enrol an approver: prints their credential and TOTP set-up once."""
    runtime = state(ctx).runtime()
    enrolment = enrol(runtime.store, runtime.config, runtime.approvals_key, name.strip(),
                      replace=replace)
    runtime.audit.record("approver_added", None, {"approver": enrolment.record.name,
                                                  "replaced": replace})
    out.print(f"approver {escape(enrolment.record.name)} "
              f"{'re-enrolled' if replace else 'enrolled'}.")
    out.print("1. Scan this QR code with an authenticator app (or enter the URI below):")
    print(enrolment.qr_text(), end="")
    print(enrolment.uri)
    out.print("2. Keep the credential in a password manager. It is shown once and never stored:")
    out.print("   do not keep it anywhere an agent can read (files, environment variables).")
    print(enrolment.credential)


@approver_app.command("list")
def approver_list(ctx: typer.Context,
                  as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List approvers (never their credentials or seeds)."""
    runtime = state(ctx).runtime()
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for record in runtime.store.list_approvers():
        pconf = runtime.config.principals.get(record.name)
        locked = bool(record.locked_until and datetime.fromisoformat(record.locked_until) > now)
        rows.append({"name": record.name, "enrolled_at": record.created_at,
                     "last_used_at": record.last_used_at, "locked_until":
                     record.locked_until if locked else None,
                     "declared": pconf.kind.value if pconf else None})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("no approvers; enrol one with `airlock approver add NAME`")
        return
    for r in rows:
        note = ""
        if r["declared"] != "human":
            note = "  ! not a human in the configuration: cannot approve"
        elif r["locked_until"]:
            note = f"  ! locked until {r['locked_until']}"
        out.print(f"{escape(r['name']):<20} enrolled {r['enrolled_at']}  "
                  f"last used {r['last_used_at'] or 'never'}{escape(note)}")


@approver_app.command("remove")
def approver_remove(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Remove an approver: their credential, codes and console sessions stop working."""
    runtime = state(ctx).runtime()
    if not runtime.store.remove_approver(name):
        known = ", ".join(a.name for a in runtime.store.list_approvers()) or "none"
        raise InputError(f"{name} is not an approver (approvers: {known})")
    runtime.audit.record("approver_removed", None, {"approver": name})
    out.print(f"removed approver {escape(name)}")


def enrolled_approvers(st: CliState) -> set[str] | None:
    """The enrolled approvers, when this account can read the state (None otherwise: a
    configuration check must not create or require the state)."""
    if not st.config().state_dir.exists():
        return None
    try:
        return {a.name for a in st.runtime().store.list_approvers()}
    except Exception:  # unreadable state: the check still reports what the config says
        return None


def approver_shortfalls(config: Config, enrolled: set[str] | None) -> list[str]:
    """Warnings for rules whose holds need more people than can approve them: more than the
    humans declared, or (when the state is readable) more than are enrolled. Such a hold can
    only expire."""
    humans = sorted(p.name for p in config.principals.values()
                    if p.kind is PrincipalKind.HUMAN)
    able = [h for h in humans if enrolled is None or h in enrolled]
    problems = []
    for rule in config.rules:
        if rule.approvals <= len(able):
            continue
        who = (f"{len(humans)} human(s) are declared" if enrolled is None or
               len(able) == len(humans) else
               f"only {len(able)} of the {len(humans)} declared human(s) are enrolled")
        problems.append(f"rule {rule.name!r} holds for {rule.approvals} approvals, but {who}: "
                        "its holds can only expire (declare and enrol more approvers with "
                        "`airlock approver add NAME`, or lower the rule's approvals)")
    return problems


# ---- deciding --------------------------------------------------------------------------------

def _show(view: dict[str, Any], to: Console) -> None:
    """The hold as the console's page says it (the same JSON, local or from --server); with
    `--json` it goes to stderr, so stdout stays one JSON document."""
    envs = view.get("environments") or []
    where = ", ".join(f"{e['label']}{' (PRODUCTION)' if e['production'] else ''}" for e in envs)
    to.print(f"[bold]{view['id']}[/]  {str(view['risk']).upper()} in "
              f"{escape(where or 'no known environment')}  requested by "
              f"{escape(str(view['principal']))}  ({view['status']}, {view['approvals']} of "
              f"{view['approvals_required']} approvals)")
    to.print(f"  {escape(str(view['summary']))}")
    said = (view.get("agent_says") or {}).get("description")
    if said:
        to.print(f"  the agent says (not checked): {escape(str(said))}")
    if view.get("reason"):
        to.print(f"  held because: {escape(str(view['reason']))}")
    plan = view.get("plan") or {}
    for step in plan.get("steps") or []:
        to.print(f"  backup first: {escape(str(step['target']))} ({escape(str(step['method']))})")
        for t in step.get("tables") or []:
            rows = f"~{t['rows']:,} rows" if isinstance(t.get("rows"), int) else "rows unknown"
            to.print(f"    reaches {escape(str(t['name']))}: {rows}")
    for gap in plan.get("unprotected") or []:
        to.print(f"  [yellow]no backup[/] of {escape(str(gap.get('target')))}: "
                  f"{escape(str(gap.get('why')))}")


def _over_http(server: str, approval_id: str, body: dict[str, Any],
               what: str = "decision") -> dict[str, Any]:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"--server {server!r} is not an http(s) URL (e.g. http://127.0.0.1:8377)")
    url = f"{server.rstrip('/')}/console/api/approvals/{quote(approval_id)}/{what}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        error = AuthError if exc.code in (401, 403, 429) else ApprovalError
        raise error(f"{server} refused: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"cannot reach {server}: {getattr(exc, 'reason', exc)}",
                         hint="is `airlock up` running there?") from None


def _decide(st: CliState, approval_id: str, *, approve: bool, token: str | None,
            code: str | None, reason: str, server: str | None,
            without_backup: bool = False, as_json: bool = False) -> None:
    from airlock.decisions import clean_reason

    clean_reason(reason, approve=approve)
    if server is None:
        runtime = st.runtime()
        approval = runtime.store.get_approval(approval_id)
        if approval is None:
            raise ApprovalError(f"no approval {approval_id}",
                                hint="list pending approvals with `airlock approvals`")
        _show(approval_json(approval, runtime.config, utcnow()), err if as_json else out)
        if approve and not without_backup and not (token and TOKEN_RE.match(token.strip())):
            runtime.desk.require_backup_accepted(approval_id)  # say so before asking for a code
    credential = token or typer.prompt("approver credential", hide_input=True)
    if server is not None:  # the action first, as in local mode: then the code
        view = _over_http(server, approval_id, {"credential": credential}, "preview")
        _show(view, err if as_json else out)
        gaps = (view.get("plan") or {}).get("unprotected") or []
        if approve and gaps and not without_backup:
            raise ApprovalError(
                f"nothing can back up {', '.join(str(g.get('target')) for g in gaps)}, so "
                "approving means accepting that it runs without a backup",
                hint="add --without-backup if you accept that (no code was spent)")
    code = code or typer.prompt("authenticator code")
    if server is not None:
        body: dict[str, Any] = {"credential": credential, "code": code, "reason": reason,
                                "decision": "approve" if approve else "deny"}
        if without_backup:
            body["without_backup"] = True
        answer = _over_http(server, approval_id, body)
        status, approvals, needed = answer["status"], answer["approvals"], \
            answer["approvals_required"]
    else:
        record = runtime.desk.decide_with_code(approval_id, credential, code, approve=approve,
                                               reason=reason, via="cli",
                                               without_backup=without_backup)
        status, approvals, needed = record.status.value, \
            sum(g.decision == "approve" for g in record.grants), record.approvals_required
    if as_json:
        print(json.dumps({"id": approval_id, "decision": "approve" if approve else "deny",
                          "status": status, "approvals": approvals,
                          "approvals_required": needed, "without_backup": without_backup,
                          "reason": reason}, indent=2, ensure_ascii=False))
        return
    if not approve:
        out.print(f"denied {approval_id}; the agent is told: {escape(reason)}")
        return
    if without_backup:
        out.print("you accepted that it runs without a backup of what no backup can protect; "
                  "this is recorded with your approval")
    if status == ApprovalStatus.APPROVED.value:
        out.print(f"approved {approval_id} ({approvals} of {needed}): the identical action "
                  "may now pass once")
    else:
        out.print(f"recorded your approval of {approval_id} ({approvals} of {needed}); "
                  f"{needed - approvals} more person(s) must approve")


_TOKEN = typer.Option(None, "--token", help="The approver credential (for scripts; prompts "
                                             "hidden if left out).")
_CODE = typer.Option(None, "--code", help="The current TOTP code (prompts if left out).")
_JSON = typer.Option(False, "--json", help="Print the result as JSON (the action is shown on "
                                           "stderr).")
_SERVER = typer.Option(None, "--server", metavar="URL",
                       help="Decide through a running `airlock up` (e.g. http://127.0.0.1:8377) "
                            "instead of the local state.")


@app.command()
def approve(ctx: typer.Context, approval_id: str = typer.Argument(..., help="apr_…"),
            token: str | None = _TOKEN, code: str | None = _CODE,
            reason: str = typer.Option("", "--reason", help="A note kept with the approval."),
            server: str | None = _SERVER,
            without_backup: bool = typer.Option(
                False, "--without-backup",
                help="Accept that the action runs with no backup of what airlock cannot back "
                     "up (required when its safety plan lists such a target)."),
            as_json: bool = _JSON) -> None:
    """Approve a held action (shows it, then asks for your credential and a TOTP code)."""
    _decide(state(ctx), approval_id.strip(), approve=True, token=token, code=code,
            reason=reason, server=server, without_backup=without_backup, as_json=as_json)


@app.command()
def deny(ctx: typer.Context, approval_id: str = typer.Argument(..., help="apr_…"),
         reason: str = typer.Option(..., "--reason", help="What the agent is told."),
         token: str | None = _TOKEN, code: str | None = _CODE,
         server: str | None = _SERVER, as_json: bool = _JSON) -> None:
    """Deny a held action with a reason (asks for your credential and a TOTP code)."""
    _decide(state(ctx), approval_id.strip(), approve=False, token=token, code=code,
            reason=reason, server=server, as_json=as_json)


@app.command("approvals")
def list_approvals(ctx: typer.Context,
                   show_all: bool = typer.Option(False, "--all",
                                                 help="Recent approvals of every status."),
                   as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List held actions waiting for approval (with --all: recent ones of every status)."""
    runtime = state(ctx).runtime()
    now = utcnow()
    found = runtime.store.list_approvals(status=None if show_all else ApprovalStatus.PENDING,
                                         limit=100)
    rows: list[dict[str, Any]] = []
    for a in found:
        status = effective_status(a, now)
        if not show_all and status is not ApprovalStatus.PENDING:
            continue
        envs = environments(a.details, runtime.config)
        rows.append({"id": a.id, "status": status.value, "risk": a.risk.value,
                     "environments": [e.name for e in envs],
                     "production": any(e.production for e in envs),
                     "principal": a.principal, "summary": redact_text(a.summary),
                     "approvals": sum(g.decision == "approve" for g in a.grants),
                     "approvals_required": a.approvals_required,
                     "requested_at": a.requested_at, "expires_at": a.expires_at,
                     "decided_by": [g.approver for g in a.grants], "reason": a.reason})
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        out.print("nothing is waiting for approval" if not show_all else "no approvals yet")
        return
    table = Table(show_lines=False, expand=False)
    table.add_column("ID", no_wrap=True)  # an id must stay whole to be copied
    for column in ("Status", "Risk", "Where", "Asked by", "Approvals", "Expires", "Action"):
        table.add_column(column, overflow="fold")  # folded, never cut: nothing is hidden
    for r in rows:
        where = escape(", ".join(r["environments"]) or "-")
        table.add_row(r["id"], r["status"], r["risk"],
                      f"[bold red]{where}[/]" if r["production"] else where,
                      escape(r["principal"]), f"{r['approvals']}/{r['approvals_required']}",
                      relative(datetime.fromisoformat(r["expires_at"]), now)
                      if r["status"] == "pending" else "-",
                      escape(r["summary"]) + (f"\n— {escape(r['reason'])}" if r["reason"]
                                              else ""))
    out.print(table)

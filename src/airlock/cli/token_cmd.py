"""`airlock token create|list|revoke`."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from airlock.cli.app import out, state, token_app
from airlock.errors import InputError
from airlock.model import Risk, utcnow
from airlock.tokens import issue_token, parse_ttl


@token_app.command("create")
def create(ctx: typer.Context,
           principal: str = typer.Option(..., "--principal", "-p",
                                         help="A configured agent principal."),
           env: list[str] = typer.Option(..., "--env", "-e",
                                         help="Environment it may reach (repeatable)."),
           resource: list[str] = typer.Option(
               [], "--resource", "-r", help="Resource name or glob it may reach (repeatable; default all)."),
           max_risk: str | None = typer.Option(
               None, "--max-risk", help="Highest risk: read, write, destructive, catastrophic."),
           ttl: str = typer.Option("8h", "--ttl", help="Lifetime, e.g. 30m, 8h, 7d (at most 90d)."),
           note: str = typer.Option("", "--note", help="Why it exists, shown in `token list`."),
           aws: bool = typer.Option(False, "--aws", help="Also issue an AWS access key pair bound "
                                    "to the token, for AWS endpoints of the API proxy.")) -> None:
    """Issue a token. It is printed once, alone on the last line; only its hash is kept.
    With --aws, an access key pair bound to it is printed once before it."""
    st = state(ctx)
    runtime = st.runtime()
    try:
        risk = Risk.parse(max_risk) if max_risk else None
    except ValueError as exc:
        raise InputError(f"--max-risk: {exc}") from None
    issued = issue_token(runtime.store, runtime.config, principal=principal, environments=env,
                         resources=resource or None, max_risk=risk, ttl=parse_ttl(ttl), note=note)
    rec = issued.record
    runtime.audit.record("token_created", None, {"token": rec.id, "principal": rec.principal,
                                                  "scope": rec.scope.to_json(), "note": note})
    scope = rec.scope
    out.print(f"token {rec.id} for {escape(rec.principal)} ({rec.principal_kind.value})")
    out.print(f"  environments: {escape(', '.join(scope.environments))}")
    out.print(f"  resources:    {escape(', '.join(scope.resources))}")
    out.print(f"  max risk:     {scope.max_risk.value}")
    expires = scope.expires_at.isoformat(timespec="seconds") if scope.expires_at else "never"
    out.print(f"  expires:      {expires}")
    if aws:
        from airlock.fronts.apiproxy.keys import issue_aws_key

        key = issue_aws_key(runtime.store, runtime.approvals_key, rec)
        runtime.audit.record("aws_key_created", None, {"token": rec.id,
                                                       "access_key_id": key.access_key_id})
        out.print("AWS key pair for the API proxy (revoking the token ends it), shown once:")
        print(f"AWS_ACCESS_KEY_ID={key.access_key_id}")
        print(f"AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
    out.print("shown once: airlock keeps only its hash")
    print(issued.token)


@token_app.command("list")
def list_tokens(ctx: typer.Context,
                as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List tokens (never their secrets) with their scope and state."""
    tokens = state(ctx).runtime().store.list_tokens()
    now = utcnow()
    rows = []
    for t in tokens:
        if t.revoked_at:
            status = "revoked"
        elif t.scope.expires_at and t.scope.expires_at <= now:
            status = "expired"
        else:
            status = "active"
        rows.append({"id": t.id, "principal": t.principal, "status": status,
                     "created_at": t.created_at, "revoked_at": t.revoked_at, "note": t.note,
                     **t.scope.to_json()})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("no tokens; issue one with `airlock token create --principal NAME --env ENV`")
        return
    for r in rows:
        out.print(f"{r['id']}  {r['status']:<8} {escape(r['principal']):<16} "
                  f"env={escape(','.join(r['environments']))} res={escape(','.join(r['resources']))} "
                  f"max={r['max_risk']} expires={r['expires_at']}"
                  + (f"  # {escape(r['note'])}" if r["note"] else ""))


@token_app.command("revoke")
def revoke(ctx: typer.Context, token_id: str = typer.Argument(..., help="The token's id (tok_…).")) -> None:
    """Revoke a token at once; it is refused from then on."""
    runtime = state(ctx).runtime()
    token_id = token_id.strip()
    if token_id.startswith("alk_"):
        token_id = token_id[4:].rsplit("_", 1)[0]  # accept the whole token too
    record = runtime.store.get_token(token_id)
    if record is None:
        raise InputError(f"no token {token_id}", hint="see `airlock token list`")
    if not runtime.store.revoke_token(token_id, utcnow().isoformat()):
        out.print(f"token {token_id} was already revoked at {record.revoked_at}")
        return
    runtime.audit.record("token_revoked", None, {"token": token_id, "principal": record.principal})
    out.print(f"revoked {token_id}")

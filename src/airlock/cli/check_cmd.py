"""`airlock check` and `airlock policy explain`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from airlock.cli.app import EXIT_DENY, EXIT_HOLD, EXIT_OK, app, out, policy_app, state
from airlock.errors import InputError
from airlock.fronts.check import build_action, check_lines, evaluation_json
from airlock.fronts.jsonforms import KINDS, parse_http_line, payload_from
from airlock.gate import Evaluation
from airlock.model import Payload, Verdict

_VERDICT_STYLE = {"allow": "bold green", "hold": "bold yellow", "deny": "bold red"}
_EXIT = {Verdict.ALLOW: EXIT_OK, Verdict.HOLD: EXIT_HOLD, Verdict.DENY: EXIT_DENY}

KindOpt = typer.Option("shell", "--kind", "-k", help=f"What ACTION is: {', '.join(KINDS)}.")
EnvOpt = typer.Option(None, "--env", "-e", help="Environment the action runs in (default: the "
                      "local environment for shell, unknown — treated as production — otherwise).")
PrincipalOpt = typer.Option(None, "--principal", "-p", help="Judge as this configured principal.")
DialectOpt = typer.Option(None, "--dialect", help="SQL dialect: postgres (default), mysql, sqlite.")
ResourceOpt = typer.Option(None, "--resource", "-r", help="The configured resource it runs against.")
CwdOpt = typer.Option(None, "--cwd", help="Working directory the command runs in (default: "
                      "this one); the scripts a command runs are read from there.")
HeaderOpt = typer.Option([], "--header", "-H", help="HTTP header 'Name: value' (repeatable).")
DataOpt = typer.Option(None, "--data", "-d", help="HTTP request body.")


def _evaluate(ctx: typer.Context, kind: str, action_text: str, env: str | None,
              principal: str | None, dialect: str | None, resource: str | None, cwd: str | None,
              headers: list[str], data: str | None) -> Evaluation:
    st = state(ctx)
    config = st.config()
    payload: Payload
    if kind == "http":
        payload = parse_http_line(action_text, headers, data)
    else:
        payload = payload_from(kind, action_text, dialect)
    if cwd is None and kind == "shell":
        # A command given on the command line runs here: the scripts it names are read here.
        cwd = str(Path.cwd())
    action, caller = build_action(kind, payload, config, env=env, principal=principal, cwd=cwd,
                                  resource=resource)
    return st.runtime().judge.evaluate(action, caller)


@app.command()
def check(ctx: typer.Context,
          action: str = typer.Argument(None, help="The command, SQL or 'METHOD URL' to judge."),
          kind: str = KindOpt, env: str | None = EnvOpt, principal: str | None = PrincipalOpt,
          dialect: str | None = DialectOpt, resource: str | None = ResourceOpt,
          cwd: str | None = CwdOpt, header: list[str] = HeaderOpt, data: str | None = DataOpt,
          as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
          jsonl: bool = typer.Option(False, "--jsonl", help="Read JSON requests, one per line, "
                                     "from stdin; write one JSON answer per line.")) -> None:
    """Judge an action without running it: verdict, risk, effects, targets and reason.

    Exit status: 0 allow, 3 hold, 4 deny, 2 error.
    """
    if jsonl:
        st = state(ctx)
        judge, config = st.runtime().judge, st.config()
        for answer in check_lines(sys.stdin, judge, config):
            sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return
    if action is None:
        raise InputError("give the ACTION to check (or --jsonl to read requests from stdin)")
    ev = _evaluate(ctx, kind, action, env, principal, dialect, resource, cwd, header, data)
    if as_json:
        out.print_json(json.dumps(evaluation_json(ev)))
    else:
        print_evaluation(ev)
    raise typer.Exit(_EXIT[ev.decision.verdict])


def print_evaluation(ev: Evaluation, *, trace: bool = False) -> None:
    view: dict[str, Any] = evaluation_json(ev)
    verdict = view["verdict"]
    out.print(f"[{_VERDICT_STYLE[verdict]}]{verdict.upper()}[/]  risk [bold]{view['risk']}[/]"
              f"  rule {escape(view['rule'])}"
              + (f"  approvals {view['approvals_required']}" if view["approvals_required"] else "")
              + ("  snapshot first" if view["snapshot_required"] else ""))
    out.print(f"reason: {escape(view['reason'])}")
    if not view["complete"]:
        out.print("[yellow]note:[/] part of this action could not be understood; unknown parts "
                  "count as destructive")
    if ev.assessment.effects:
        out.print("effects:")
        for effect in ev.assessment.effects:
            target = f" {effect.target.key}" if effect.target else ""
            out.print(f"  - {effect.risk.value:<12} {effect.verb.value}{escape(target)}"
                      f"{' (' + effect.scope + ')' if effect.scope else ''} — {escape(effect.reason)}")
    if ev.targets:
        out.print("targets:")
        for t in ev.targets:
            where = ", ".join(t.environments)
            res = f"resource {t.resource}" if t.resource else "no configured resource"
            out.print(f"  - {escape(str(t.target))} → {res}, environment {escape(where)}"
                      + (f" ({escape(t.note)})" if t.note else ""))
            for c in t.casualties[1:]:
                out.print(f"      [red]{escape(c.fate)}[/]: {escape(c.resource)} "
                          f"({escape(c.environment)}, {escape(c.kind)}) — {escape(c.why)}")
    if trace:
        out.print("how the verdict was reached:")
        for line in ev.decision.trace:
            out.print(f"  {escape(line)}")
        for error in ev.errors:
            out.print(f"  [red]internal error[/] {escape(error)}")


@policy_app.command("explain")
def explain(ctx: typer.Context,
            action: str = typer.Argument(..., help="The command, SQL or 'METHOD URL' to explain."),
            kind: str = KindOpt, env: str | None = EnvOpt, principal: str | None = PrincipalOpt,
            dialect: str | None = DialectOpt, resource: str | None = ResourceOpt,
            cwd: str | None = CwdOpt, header: list[str] = HeaderOpt,
            data: str | None = DataOpt,
            as_json: bool = typer.Option(False, "--json", help="Print the verdict and the "
                                                               "trace as JSON.")) -> None:
    """Show every fact and every rule tried, and why the verdict is what it is."""
    ev = _evaluate(ctx, kind, action, env, principal, dialect, resource, cwd, header, data)
    if as_json:
        print(json.dumps({**evaluation_json(ev), "trace": list(ev.decision.trace),
                          "errors": list(ev.errors)}, indent=2, ensure_ascii=False))
        return
    print_evaluation(ev, trace=True)


@policy_app.command("show")
def show(ctx: typer.Context) -> None:
    """List the rules in the order they are tried."""
    st = state(ctx)
    policy = st.runtime().judge.policy
    out.print(f"policy from {escape(st.config().source)} — first matching rule decides each effect:")
    for index, rule in enumerate(policy.rules, start=1):
        when = []
        for name in ("principal", "principal_kind", "environment", "production", "resource",
                     "risk", "front", "action", "guard"):
            value = getattr(rule, name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = ",".join(str(getattr(v, "value", v)) for v in value)
            else:
                value = getattr(value, "value", value)
            when.append(f"{name}={value}")
        then = rule.verdict.value + (f" x{rule.approvals}" if rule.approvals else "") + \
            (" +snapshot" if rule.snapshot else "")
        out.print(f"{index:>3}. {escape(rule.name):<34} when {escape(' '.join(when)) or 'always'}"
                  f" → [bold]{then}[/]")
        if rule.reason:
            out.print(f"       {escape(rule.reason)}")
    out.print("  (no rule matches → hold)")

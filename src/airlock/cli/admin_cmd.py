"""`airlock init`, `airlock config check` and `airlock up`."""

from __future__ import annotations

import json
import shlex
from importlib import resources
from pathlib import Path

import typer
from rich.markup import escape

from airlock.cli.app import app, config_app, err, out, state
from airlock.config import Config
from airlock.errors import InputError, StoreError
from airlock.store.sqlstore import DAMAGED_HINT

DEFAULT_PORT = 8377


def starter_config() -> str:
    return resources.files("airlock").joinpath("data/airlock.example.toml").read_text("utf-8")


@app.command()
def init(path: Path = typer.Argument(Path("airlock.toml"), help="Where to write the file."),
         force: bool = typer.Option(False, "--force", help="Overwrite an existing file.")) -> None:
    """Write a commented starter configuration."""
    if path.exists() and not force:
        raise InputError(f"{path} already exists; not overwriting it",
                         hint="use --force to replace it, or give another path")
    path.write_text(starter_config(), encoding="utf-8")
    # Found without --config only where airlock looks by default: ./airlock.toml.
    found = path.resolve() == (Path.cwd() / "airlock.toml").resolve()
    flag = "" if found else f"--config {shlex.quote(str(path))} "
    out.print(f"wrote {path}; edit it, then check it with `airlock {flag}config check`")


@config_app.command("check")
def config_check(ctx: typer.Context,
                 as_json: bool = typer.Option(False, "--json",
                                              help="Print the result as JSON.")) -> None:
    """Load and validate the configuration (credentials included) and summarise it."""
    from airlock.cli.approve_cmd import approver_shortfalls, enrolled_approvers

    config = state(ctx).config()
    from airlock.config.resources import missing_credentials

    for missing in missing_credentials(config.resources)[:1]:  # loads without; serving needs
        missing.reveal()  # raises the error reading it gave
    warnings = approver_shortfalls(config, enrolled_approvers(state(ctx)))
    if as_json:
        print(json.dumps({"ok": True, "source": config.source, "state_dir": str(config.state_dir),
                          "warnings": warnings}, indent=2))
        return
    for warning in warnings:
        err.print(f"[bold yellow]warning:[/] {escape(warning)}")
    out.print(f"[bold green]OK[/] {escape(config.source)}")
    out.print(f"state: {config.state_dir}")
    envs = ", ".join(f"{e.name}{' (production)' if e.production else ''}"
                     for e in config.environments.values())
    out.print(f"environments: {escape(envs) or 'none declared'}; local: {config.local_environment}")
    for res in config.resources.values():
        extra = []
        if res.stored_on:
            extra.append(f"stored on {', '.join(res.stored_on)}")
        if res.attached_to:
            extra.append(f"attached to {', '.join(res.attached_to)}")
        if res.backs_up:
            extra.append(f"backs up {', '.join(res.backs_up)}")
        creds = [s.source for s in (res.url, res.credential) if s is not None]
        out.print(f"resource {escape(res.name)}: {res.kind} in {escape(res.environment)}"
                  + (f"; {escape('; '.join(extra))}" if extra else "")
                  + (f"; credentials from {escape(', '.join(creds))}" if creds else ""))
    for p in config.principals.values():
        out.print(f"principal {escape(p.name)}: {p.kind.value}, environments "
                  f"{escape(','.join(p.scope.environments))}, max risk {p.scope.max_risk.value}")
    out.print(f"policy: {len(config.rules)} configured rule(s)"
              + (" + built-in rules" if config.builtin_rules else " (built-in rules off)"))
    approvals = config.approvals
    hooks = ", ".join(f"{w.format} (url from {w.url.source})" for w in approvals.webhooks)
    out.print(f"approvals: holds wait {approvals.ttl}, approved actions may be retried for "
              f"{approvals.use_window}; webhooks: {escape(hooks) or 'none'}")
    _warn_missing_extras(config)


def _warn_missing_extras(config: Config) -> None:
    """Say now, not at the first AWS call, that AWS support is configured but not installed."""
    from airlock import extras

    uses = [f"resource {r.name} (AWS)" for r in config.resources.values() if r.provider == "aws"]
    if config.vault.enabled and config.vault.s3_bucket is not None:
        uses.append("the S3 vault")
    if uses and not extras.installed(extras.AWS):
        try:
            extras.require(extras.AWS, ", ".join(uses))
        except extras.MissingExtraError as exc:
            err.print(f"[bold yellow]warning:[/] {escape(str(exc))}")


@app.command()
def up(ctx: typer.Context,
       host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
       port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on.")) -> None:
    """Start the airlock service with the configured fronts (until SIGTERM or Ctrl-C)."""
    from airlock.approvers import state_exposure
    from airlock.services import console_url, planned

    runtime = state(ctx).runtime()
    from airlock.config.resources import missing_credentials

    for missing in missing_credentials(runtime.config.resources)[:1]:  # serving needs them all
        missing.reveal()  # raises the error reading it gave, with what to do
    # Open (and migrate) the store now, and check it whole: a broken store must stop start-up.
    problems = runtime.store.check()
    if problems:
        raise StoreError(f"the state database is damaged: {'; '.join(problems[:5])}",
                         hint=DAMAGED_HINT)
    runtime.audit_key  # noqa: B018
    runtime.approvals_key  # noqa: B018
    runtime.audit.record("service_started", None, {"host": host, "port": port,
                                                    "config": runtime.config.source})
    err.print(f"airlock {escape(runtime.config.source)}; state in {runtime.config.state_dir}")
    for problem in state_exposure(runtime.config.state_dir):
        err.print(f"[bold yellow]warning:[/] {escape(problem)}; airlock's state holds approver "
                  "seeds and keys, and should be readable by airlock's own user only")
    services = planned(runtime, host=host, port=port)

    def started() -> None:
        for name, health in services.health().items():
            err.print(f"{name}: {escape(health.detail)}")
        err.print(f"listening on http://{host}:{port}  (API: POST /v1/actions; health: GET "
                  "/healthz)")
        err.print(f"approval console: {console_url(runtime, host, port)}/console/")

    services.run(on_started=started)

"""`airlock endpoints [--json]`: where agents reach each api resource through airlock."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from airlock.cli.app import app, out, state
from airlock.fronts.apiproxy.settings import SECTION


@app.command()
def endpoints(ctx: typer.Context,
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The API proxy's local endpoints: resource, local URL, upstream, environment."""
    config = state(ctx).config()
    settings = SECTION.of(config)
    rows: list[dict[str, str]] = []
    for resource in config.resources.values():
        if resource.kind != "api":
            continue
        one = settings.of(resource.name).one_environment
        rows.append({"resource": resource.name, "url": settings.endpoint(resource.name),
                     "upstream": resource.base_url or "", "provider": resource.provider,
                     "environment": resource.environment,
                     "environments": "one" if one else "per target",
                     "auth": "aws-sigv4" if resource.provider == "aws" else "bearer"})
    if as_json:
        print(json.dumps({"enabled": settings.enabled, "endpoints": rows}, indent=2))
        return
    if not rows:
        out.print("no api resources are configured ([resources.NAME] with kind = \"api\")")
        return
    if not settings.enabled:
        out.print("[yellow]the API proxy is off ([fronts.apiproxy] enabled = false)[/]")
    for r in rows:
        how = ("sign with `airlock token create --aws` keys; AWS_ENDPOINT_URL=" + r["url"]
               if r["auth"] == "aws-sigv4" else "Authorization: Bearer <airlock token>")
        where = (f"environment {r['environment']}" if r["environments"] == "one"
                 else "environments per target")
        out.print(f"{escape(r['resource'])}  {escape(r['url'])}  → {escape(str(r['upstream']))}  "
                  f"({r['provider']}, {escape(where)}; {escape(how)})")

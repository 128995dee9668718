"""Where an action happens, as every front says it: one place, so the fronts cannot drift apart.

An `ActionContext` (working folder, environment, resource) steers how targets resolve: a table
with no database named belongs to the context's resource, a relative path to the context's
folder, and a contextual target takes the context's environment. It is set by the front — trusted
code — from what the front knows, never from the agent's text:

    resource     a configured resource the action acts on (a proxy's upstream, `airlock sql`'s
                 argument, an MCP server mapped in `[hooks] mcp_resources`, the API's `resource`);
                 its environment comes with it
    environment  declared by a person, never by an agent (`airlock check --env`)
    runs_here    the action runs on the machine airlock runs on (an agent hook): placed in
                 `local_environment` when nothing else places it
    placed_by    a shell command that names no resource, from `airlock check` or the HTTP API:
                 placed by the caller's scopes (`shell_environment`), the same way by both
                 fronts, so that `check` predicts what the API answers

Where a shell command with no resource runs is not something the agent may say. A person says
it: with `check --env`, or when issuing the token. A caller whose scopes reach the local
environment runs its shell here (`local_environment`); one whose scopes reach exactly one
environment (a token issued `--env staging`) runs it there; any other is placed nowhere, so its
contextual targets count as production and lie outside its scope (a deny saying to name the
resource, or to use a token for one environment).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from airlock.config import Config
from airlock.errors import InputError
from airlock.model import Action, ActionContext, AgentStatement, Caller, Payload

__all__ = ["action_context", "front_action", "shell_environment"]


def action_context(config: Config, *, resource: str | None = None, cwd: str | None = None,
                   environment: str | None = None, runs_here: bool = False,
                   placed_by: Caller | None = None) -> ActionContext:
    """The context of an action from what its front knows. Raises InputError for a resource or
    environment the configuration does not declare."""
    if environment is not None and environment not in config.environments \
            and environment != config.local_environment and config.path is not None:
        raise InputError(f"environment {environment!r} is not declared in {config.source} "
                         f"(declared: {', '.join(sorted(config.environments)) or 'none'})")
    if resource is not None:
        declared = config.resources.get(resource)
        if declared is None:
            raise InputError(f"resource {resource!r} is not configured")
        environment = environment or declared.environment
    if environment is None and placed_by is not None:
        environment = shell_environment(config, placed_by)
    elif environment is None and runs_here:
        # A command run on this machine: its local paths live in the local environment.
        environment = config.local_environment
    return ActionContext(cwd=cwd, environment=environment, resource=resource)


def shell_environment(config: Config, caller: Caller) -> str | None:
    """Where a shell command that names no resource runs, as the caller's scopes say: the local
    environment when every scope reaches it, else the one environment they all reach, else
    nowhere (None: unknown, counted as production)."""
    names = sorted({*config.environments, config.local_environment})
    reachable = [name for name in names
                 if all(any(fnmatchcase(name, p) for p in scope.environments)
                        for scope in caller.scopes)]
    if config.local_environment in reachable:
        return config.local_environment
    return reachable[0] if len(reachable) == 1 else None


def front_action(payload: Payload, caller: Caller, front: str,
                 context: ActionContext, *, stated: AgentStatement | None = None) -> Action:
    """The action a front submits: what to do, who asks (the caller the front authenticated),
    through which front, and where — and, apart, what the agent says it is for (`stated`)."""
    return Action(payload, caller.principal.name, front, context, stated=stated)

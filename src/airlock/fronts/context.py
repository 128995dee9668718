"""Where an action happens, as every front says it: one place, so the fronts cannot drift apart.

An `ActionContext` (working folder, environment, resource) steers how targets resolve: a table
with no database named belongs to the context's resource, a relative path to the context's
folder, and a contextual target takes the context's environment. It is set by the front — trusted
code — from what the front knows, never from the agent's text:

    resource     a configured resource the action acts on (a proxy's upstream, `airlock sql`'s
                 argument, an MCP server mapped in `[hooks] mcp_resources`, the API's `resource`);
                 its environment comes with it
    environment  declared by a person, never by an agent (`airlock check --env`)
    runs_here    the action runs on the machine airlock runs on (a shell command from `airlock
                 check` or an agent hook): placed in `local_environment` when nothing else places
                 it. The HTTP API cannot know where an agent's shell runs, so it does not say so,
                 and such a command's contextual targets stay unknown (counted as production).
"""

from __future__ import annotations

from airlock.config import Config
from airlock.errors import InputError
from airlock.model import Action, ActionContext, AgentStatement, Caller, Payload

__all__ = ["action_context", "front_action"]


def action_context(config: Config, *, resource: str | None = None, cwd: str | None = None,
                   environment: str | None = None, runs_here: bool = False) -> ActionContext:
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
    if environment is None and runs_here:
        # A command run on this machine: its local paths live in the local environment.
        environment = config.local_environment
    return ActionContext(cwd=cwd, environment=environment, resource=resource)


def front_action(payload: Payload, caller: Caller, front: str,
                 context: ActionContext, *, stated: AgentStatement | None = None) -> Action:
    """The action a front submits: what to do, who asks (the caller the front authenticated),
    through which front, and where — and, apart, what the agent says it is for (`stated`)."""
    return Action(payload, caller.principal.name, front, context, stated=stated)

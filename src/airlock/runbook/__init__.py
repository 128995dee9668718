"""Recovery runbooks: `airlock runbook RESOURCE` — where a resource's backups are and how old,
the exact commands that bring it back, who can approve, the last drill, and what else dies with
it; generated from the real state every time, never written by hand.

    facts.py    gathering them (configuration, catalog, approvers, policy, audit log)
    render.py   Markdown, HTML, JSON
"""

from __future__ import annotations

from airlock.runbook.facts import Runbook, build
from airlock.runbook.render import FORMATS, render

__all__ = ["FORMATS", "Runbook", "build", "render"]

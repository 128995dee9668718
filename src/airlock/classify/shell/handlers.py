"""The table of everything with logic of its own, given to each analysis.

Adding a handler: write it in the module of its kind, then list its table here. Rule packs
name program handlers (`handler = "psql"`); wrappers are found by program name.
"""

from __future__ import annotations

from airlock.classify.shell import (
    databases,
    gitcode,
    http_clients,
    inline,
    makefiles,
    packages,
    programs,
    remote,
    scripts,
    wrappers,
)
from airlock.classify.shell.base import Handlers

HANDLERS = Handlers(
    programs={
        **programs.HANDLERS,
        **databases.HANDLERS,
        **http_clients.HANDLERS,
        **remote.HANDLERS,
        **inline.HANDLERS,
        **packages.HANDLERS,
        **makefiles.HANDLERS,
        **scripts.HANDLERS,
        **gitcode.HANDLERS,
    },
    wrappers=wrappers.WRAPPERS,
    languages=inline.LANGUAGES,
    local_program=scripts.local_program,
)

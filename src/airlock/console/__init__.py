"""The approval console served by `airlock up` at /console (see `console/app.py`)."""

from airlock.console.app import create_console, mount_console

__all__ = ["create_console", "mount_console"]

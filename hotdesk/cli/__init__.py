"""The `hotdesk` command: what an admin scripts. Every error is one line naming the problem.

One module per group of commands; importing them registers their commands on `main`."""

from hotdesk.cli import accounts, database, extensions, history, phones, settings, templates, tenants, users  # noqa: F401
from hotdesk.cli.base import main

__all__ = ["main"]

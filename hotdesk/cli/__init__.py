"""The `hotdesk` command: what an admin scripts. Every error is one line naming the problem.

One module per group of commands; importing them registers their commands on `main`."""

from hotdesk.cli import (  # noqa: F401
    accounts,
    database,
    extensions,
    history,
    mail,
    phones,
    settings,
    sync,
    templates,
    tenants,
    users,
)
from hotdesk.cli.base import main

__all__ = ["main"]

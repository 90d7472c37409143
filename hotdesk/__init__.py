"""hotdesk: a hot-desking server for office desk phones.

Importing the package loads nothing else: the core (hotdesk.hotdesking, hotdesk.runtime, the CLI's
commands) runs without Flask, which only hotdesk.app and hotdesk.web load. The names below are
resolved on first use, so `gunicorn 'hotdesk:create_app(faces="admin")'` and
`from hotdesk import settings_registry` keep working.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotdesk.app import FACES, create_app
    from hotdesk.runtime import Hotdesk, build, settings_registry

_LAZY = {
    "FACES": "hotdesk.app",
    "create_app": "hotdesk.app",
    "Hotdesk": "hotdesk.runtime",
    "build": "hotdesk.runtime",
    "settings_registry": "hotdesk.runtime",
}

__all__ = ["FACES", "Hotdesk", "build", "create_app", "settings_registry"]


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'hotdesk' has no attribute {name!r}") from None
    return getattr(import_module(module), name)

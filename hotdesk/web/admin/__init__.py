"""/admin/: the web console, one module per page group; importing them registers their views on
the blueprint."""

from hotdesk.web.admin import (  # noqa: F401
    access,
    apps,
    dashboard,
    extensions,
    history,
    mail,
    phones,
    settings,
    signin,
    templates,
    tenants,
)
from hotdesk.web.admin.base import bp, browser_headers, csrf, init_app
from hotdesk.web.admin.signin import BROWSER_COOKIE

__all__ = ["BROWSER_COOKIE", "bp", "browser_headers", "csrf", "init_app"]

"""/admin/: the web console, one module per page group; importing them registers their views on
the blueprint."""

from hotdesk.web.admin import access, apps, dashboard, extensions, history, phones, settings, signin, templates, tenants  # noqa: F401
from hotdesk.web.admin.base import bp, browser_headers, csrf, init_app
from hotdesk.web.admin.signin import BROWSER_COOKIE

__all__ = ["BROWSER_COOKIE", "bp", "browser_headers", "csrf", "init_app"]

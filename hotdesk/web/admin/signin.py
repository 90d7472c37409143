"""Signing in and out of the console."""

from __future__ import annotations

import secrets

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from hotdesk.admin import accounts
from hotdesk.web import client_ip, db
from hotdesk.web.admin.base import (
    bp,
    local_url,
)
from hotdesk.web.known_browser import KnownBrowserCookie


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    next_url = request.values.get("next") or ""
    if request.method == "GET":
        return render_template("admin/sign_in.html", next=next_url, no_admins=not accounts.any_admin(db()))
    name = request.form.get("name", "")
    browser = _known_browser(name)
    try:
        admin = accounts.sign_in(db(), name, request.form.get("password", ""), client_ip(), browser)
    except accounts.SignInRefused as refused:
        status = 429 if refused.retry_after else 401
        return render_template("admin/sign_in.html", next=next_url, error=str(refused), name=name), status
    session.clear()  # no value from before the sign-in survives it
    session.permanent = True
    session["admin_id"], session["key"] = admin.id, accounts.session_key(admin)
    response = redirect(local_url(next_url) or url_for("admin.dashboard"))
    _browsers.issue(response, {"admin": admin.name, "browser": browser or secrets.token_urlsafe(12)})
    return response


# A browser an admin signed in from: its sign-ins for that name escape the per-name limit
# (hotdesk.admin.accounts), so an outsider guessing the name cannot lock the admin out.
BROWSER_COOKIE = "hotdesk_known_browser"


_browsers = KnownBrowserCookie(BROWSER_COOKIE, "hotdesk-admin-known-browser", "admin.sign_in")


def _known_browser(name: str) -> str | None:
    """The id of this browser's known-browser cookie if it is genuine, recent and for `name`."""
    value = _browsers.read()
    if value is None or value.get("admin") != name.strip() or not isinstance(value.get("browser"), str):
        return None
    return value["browser"][:32]


@bp.post("/sign-out")
def sign_out():
    accounts.end_sessions(db(), g.admin)  # a copy of the cookie is worth nothing from now on
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("admin.sign_in"))

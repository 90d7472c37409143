"""Signing in and out of the console."""

from __future__ import annotations

import secrets

from flask import (
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from hotdesk import access_codes, sso
from hotdesk.admin import accounts
from hotdesk.models import Admin
from hotdesk.web import access_code as code_step
from hotdesk.web import client_ip, db, hotdesk, snapshot
from hotdesk.web import sso as sso_web
from hotdesk.web.admin.base import (
    bp,
    local_url,
)
from hotdesk.web.known_browser import KnownBrowserCookie


def _sign_in_page(next_url: str, **values) -> str:
    """The sign-in page; with single sign-on for tenant managers where a tenant has it (`?tenant=`)."""
    named = request.args.get("tenant", "")
    tenant = sso.tenant_named(db(), named) if named else None
    sso_start = None
    if tenant is not None and sso.provider_of(snapshot().settings_for(tenant.id)) is not None:
        sso_start = sso_web.start_url(tenant, sso.Face.CONSOLE)
    return render_template(
        "admin/sign_in.html",
        next=next_url,
        no_admins=not accounts.any_admin(db()),
        sso_start=sso_start,
        sso_named=named,
        sso_offered=sso_web.offered(),
        **values,
    )


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    next_url = request.values.get("next") or ""
    if request.method == "GET":
        return _sign_in_page(next_url)
    name = request.form.get("name", "")
    browser = _known_browser(name)
    try:
        admin = accounts.sign_in(
            db(), name, request.form.get("password", ""), client_ip(), browser, settings_for=snapshot().settings_for
        )
    except accounts.SignInRefused as refused:
        db().commit()  # what the refusal wrote down is kept
        status = 429 if refused.retry_after else 403 if isinstance(refused, accounts.CodeUndeliverable) else 401
        return _sign_in_page(next_url, error=str(refused), name=name), status
    if isinstance(admin, access_codes.Challenge):
        code_step.hold(admin, next=next_url)
        return redirect(url_for("admin.access_code"))
    return _signed_in(admin, browser, next_url)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def access_code():
    """An admin with two_factor: the code from the mail signs them in."""
    held = code_step.pending()
    if held is None:
        return redirect(url_for("admin.sign_in"))
    if request.method == "GET":
        return code_step.page("admin", held)
    try:
        admin = accounts.sign_in_with_code(
            db(),
            held["challenge"],
            request.form.get("code", ""),
            hotdesk().config.secret_key,
            client_ip(),
            _known_browser,
        )
    except accounts.SignInRefused as refused:
        db().commit()  # a wrong code is a counted failure
        if isinstance(refused, accounts.WrongCode) and refused.remaining:
            return code_step.page("admin", held, 401, error=str(refused))
        session.clear()
        return _sign_in_page(held.get("next") or "", error=str(refused)), 429 if refused.retry_after else 401
    return _signed_in(admin, _known_browser(admin.name), held.get("next") or "")


@bp.post("/sign-in/resend")
def resend_code():
    held = code_step.pending()
    if held is None:
        return redirect(url_for("admin.sign_in"))
    try:
        challenge = accounts.resend_code(db(), held["challenge"], snapshot().settings_for, client_ip())
    except access_codes.ResendRefused as refused:
        return code_step.page("admin", held, 429 if refused.retry_after else 403, error=str(refused))
    except access_codes.NoChallenge as over:
        session.clear()
        return _sign_in_page("", error=str(over)), 401
    code_step.renewed(challenge)
    flash(f"A new code is on its way to {challenge.sent_to}: the one before no longer works.", "info")
    return redirect(url_for("admin.access_code"))


@bp.get("/sign-in/sso")
def sso_landing():
    """Where a tenant manager's single sign-on lands (hotdesk.web.sso): its one-time code, from this browser."""
    sign_in = sso_web.landing(sso.Face.CONSOLE)
    if sign_in is None or sign_in.admin_id is None:
        page = _sign_in_page("", error="That single sign-on is over or was not begun here: sign in again.")
        return sso_web.forget_state(Response(page, 400))
    admin = db().get_one(Admin, sign_in.admin_id)
    return sso_web.forget_state(_signed_in(admin, _known_browser(admin.name), ""))


def _signed_in(admin: Admin, browser: str | None, next_url: str) -> BaseResponse:
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

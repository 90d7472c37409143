"""The portal's pages for a person without their password (routes on the portal's blueprint, open
without a session): `/portal/password/<token>`, where a mailed link lets them choose one, and
`/portal/forgot`, where they ask for such a link by LOGIN. The rules are hotdesk.self_service's
and hotdesk.password_links'.

Looking at a link (GET) never uses it up: mail scanners follow links. Choosing the password (POST,
with the portal's CSRF token) ends every session of the person, and they sign in with the new
password: the link proves the mailbox, the sign-in asks what a sign-in asks (a second step, where
the tenant has one). The token is in the path, which hotdesk.logs cuts out of every log line.
"""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from hotdesk import people, self_service
from hotdesk.models import User
from hotdesk.web import act_for_tenant, client_ip, db, hotdesk, snapshot
from hotdesk.web.portal import bp

RULES = (
    f"At least {people.MIN_PASSWORD} printable characters; not your extension's SIP password, your PIN"
    " or your username."
)
ASKED = (
    "If that login names an account with an e-mail address, a link to choose your password is on its"
    " way to it. The link works once, for a limited time."
)


@bp.route("/password/<token>", methods=["GET", "POST"])
def password_link(token: str) -> ResponseReturnValue:
    try:
        return _password_link(token)
    except self_service.SignInRefused as refused:
        return _refused(str(refused), 429, refused)
    except self_service.LinkRefused as refused:
        db().commit()  # the refusal counts against the address
        return _refused(str(refused), 404)


def _password_link(token: str) -> ResponseReturnValue:
    session_ = db()
    settings_for, key, ip = snapshot().settings_for, hotdesk().config.secret_key, client_ip()
    if request.method == "GET":
        return _choose_page(self_service.password_link_user(session_, settings_for, key, token, ip), token)
    form = request.form
    error = None
    if form.get("new", "") != form.get("confirm", ""):
        error = "The two passwords differ."
    else:
        try:
            self_service.choose_password_by_link(session_, settings_for, key, token, form.get("new", ""), ip)
        except people.PeopleError as refused:
            if isinstance(refused, self_service.LinkRefused | self_service.SignInRefused):
                raise
            session_.rollback()  # nothing changed: the link still works
            error = str(refused)
    if error is not None:
        return _choose_page(self_service.password_link_user(session_, settings_for, key, token, ip), token, error, 422)
    session.clear()  # whatever this browser was signed in as, it is not any more
    flash("Password set. Sign in with it: every browser that was signed in as you is signed out.", "info")
    return redirect(url_for("portal.sign_in"))


def _choose_page(user: User, token: str, error: str | None = None, status: int = 200) -> tuple[str, int]:
    act_for_tenant(user.tenant_id)
    page = render_template(
        "portal/choose_password.html",
        login=self_service.login_of(db(), user),
        action=url_for("portal.password_link", token=token),
        rules=RULES,
        error=error,
    )
    return page, status


def _refused(message: str, status: int, throttled: self_service.SignInRefused | None = None) -> Response:
    title = "Try again later" if status == 429 else "This link does not work"
    response = Response(render_template("portal/link_refused.html", title=title, message=message), status)
    if throttled is not None and throttled.retry_after:
        response.headers["Retry-After"] = str(int(throttled.retry_after.total_seconds()) + 1)
    return response


@bp.route("/forgot", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("portal/forgot_password.html")
    try:
        self_service.request_password_link(
            db(),
            snapshot().settings_for,
            request.form.get("login", ""),
            client_ip(),
            current_app.config["SECRET_KEY"].encode(),
        )
    except self_service.SignInRefused as refused:
        return _refused(str(refused), 429, refused)
    return render_template("portal/forgot_password.html", asked=ASKED)

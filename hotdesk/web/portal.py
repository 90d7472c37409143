"""/portal/: the user portal. A person signs in with their LOGIN and account password, changes a
generated password first, sees the desk phones they are logged in on and logs out there, changes
their PIN, shows (and by a click refreshes) their softphone QR code, chooses its transport and
address, revokes their signed-in apps, reads their own recent logins. Server-rendered, no script; the rules are in
hotdesk.self_service and hotdesk.people.

Its own session cookie (`hotdesk_portal`, path /portal, HttpOnly, SameSite=Lax, Secure on
HTTPS): a person and an admin in one browser do not sign each other out, and neither cookie opens
the other face. The session holds the user's id and session epoch: a password change (here, by an
admin, from the CLI) or a sign-out moves the epoch on and ends every other session. CSRF tokens
on every form (Flask-WTF, as the console).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from importlib import resources

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface, SessionInterface, SessionMixin
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from hotdesk import access_codes, people, self_service, sso
from hotdesk.admin import phones
from hotdesk.brands import BRANDS
from hotdesk.models import Event, EventKind, User
from hotdesk.settings import DIRECTORY_SOURCE, PIN_LENGTH, TIMEZONE, DirectorySource, PinLength
from hotdesk.softphone.apps import SignInUrl
from hotdesk.softphone.options import QR_ADDRESS, QR_TRANSPORT
from hotdesk.softphone.qr import svg_element
from hotdesk.web import access_code as code_step
from hotdesk.web import act_for_tenant, app_base_url, carries_nul, client_ip, db, hotdesk, settings, snapshot
from hotdesk.web import sso as sso_web
from hotdesk.web.admin import browser_headers, csrf
from hotdesk.web.known_browser import KnownBrowserCookie

PREFIX = "/portal"
bp = Blueprint(
    "portal",
    __name__,
    url_prefix=PREFIX,
    template_folder=str(resources.files("hotdesk") / "templates"),
    static_folder=str(resources.files("hotdesk") / "static" / "portal"),
    static_url_path="/static",
)
# Reached without a session: the access code's (with the challenge a right password left in it),
# and a person's without their password (hotdesk.web.portal_password).
OPEN = (
    "portal.sign_in",
    "portal.sso_landing",
    "portal.static",
    "portal.access_code",
    "portal.resend_code",
    "portal.password_link",
    "portal.forgot_password",
)
BEFORE_PASSWORD_CHANGE = ("portal.password", "portal.sign_out")  # all a generated password opens


class _PortalSession(SecureCookieSessionInterface):
    """The portal's own cookie, signed apart from the console's."""

    salt = "hotdesk-portal-session"

    def get_cookie_name(self, app: Flask) -> str:
        return "hotdesk_portal"

    def get_cookie_path(self, app: Flask) -> str:
        return PREFIX

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or bool(app.config["SESSION_COOKIE_SECURE"])


class _SessionPerFace(SessionInterface):
    """The portal's session for /portal, the console's (or whatever the app had) elsewhere."""

    def __init__(self, others: SessionInterface):
        self.portal, self.others = _PortalSession(), others

    def _for(self, path: str) -> SessionInterface:
        return self.portal if path == PREFIX or path.startswith(PREFIX + "/") else self.others

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        return self._for(request.path).open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        self._for(request.path).save_session(app, session, response)


def init_app(app: Flask) -> None:
    """After the console's init_app: its CSRF protection and session settings are the portal's too."""
    app.session_interface = _SessionPerFace(app.session_interface)
    app.register_blueprint(bp)


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    if carries_nul():
        abort(400, "NUL characters are not allowed.")
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in OPEN:
        return None
    user = db().get(User, session["user_id"]) if isinstance(session.get("user_id"), int) else None
    if user is None or session.get("epoch") != user.session_epoch:
        session.clear()
        return redirect(url_for("portal.sign_in"))
    g.user = user
    act_for_tenant(user.tenant_id)
    # A single sign-on proved the person without the password: the generated one waits for a password sign-in.
    forced = user.must_change_password and not session.get("sso")
    if forced and request.endpoint not in BEFORE_PASSWORD_CHANGE:
        return redirect(url_for("portal.password"))
    return None


bp.after_request(browser_headers)


@bp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> tuple[str, int]:
    message = f"{error.description} The form expired or came from elsewhere: go back, reload and try again."
    return render_template("portal/error.html", title="Form expired", message=message), 400


@bp.errorhandler(400)
@bp.errorhandler(404)
def _http_error(error) -> tuple[str, int]:
    return render_template("portal/error.html", title=error.name, message=error.description), error.code


# signing in and out


def _sign_in_page(status: int = 200, **values) -> tuple[str, int]:
    """The sign-in page; with single sign-on where a tenant has it (`?tenant=` names the person's)."""
    named = request.args.get("tenant", "")
    tenant = sso.tenant_named(db(), named) if named else None
    sso_start = None
    if tenant is not None and sso.provider_of(snapshot().settings_for(tenant.id)) is not None:
        sso_start = sso_web.start_url(tenant, sso.Face.PORTAL)
    page = render_template(
        "portal/sign_in.html", sso_start=sso_start, sso_named=named, sso_offered=sso_web.offered(), **values
    )
    return page, status


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        return _sign_in_page()
    login = request.form.get("login", "")
    browser = _known_browser()
    session_ = db()
    try:
        attempt = self_service.begin_sign_in(
            session_, snapshot().settings_for, login, client_ip(), browser, current_app.config["SECRET_KEY"].encode()
        )
        session_.commit()  # written down as a failure, and the sign-in lock released, before the slow check
        user = self_service.finish_sign_in(session_, attempt, request.form.get("password", ""))
    except self_service.SignInRefused as refused:
        session_.rollback()
        return _refusal(refused, login=login)
    settings_ = snapshot().settings_for(user.tenant_id)
    if not access_codes.required(settings_, access_codes.Face.PORTAL):
        return _signed_in(user, browser)
    try:
        challenge = self_service.send_code(session_, attempt, settings_, ip=client_ip(), base_url=app_base_url())
    except access_codes.NoAddress as nowhere:
        session_.commit()  # the refusal is kept
        page, _ = _sign_in_page(error=str(nowhere), login=login)
        return Response(page, 403)
    code_step.hold(challenge)
    return redirect(url_for("portal.access_code"))


def _refusal(refused: self_service.SignInRefused, **values) -> Response:
    status = 429 if refused.retry_after else 401
    page, _ = _sign_in_page(error=str(refused), **values)
    refusal = Response(page, status)
    if refused.retry_after:
        refusal.headers["Retry-After"] = str(int(refused.retry_after.total_seconds()) + 1)
    return refusal


@bp.route("/sign-in/code", methods=["GET", "POST"])
def access_code():
    """The second step with two_factor = email: the code from the mail signs the person in."""
    held = code_step.pending()
    if held is None:
        return redirect(url_for("portal.sign_in"))
    if request.method == "GET":
        return code_step.page("portal", held)
    session_ = db()
    browser = _known_browser()
    try:
        attempt, _used = self_service.sign_in_with_code(
            session_,
            snapshot().settings_for,
            current_app.config["SECRET_KEY"].encode(),
            held["challenge"],
            request.form.get("code", ""),
            client_ip(),
            browser,
        )
    except access_codes.WrongCode as wrong:
        session_.commit()  # a counted failure
        if wrong.remaining:
            return code_step.page("portal", held, 401, error=str(wrong))
        session.clear()
        return _refusal(self_service.SignInRefused(str(wrong)))
    except access_codes.NoChallenge as over:
        session_.commit()
        session.clear()
        return _refusal(self_service.SignInRefused(str(over)))
    except self_service.SignInRefused as refused:
        session_.commit()  # the refusal is kept
        session.clear()
        return _refusal(refused)
    if attempt.user is None:  # a sign-in with a code always has its person
        abort(400)
    return _signed_in(attempt.user, browser)


@bp.post("/sign-in/resend")
def resend_code():
    held = code_step.pending()
    if held is None:
        return redirect(url_for("portal.sign_in"))
    try:
        challenge = self_service.resend_code(db(), snapshot().settings_for, held["challenge"], client_ip())
    except access_codes.NoChallenge as over:
        session.clear()
        return _refusal(self_service.SignInRefused(str(over)))
    except access_codes.ResendRefused as refused:
        return code_step.page("portal", held, 429 if refused.retry_after else 403, error=str(refused))
    code_step.renewed(challenge)
    flash(f"A new code is on its way to {challenge.sent_to}: the one before no longer works.", "info")
    return redirect(url_for("portal.access_code"))


def _signed_in(user: User, browser: self_service.KnownBrowser | None, *, by_sso: bool = False) -> BaseResponse:
    session.clear()  # no value from before the sign-in survives it
    session.permanent = True
    session["user_id"], session["epoch"] = user.id, user.session_epoch
    if by_sso:
        session["sso"] = True
    forced = user.must_change_password and not by_sso
    response = redirect(url_for("portal.password" if forced else "portal.home"))
    known = browser.browser if browser is not None and browser.user_id == user.id else secrets.token_urlsafe(12)
    _browsers.issue(response, {"user": user.id, "browser": known})
    return response


@bp.get("/sign-in/sso")
def sso_landing():
    """Where a single sign-on lands (hotdesk.web.sso): its one-time code, from this browser."""
    sign_in = sso_web.landing(sso.Face.PORTAL)
    if sign_in is None or sign_in.user_id is None:
        page, status = _sign_in_page(400, error="That single sign-on is over or was not begun here: sign in again.")
        return sso_web.forget_state(Response(page, status))
    return sso_web.forget_state(_signed_in(db().get_one(User, sign_in.user_id), _known_browser(), by_sso=True))


# A browser the person signed in from: its sign-ins escape the account's and the address's
# counts (hotdesk.self_service), so someone typing the person's LOGIN elsewhere cannot lock them out.
BROWSER_COOKIE = "hotdesk_portal_browser"
_browsers = KnownBrowserCookie(BROWSER_COOKIE, "hotdesk-portal-known-browser", "portal.sign_in")


def _known_browser() -> self_service.KnownBrowser | None:
    value = _browsers.read()
    if value is None or not isinstance(value.get("user"), int) or not isinstance(value.get("browser"), str):
        return None
    return self_service.KnownBrowser(value["user"], value["browser"][:32])


@bp.post("/sign-out")
def sign_out():
    self_service.end_sessions(db(), g.user)  # a copy of the cookie is worth nothing from now on
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("portal.sign_in"))


# the person's page


def _when(moment: datetime) -> str:
    return moment.astimezone(settings()[TIMEZONE]).strftime("%a %d %b %Y, %H:%M")


@bp.get("/")
def home():
    session_ = db()
    return render_template(
        "portal/home.html",
        phones=self_service.desk_phones(session_, g.user),
        recent=self_service.recent(session_, g.user),
        login=self_service.login_of(session_, g.user),
        when=_when,
        zone=str(settings()[TIMEZONE]),
        phone_name=lambda phone: _phone_name(phone.brand, phone.model),
        describe=_describe,
        failures=FAILURES,
        pin_rule=_pin_rule(settings()[PIN_LENGTH]),
        # directory_source asterisk: the PIN is the PBX's, changed from the voicemail menu, not here.
        pbx_owns_pin=self_service.PBX_OWNS_PIN if settings()[DIRECTORY_SOURCE] is DirectorySource.ASTERISK else None,
    )


FAILURES = (EventKind.LOGIN_FAILED, EventKind.USER_SIGNIN_FAILED, EventKind.LOCKOUT)


def _describe(event: Event) -> str:
    """One line of the person's history, in their words."""
    phone = f"{_phone_name(event.brand or '', event.model)} ({event.mac})"
    by = f" by {event.actor}" if event.actor else ""
    match event.kind:
        case EventKind.LOGIN:
            return f"Logged in on the {phone}" + (" by an administrator" if event.actor else "")
        case EventKind.LOGOUT:
            return f"Logged out of the {phone}{by}" + (f": {event.detail}" if event.detail else "")
        case EventKind.LOGIN_FAILED:
            why = "locked" if event.detail in ("phone_locked", "extension_locked", "locked_out") else "wrong PIN"
            return f"Failed login on the {phone} ({why})"
        case EventKind.LOCKOUT:
            return f"Locked after failed logins: {event.detail}"
        case EventKind.USER_SIGNIN:
            return f"Signed in here from {event.ip or 'an unknown address'}"
        case EventKind.SSO_SIGNIN:
            where = "the phone app" if (event.detail or "").startswith("app:") else "here"
            return f"Signed in {where} with single sign-on from {event.ip or 'an unknown address'}"
        case EventKind.USER_SIGNIN_FAILED:
            return f"Failed sign-in here from {event.ip or 'an unknown address'} (wrong password)"
        case EventKind.ACCESS_CODE_SENT | EventKind.ACCESS_CODE_RESENT:
            where = "the phone app" if event.detail == access_codes.Face.APP else "here"
            again = "A new access code" if event.kind == EventKind.ACCESS_CODE_RESENT else "An access code"
            return f"{again} was mailed to you for a sign-in {where} from {event.ip or 'an unknown address'}"
        case EventKind.PASSWORD_CHANGED:
            how = f" {event.detail}" if event.detail == self_service.BY_LINK else ""
            return f"Password changed{how}" + (f" from {event.ip}" if event.ip else "")
        case EventKind.PIN_CHANGED:
            return "PIN changed" + (f" from {event.ip}" if event.ip else "")
        case EventKind.PASSWORD_LINK_REQUESTED:
            return f"A link to choose a new password asked for from {event.ip or 'an unknown address'}"
        case EventKind.APP_SIGNIN:
            return f"An app signed in with your QR code from {event.ip or 'an unknown address'}"
        case EventKind.APP_REVOKED:
            return "An app revoked" + by
        case EventKind.QR_REFRESHED:
            return "QR code refreshed" + by
    return event.kind


def _pin_rule(length: PinLength) -> str:
    return f"{length.shortest} digits" if length.shortest == length.longest else f"{length} digits"


@bp.route("/password", methods=["GET", "POST"])
def password():
    forced = g.user.must_change_password
    if request.method == "GET":
        return render_template("portal/password.html", forced=forced)
    form = request.form
    error = None
    if form.get("new", "") != form.get("confirm", ""):
        error = "The two new passwords differ."
    else:
        try:
            self_service.change_password(db(), g.user, form.get("current", ""), form.get("new", ""), client_ip())
        except people.PeopleError as refused:
            error = str(refused)
    if error is not None:
        return render_template("portal/password.html", forced=forced, error=error), 422
    session["epoch"] = g.user.session_epoch  # this browser stays signed in; every other one is out
    flash("Password changed. Every other browser signed in as you is signed out.", "info")
    return redirect(url_for("portal.home"))


@bp.post("/pin")
def pin():
    form = request.form
    error = None
    if form.get("pin", "") != form.get("confirm", ""):
        error = "The two PINs differ."
    else:
        try:
            self_service.change_pin(db(), g.user, form.get("pin", ""), client_ip(), settings())
        except people.PeopleError as refused:
            error = str(refused)
    if error is not None:
        flash(error, "error")
        return _back_with_nothing_changed()
    flash("PIN changed: log in on a desk phone with the new one.", "info")
    return redirect(url_for("portal.home"))


@bp.post("/phones/<mac>/logout")
def log_out_there(mac: str):
    session_ = db()
    try:
        device = self_service.log_out_there(session_, g.user, mac, client_ip())
    except self_service.NotYours as refused:
        flash(str(refused), "error")
        return _back_with_nothing_changed()
    login = self_service.login_of(session_, g.user)
    phones.tell_reload(session_, hotdesk().settings, hotdesk().notifier, device, reason=f"logout by {login} (portal)")
    flash(f"Logged out of the {_phone_name(device.brand, device.model)} ({device.mac}).", "info")
    return redirect(url_for("portal.home"))


# the person's softphone app


@bp.get("/app")
def softphone():
    session_ = db()
    made: SignInUrl | None = None
    problem = None
    try:
        made = self_service.my_sign_in_url(
            session_, settings(), hotdesk().config.secret_key, g.user, app_base_url(), client_ip()
        )
    except people.PeopleError as refused:
        problem = str(refused)
    return render_template(
        "portal/softphone.html",
        qr=made,
        qr_svg=Markup(svg_element(made.url)) if made else None,
        problem=problem,
        apps=self_service.my_apps(session_, g.user),
        default_transport=settings()[QR_TRANSPORT].value,
        default_address=settings()[QR_ADDRESS].value,
        when=_when,
        zone=str(settings()[TIMEZONE]),
    )


@bp.post("/app/qr")
def qr_refresh():
    return _on_the_app_page(
        lambda: self_service.my_sign_in_url(
            db(), settings(), hotdesk().config.secret_key, g.user, app_base_url(), client_ip(), refresh=True
        ),
        "New QR code: the earlier one no longer signs an app in.",
    )


@bp.post("/app/choices")
def qr_choices():
    form = request.form
    return _on_the_app_page(
        lambda: self_service.set_my_qr_choices(db(), g.user, form.get("qr_transport", ""), form.get("qr_address", "")),
        "Saved: your apps get it at their next start, your QR code when it is scanned.",
    )


def _on_the_app_page(change: Callable[[], object], done: str):
    """Make the change and say `done`, or say why not, nothing changed; back to the app page either way."""
    try:
        change()
    except people.PeopleError as refused:
        flash(str(refused), "error")
        return _back_with_nothing_changed("portal.softphone")
    flash(done, "info")
    return redirect(url_for("portal.softphone"))


@bp.post("/app/apps/<int:app_id>/revoke")
def app_revoke(app_id: int):
    try:
        app = self_service.revoke_my_app(db(), g.user, app_id, client_ip())
    except self_service.NotYours as refused:
        abort(404, str(refused))
    flash(f"App revoked ({app.label}): it stops registering at its next start.", "info")
    return redirect(url_for("portal.softphone"))


def _back_with_nothing_changed(endpoint: str = "portal.home"):
    db().rollback()  # the answer is a redirect, which would commit: the refusal changes nothing
    return redirect(url_for(endpoint))


def _phone_name(brand: str, model: str | None) -> str:
    label = BRANDS[brand].label if brand in BRANDS else brand
    return " ".join(part for part in (label, model) if part) or "phone"


from hotdesk.web import portal_password  # noqa: E402, F401 (its routes, on bp: reached without a session)

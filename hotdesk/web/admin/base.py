"""/admin/: the web console. Server-rendered pages; JavaScript only refreshes the live table and
fills a generated secret in (the key button).

Thin like the phone app: each view reads a form, calls hotdesk.admin, and renders or redirects.
Signed-in admins only (argon2 passwords, sign-ins throttled from the history), CSRF tokens on
every form (Flask-WTF), session cookie HttpOnly, SameSite=Lax, and Secure on HTTPS requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from importlib import resources
from typing import TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect

from hotdesk import tenancy
from hotdesk.admin import AdminError, ImportCheck, accounts, phones
from hotdesk.directory import DirectoryError
from hotdesk.models import DEFAULT_TENANT_ID, Admin, Tenant
from hotdesk.settings import SettingError
from hotdesk.templates import TemplateError
from hotdesk.tenancy import TenantError
from hotdesk.web import act_for_tenant, carries_nul, db, hotdesk, tenant_id

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    # Flask reads pages and assets from a directory: the package's own, where pip unpacked it.
    template_folder=str(resources.files("hotdesk") / "templates"),
    static_folder=str(resources.files("hotdesk") / "static" / "admin"),
    static_url_path="/static",
)


T = TypeVar("T", bound=ImportCheck)


csrf = CSRFProtect()


REFUSED = (AdminError, DirectoryError, SettingError, TemplateError, TenantError)


LIVE_POLL_SECONDS = 2


MAX_UPLOAD = 64 * 1024 * 1024  # a CSV of 100k extensions is a few MB


class _SessionCookie(SecureCookieSessionInterface):
    """The Secure flag whenever the console is reached over HTTPS (directly or via a trusted proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or bool(app.config["SESSION_COOKIE_SECURE"])


def init_app(app: Flask) -> None:
    app.config.update(
        SESSION_COOKIE_NAME="hotdesk_admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in this blueprint only: phones and API tokens send none
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the signed-in session
        MAX_FORM_MEMORY_SIZE=MAX_UPLOAD,
    )
    app.session_interface = _SessionCookie()
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.add_url_rule("/", "admin_home", lambda: redirect(url_for("admin.dashboard")))


# Reached without a session (the access code's with the challenge a right password left in it).
OPEN = ("admin.sign_in", "admin.sso_landing", "admin.static", "admin.access_code", "admin.resend_code")


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    if carries_nul():
        abort(400, "NUL characters are not allowed.")
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in OPEN:
        return None
    admin = db().get(Admin, session["admin_id"]) if "admin_id" in session else None
    if admin is None or session.get("key") != accounts.session_key(admin):
        session.clear()
        return redirect(
            url_for("admin.sign_in", next=request.full_path.rstrip("?") if request.method == "GET" else None)
        )
    g.admin = admin
    g.actor = admin.name
    act_for_tenant(_console_tenant(admin))
    return None


# Roles. A tenant manager (admins.tenant_id set) acts for their tenant, always; a system admin for
# the tenant chosen in the header (kept in the session cookie), the default tenant until they choose.
# Every view passes tenant_id() to hotdesk.admin, which filters: no view filters by itself.
CHOSEN_TENANT = "tenant"


def _console_tenant(admin: Admin) -> int:
    if admin.tenant_id is not None:
        return admin.tenant_id
    chosen = session.get(CHOSEN_TENANT)
    if isinstance(chosen, int) and db().get(Tenant, chosen) is not None:
        return chosen
    return DEFAULT_TENANT_ID


def is_manager() -> bool:
    """Is the signed-in admin a tenant manager (rather than a system admin)?"""
    return g.admin.tenant_id is not None


def acting_tenant() -> int:
    """Whose admins and tokens the Access page shows and changes (hotdesk.admin.accounts)."""
    return g.admin.tenant_id if is_manager() else accounts.EVERYONE


def templates_tenant() -> int | None:
    """Whose templates: a system admin acting for the default tenant edits the system's."""
    return None if not is_manager() and tenant_id() == DEFAULT_TENANT_ID else tenant_id()


def system_only() -> None:
    """Pages only a system admin has: a tenant manager is answered as if they did not exist."""
    if is_manager():
        abort(404)


@bp.context_processor
def _roles() -> dict:
    """What the header shows: the tenant acted for, and a system admin's choice of tenants."""
    if "admin" not in g:
        return {}
    return {
        "acting_tenant": db().get(Tenant, tenant_id()),
        "tenant_choices": [] if is_manager() else tenancy.listing(db()),
        "system_admin": not is_manager(),
    }


@bp.after_request
def browser_headers(response: Response) -> Response:
    """What every page of a browser-facing face (console, portal) is answered with."""
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not (request.endpoint or "").endswith(".static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> tuple[str, int]:
    message = f"{error.description} The form expired or came from elsewhere: go back, reload and try again."
    return render_template("admin/error.html", title="Form expired", message=message), 400


@bp.errorhandler(400)
@bp.errorhandler(404)
def _http_error(error) -> tuple[str, int]:
    return render_template("admin/error.html", title=error.name, message=error.description), error.code


def refusals_flashed(view):
    """A refused action goes back to the page it came from with the one-line reason; nothing changed."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except REFUSED as error:
            db().rollback()  # the answer is a redirect, which would commit: the refusal changes nothing
            flash(str(error), "error")
            return redirect(local_url(request.referrer, same_host=True) or url_for("admin.dashboard"))

    return wrapper


def local_url(url: str | None, *, same_host: bool = False) -> str | None:
    """The console path to redirect to, or None: `next` and Referer come from the browser.

    Only a path of this console ("/admin/..."), or with `same_host` (a Referer) a URL naming this
    host; never a scheme-relative ("//host", "/\\host"), scheme-only ("https:/host") or
    control-character URL, which a browser resolves to another host or which cannot go into a
    Location header.
    """
    if not url or len(url) > 2048 or not url.isprintable() or "\\" in url:
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        if not same_host or parts.scheme not in ("http", "https") or parts.netloc != request.host:
            return None
        url = url[len(f"{parts.scheme}://{parts.netloc}") :]
    path = urlsplit(url).path
    if url.startswith("//") or not (path == "/admin" or path.startswith("/admin/")):
        return None
    return url


def tell_notified(devices, reason: str) -> None:
    for device in devices:
        phones.tell_reload(db(), hotdesk().settings, hotdesk().notifier, device, reason=reason)


def csv_import(
    page: str,
    check: Callable[..., T],
    run: Callable[..., T],
    done: Callable[[T], str],
    more: Callable[[T], dict] = lambda preview: {},
):
    """The console's imports: upload -> preview by `check` (every bad row listed, nothing written;
    `more` adds to what the page shows) -> confirm, imported all or nothing by `run`; then `done`
    flashes what happened and names the page to go back to."""
    if request.method == "GET":
        return render_template(page, preview=None)
    upload = request.files.get("file")
    source = (upload.filename if upload and upload.filename else None) or "upload"
    raw = upload.read() if upload else request.form.get("csv", "").encode()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return render_template(page, preview=None, error=f"{source}: not UTF-8 text (byte {error.start})"), 422
    session_ = db()
    if request.form.get("confirm"):
        source = request.form.get("source", source)
        try:
            return redirect(done(run(session_, text, source, g.actor, tenant_id=tenant_id())))
        except REFUSED:  # what the preview showed has changed since
            session_.rollback()
    preview = check(session_, text, source, tenant_id=tenant_id())
    shown = render_template(page, preview=preview, csv=text, source=source, **more(preview))
    return shown, 200 if preview.ok else 422


def csv_download(chunks, filename: str) -> Response:
    response = Response(stream_with_context(chunks), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

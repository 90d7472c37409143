"""/admin/: the web console. Server-rendered pages; JavaScript only refreshes the live table and
fills a generated secret in (the key button).

Thin like the phone app: each view reads a form, calls hotdesk.admin, and renders or redirects.
Signed-in admins only (argon2 passwords, sign-ins throttled from the history), CSRF tokens on
every form (Flask-WTF), session cookie HttpOnly, SameSite=Lax, and Secure on HTTPS requests.
"""

from __future__ import annotations

import secrets
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

from hotdesk import people, policy, tenancy
from hotdesk.admin import AdminError, ImportCheck, NotFound, Page, accounts, history, lockouts, phones, pins, users
from hotdesk.admin import extensions as admin_extensions
from hotdesk.admin import settings as admin_settings
from hotdesk.admin import templates as admin_templates
from hotdesk.brands import BRANDS
from hotdesk.directory import DirectoryError, ExtensionData
from hotdesk.models import DEFAULT_TENANT_ID, Admin, Tenant
from hotdesk.settings import PIN_LENGTH, SECRET_POLICY, SecretPolicy, SettingError
from hotdesk.templates import TemplateError
from hotdesk.tenancy import TenantError
from hotdesk.web import act_for_tenant, carries_nul, client_ip, db, hotdesk, tenant_id
from hotdesk.web import settings as setting_values
from hotdesk.web.known_browser import KnownBrowserCookie

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


@bp.before_request
def _guard() -> ResponseReturnValue | None:
    if carries_nul():
        abort(400, "NUL characters are not allowed.")
    if request.method == "POST":
        csrf.protect()
    if request.endpoint in ("admin.sign_in", "admin.static"):
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


def _manager() -> bool:
    """Is the signed-in admin a tenant manager (rather than a system admin)?"""
    return g.admin.tenant_id is not None


def _within() -> int:
    """Whose admins and tokens the Access page shows and changes (hotdesk.admin.accounts)."""
    return g.admin.tenant_id if _manager() else accounts.EVERYONE


def _templates_tenant() -> int | None:
    """Whose templates: a system admin acting for the default tenant edits the system's."""
    return None if not _manager() and tenant_id() == DEFAULT_TENANT_ID else tenant_id()


def _system_only() -> None:
    """Pages only a system admin has: a tenant manager is answered as if they did not exist."""
    if _manager():
        abort(404)


@bp.context_processor
def _roles() -> dict:
    """What the header shows: the tenant acted for, and a system admin's choice of tenants."""
    if "admin" not in g:
        return {}
    return {
        "acting_tenant": db().get(Tenant, tenant_id()),
        "tenant_choices": [] if _manager() else tenancy.listing(db()),
        "system_admin": not _manager(),
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


def _refusals(view):
    """A refused action goes back to the page it came from with the one-line reason; nothing changed."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except REFUSED as error:
            db().rollback()  # the answer is a redirect, which would commit: the refusal changes nothing
            flash(str(error), "error")
            return redirect(_local(request.referrer, same_host=True) or url_for("admin.dashboard"))

    return wrapper


def _local(url: str | None, *, same_host: bool = False) -> str | None:
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


def _tell(devices, reason: str) -> None:
    for device in devices:
        phones.tell_reload(db(), hotdesk().settings, hotdesk().notifier, device, reason=reason)


# signing in and out


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
    response = redirect(_local(next_url) or url_for("admin.dashboard"))
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


# dashboard


@bp.get("/")
def dashboard():
    session_ = db()
    return render_template(
        "admin/dashboard.html",
        extensions=admin_extensions.count(session_, tenant_id=tenant_id()),
        logged_in=phones.logged_in_count(session_, tenant_id=tenant_id()),
        recent=history.page(session_, history.Filters(), limit=15, tenant_id=tenant_id()).items,
        brands=admin_templates.listing(session_, tenant_id=_templates_tenant()),
    )


# extensions


@bp.get("/extensions")
def extensions():
    search = request.args.get("q", "")
    try:
        page = admin_extensions.page(
            db(), search=search, after=request.args.get("after") or None, tenant_id=tenant_id()
        )
    except REFUSED as error:
        abort(400, str(error))
    return render_template("admin/extensions.html", page=page, search=search)


def _extension_form(extension, form, error: str | None = None, status: int = 200):
    values = setting_values()
    user = extension.user if extension else None
    return render_template(
        "admin/extension_form.html",
        extension=extension,
        form=form,
        error=error,
        user=user,  # its account: LOGIN, and the generated password until the user changes it
        login=users.login_of(db(), user) if user else None,
        pending_password=people.pending_password(user),
        strong_secrets=values[SECRET_POLICY] is SecretPolicy.STRONG,
        pin_length=values[PIN_LENGTH],
        specials=" ".join(policy.SPECIALS),
    ), status


@bp.get("/secrets/generate")
def secret_generate():
    """A new secret that meets the strong policy, for the key button of the extension form (JSON)."""
    return {"secret": policy.generate_secret()}


@bp.route("/extensions/new", methods=["GET", "POST"])
def extension_new():
    if request.method == "GET":
        return _extension_form(None, {})
    form = request.form
    optional = ("voicemail_pin", "email", "auth_name", "template", "username")
    data = ExtensionData(
        form.get("number", "").strip(),
        form.get("name", ""),
        form.get("secret", ""),
        **{name: form.get(name, "").strip() or None for name in optional},
        user_password=form.get("user_password") or None,  # as typed; none: generated
    )
    try:
        cell = form.get("cell", "").strip() or None
        extension = admin_extensions.create(db(), data, g.actor, setting_values(), cell=cell, tenant_id=tenant_id())
    except REFUSED as error:
        return _extension_form(None, form, str(error), 422)
    flash(f"Extension {data.number} added, with the user account {users.of_extension(extension).username}.", "info")
    # Its page shows the generated password, until the user changes it.
    return redirect(url_for("admin.extension_edit", number=data.number))


@bp.route("/extensions/<number>", methods=["GET", "POST"])
def extension_edit(number: str):
    session_ = db()
    try:
        extension = admin_extensions.get(session_, number, tenant_id=tenant_id())
    except NotFound as error:
        abort(404, str(error))
    if request.method == "GET":
        return _extension_form(extension, {})
    form = request.form
    changes: dict[str, str | None] = {name: form.get(name, "").strip() for name in ("name", "email", "auth_name")}
    for name in ("secret", "voicemail_pin", "template"):  # blank: keep (secret and PIN are never shown)
        if form.get(name, "").strip():
            changes[name] = form[name].strip()
    if form.get("remove_pin"):
        changes["voicemail_pin"] = None
    try:
        admin_extensions.update(session_, number, changes, g.actor, setting_values(), tenant_id=tenant_id())
        # The user account goes with the extension: one without (older than accounts) gets it here.
        users.change(
            session_,
            extension,
            g.actor,
            username=form.get("username", "").strip() or None,
            cell=form.get("cell", "").strip(),
        )
    except REFUSED as error:
        session_.rollback()
        return _extension_form(extension, form, str(error), 422)
    flash(f"Extension {number} saved.", "info")
    return redirect(url_for("admin.extensions", q=number))


@bp.post("/extensions/<number>/user-password")
@_refusals
def extension_user_password(number: str):
    """Generate a new account password: shown on the extension's page until the user changes it."""
    user = users.of_extension(admin_extensions.get(db(), number, tenant_id=tenant_id()))
    users.set_password(db(), user, g.actor, None, temporary=True)
    flash(f"A new password was generated for {user.username}: it must be changed at the next sign-in.", "info")
    return redirect(url_for("admin.extension_edit", number=number))


@bp.post("/extensions/<number>/delete")
@_refusals
def extension_delete(number: str):
    devices = admin_extensions.delete(db(), number, g.actor, tenant_id=tenant_id())
    _tell(devices, f"extension deleted by {g.actor}")
    flash(f"Extension {number} deleted.", "info")
    return redirect(url_for("admin.extensions"))


def _csv_import(
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


@bp.route("/extensions/import", methods=["GET", "POST"])
def extensions_import():
    def done(imported: admin_extensions.ImportPreview) -> str:
        added = sum(row.action == "add" for row in imported.rows)
        flash(
            f"{len(imported.rows)} extension(s) imported: {added} added, {len(imported.rows) - added} updated.", "info"
        )
        if imported.passwords:
            flash(
                f"{len(imported.passwords)} user account(s) opened with a generated password: each extension's page"
                " shows it until its user changes it at the first sign-in.",
                "info",
            )
        warnings = admin_extensions.import_warnings(imported.rows, setting_values())
        if warnings:
            flash(_import_warning(warnings), "warning")
        return url_for("admin.extensions")

    def warning(preview: admin_extensions.ImportPreview) -> dict:
        warnings = admin_extensions.import_warnings(preview.rows, setting_values())
        return {"warning": _import_warning(warnings) if warnings else None}

    return _csv_import("admin/import.html", admin_extensions.preview_import, admin_extensions.import_csv, done, warning)


def _import_warning(warnings: admin_extensions.ImportWarnings) -> str:
    parts = []
    if warnings.weak_secrets:
        parts.append(f"{len(warnings.weak_secrets)} secret(s) break the secret policy")
    if warnings.weak_pins:
        parts.append(f"{len(warnings.weak_pins)} PIN(s) are outside pin_length or trivial to guess")
    return (
        f"Imported as they are, from the PBX they come from: {' and '.join(parts)}."
        " Weak secrets and PINs lists them; change them when you can."
    )


@bp.get("/extensions/weak")
def extensions_weak():
    session_ = db()
    return render_template(
        "admin/weak.html",
        secrets=admin_extensions.weak_secrets(session_, tenant_id=tenant_id()),
        pins=admin_extensions.weak_pins(session_, setting_values(), tenant_id=tenant_id()),
    )


@bp.get("/extensions/export.csv")
def extensions_export():
    return _csv(admin_extensions.export_csv(db(), tenant_id=tenant_id()), "extensions.csv")


def _csv(chunks, filename: str) -> Response:
    response = Response(stream_with_context(chunks), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# templates


@bp.get("/templates")
def templates():
    listing = admin_templates.listing(db(), tenant_id=_templates_tenant())
    by_brand = {key: [t for t in listing if t.brand == key] for key in sorted(BRANDS)}
    return render_template("admin/templates.html", by_brand=by_brand, brands=BRANDS)


@bp.route("/templates/<brand>/<name>", methods=["GET", "POST"])
def template_edit(brand: str, name: str):
    session_ = db()
    try:
        template = admin_templates.get(session_, brand, name, tenant_id=_templates_tenant())
    except NotFound as error:
        abort(404, str(error))
    if brand not in BRANDS:  # a template of a brand this version no longer has
        abort(404, f"no brand {brand!r}")
    if request.method == "GET":
        return render_template(
            "admin/template_form.html", template=template, brand=brand, name=name, body=template.body
        )
    body = request.form.get("body", "")
    try:
        admin_templates.save(session_, brand, name, body, g.actor, tenant_id=_templates_tenant())
    except REFUSED as error:
        session_.rollback()
        return render_template(
            "admin/template_form.html", template=template, brand=brand, name=name, body=body, error=str(error)
        ), 422
    flash(f"Template {brand}/{name} saved.", "info")
    return redirect(url_for("admin.templates"))


@bp.route("/templates/new", methods=["GET", "POST"])
def template_new():
    brand = request.values.get("brand", "")
    if brand not in BRANDS:
        abort(404, f"no brand {brand!r}")
    session_ = db()
    if request.method == "GET":
        listing = admin_templates.listing(session_, brand, tenant_id=_templates_tenant())
        default = next((t for t in listing if t.is_default), None)
        return render_template(
            "admin/template_form.html", template=None, brand=brand, name="", body=default.body if default else ""
        )
    name, body = request.form.get("name", "").strip(), request.form.get("body", "")
    try:
        admin_templates.save(session_, brand, name, body, g.actor, create_only=True, tenant_id=_templates_tenant())
    except REFUSED as error:
        session_.rollback()
        return render_template(
            "admin/template_form.html", template=None, brand=brand, name=name, body=body, error=str(error)
        ), 422
    flash(f"Template {brand}/{name} added.", "info")
    return redirect(url_for("admin.templates"))


@bp.post("/templates/<brand>/<name>/default")
@_refusals
def template_default(brand: str, name: str):
    admin_templates.set_default(db(), brand, name, g.actor, tenant_id=_templates_tenant())
    flash(f"{brand}/{name} is now the default {BRANDS[brand].label} template.", "info")
    return redirect(url_for("admin.templates"))


@bp.post("/templates/<brand>/<name>/delete")
@_refusals
def template_delete(brand: str, name: str):
    admin_templates.delete(db(), brand, name, g.actor, tenant_id=_templates_tenant())
    flash(f"Template {brand}/{name} deleted.", "info")
    return redirect(url_for("admin.templates"))


# who is where, pins, force logout


@bp.get("/mappings")
def mappings():
    session_ = db()
    search = request.args.get("q", "")
    return render_template(
        "admin/mappings.html",
        seats=phones.who_is_where(session_, search, tenant_id=tenant_id()),
        marker=phones.live_marker(session_, tenant_id=tenant_id()),
        search=search,
        pins=pins.listing(session_, tenant_id=tenant_id()),
        templates=admin_templates.listing(session_, tenant_id=_templates_tenant()),
        poll_seconds=LIVE_POLL_SECONDS,
    )


@bp.get("/mappings/live")
def mappings_live():
    """The live table alone, for the page's script; 204 while nobody logged in or out since `marker`."""
    session_ = db()
    marker = phones.live_marker(session_, tenant_id=tenant_id())
    if request.args.get("marker") == str(marker):
        return Response(status=204)
    seats = phones.who_is_where(session_, request.args.get("q", ""), tenant_id=tenant_id())
    html = render_template("admin/_seats.html", seats=seats, marker=marker)
    return Response(html, content_type="text/html; charset=utf-8")


@bp.post("/mappings/<mac>/logout")
@_refusals
def force_logout(mac: str):
    done = phones.force_logout(db(), hotdesk().settings, hotdesk().notifier, mac, g.actor, tenant_id=tenant_id())
    extension = done.extension
    flash(f"{extension.number} logged out of {mac}." if extension else f"Nobody was logged in on {mac}.", "info")
    back = request.form.get("next")
    return redirect(_local(back) or url_for("admin.mappings"))


# devices


@bp.get("/devices")
def devices():
    search = request.args.get("q", "")
    session_ = db()
    try:
        page = phones.devices_page(
            session_, search=search, after=request.args.get("after") or None, tenant_id=tenant_id()
        )
    except REFUSED as error:
        abort(400, str(error))
    return render_template(
        "admin/devices.html",
        page=page,
        search=search,
        waiting=phones.waiting(session_, tenant_id=tenant_id()),
        waiting_count=phones.waiting_count(session_, tenant_id=tenant_id()),
        admission=hotdesk().settings.get(session_, "device_admission", tenant_id()),
        lockouts=lockouts.listing(session_, hotdesk().settings, tenant_id=tenant_id()),
    )


@bp.post("/devices")
@_refusals
def device_add():
    device = phones.add_known(
        db(), request.form.get("mac", ""), g.actor, request.form.get("address") or None, tenant_id=tenant_id()
    )
    where = f"from {device.admitted_address}" if device.admitted_address else "from any address"
    flash(f"{device.mac} is admitted: its own credentials go to its next fetch {where}.", "info")
    return redirect(url_for("admin.devices"))


@bp.route("/devices/import", methods=["GET", "POST"])
def devices_import():
    def done(imported: phones.KnownImport) -> str:
        flash(f"{len(imported.changed)} phone(s) added or admitted.", "info")
        return url_for("admin.devices")

    return _csv_import("admin/devices_import.html", phones.preview_known, phones.import_known, done)


@bp.post("/devices/<mac>/admit")
@_refusals
def device_admit(mac: str):
    # The form carries the address the admin saw on the page: admitted is what they saw.
    device = phones.admit(db(), mac, g.actor, request.form.get("address") or None, tenant_id=tenant_id())
    where = f"from {device.admitted_address}" if device.admitted_address else "from any address"
    flash(f"{device.mac} is admitted: its own credentials go to its next fetch {where}.", "info")
    return redirect(url_for("admin.devices", q=request.form.get("q") or None))


@bp.post("/devices/admit-waiting")
@_refusals
def devices_admit_waiting():
    admitted = phones.admit_all_waiting(db(), g.actor, tenant_id=tenant_id())
    flash(f"{len(admitted)} waiting phone(s) admitted, each at the address it was seen at.", "info")
    return redirect(url_for("admin.devices"))


@bp.post("/devices/<mac>/reset-credentials")
@_refusals
def reset_credentials(mac: str):
    device = phones.reset_credentials(db(), mac, g.actor, tenant_id=tenant_id())
    flash(f"{device.mac}: its own credentials are withdrawn; it is issued new ones at its next fetch.", "info")
    return redirect(url_for("admin.devices", q=request.form.get("q") or None))


@bp.route("/devices/<mac>/login", methods=["GET", "POST"])
@_refusals
def device_login(mac: str):
    """Log an extension in on a phone without its PIN: how Digium D phones (no login app) get a user."""
    device = phones.device(db(), mac, tenant_id())
    if request.method == "POST":
        number = request.form.get("extension", "")
        address = request.form.get("address", "")
        made = phones.login(
            db(), hotdesk().settings, hotdesk().notifier, mac, number, address, g.actor, tenant_id=tenant_id()
        )
        displaced = "".join(f" {made.extension.number} was logged out of {other.mac}." for other in made.logged_out)
        flash(
            f"{made.extension.number} logged in on {made.device.mac}; the phone is told to reload.{displaced}", "info"
        )
        return redirect(url_for("admin.devices", q=made.device.mac))
    return render_template("admin/device_login.html", device=device)


@bp.post("/lockouts/unlock")
@_refusals
def unlock():
    what = lockouts.unlock(
        db(),
        g.actor,
        extension=request.form.get("extension") or None,
        mac=request.form.get("mac") or None,
        tenant_id=tenant_id(),
    )
    flash(f"{what.capitalize()} unlocked.", "info")
    return redirect(url_for("admin.devices"))


@bp.post("/pins")
@_refusals
def pin():
    number = request.form.get("extension", "").strip()
    reference = request.form.get("template", "")
    pins.pin(db(), number, reference, g.actor, tenant_id=tenant_id())
    flash(f"{number} pinned to {reference}.", "info")
    return redirect(url_for("admin.mappings"))


@bp.post("/pins/<number>/<brand>/delete")
@_refusals
def unpin(number: str, brand: str):
    pins.unpin(db(), number, brand, g.actor, tenant_id=tenant_id())
    flash(f"{number} unpinned from its {brand} template.", "info")
    return redirect(url_for("admin.mappings"))


# history


def _parsed_filters() -> history.Filters:
    """The filters asked for (an empty form field means "any"); AdminError naming a bad one."""
    return history.Filters.parse(
        **{name: request.args.get(name) or None for name in ("extension", "mac", "kind", "since", "until")}
    )


def _history_filters() -> history.Filters:
    try:
        return _parsed_filters()
    except AdminError as error:
        abort(400, str(error))


@bp.get("/history")
def history_view():
    query = {k: v for k, v in request.args.items() if k != "before" and v}
    try:
        page = history.page(db(), _parsed_filters(), before=request.args.get("before") or None, tenant_id=tenant_id())
    except AdminError as error:  # the page again, with the filters as typed, to correct them
        flash(str(error), "error")
        return render_template(
            "admin/history.html", page=Page([], None), args=request.args, query=query, kinds=history.KINDS
        ), 400
    return render_template("admin/history.html", page=page, args=request.args, query=query, kinds=history.KINDS)


@bp.get("/history/export.csv")
def history_export():
    return _csv(history.export_csv(db(), _history_filters(), tenant_id=tenant_id()), "history.csv")


# settings


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    registry = hotdesk().settings
    session_ = db()
    views = admin_settings.listing(session_, registry, tenant_id())
    if request.method == "GET":
        return _settings_page(views)
    current = registry.all(session_, tenant_id())
    wanted = {
        view.name: request.form[view.name]
        for view in views
        if view.name in request.form
        and not (view.secret and request.form[view.name] == "")
        and request.form[view.name] != current[view.name]
    }
    errors = {}
    for name, value in wanted.items():  # check all first: a form with one bad value changes nothing
        try:
            if _manager():
                admin_settings.check_manager_may_change(name, tenant_id())
            registry.spec(name).check(value)
        except (SettingError, AdminError) as error:
            errors[name] = str(error)
    if errors:
        return _settings_page(views, values=request.form, errors=errors), 422
    for name, value in wanted.items():
        admin_settings.change(session_, registry, name, value, g.actor, tenant_id=tenant_id(), manager=_manager())
    flash(f"{len(wanted)} setting(s) changed." if wanted else "Nothing changed.", "info")
    return redirect(url_for("admin.settings"))


@bp.post("/settings/<name>/unset")
@_refusals
def setting_unset(name: str):
    """The tenant takes the installation's value of `name` again."""
    admin_settings.unset(db(), hotdesk().settings, name, g.actor, tenant_id=tenant_id(), manager=_manager())
    flash(f"{name}: the installation's value again.", "info")
    return redirect(url_for("admin.settings"))


def _own_settings() -> set[str]:
    """The settings the tenant has values of its own for (the default tenant's are the installation's)."""
    if tenant_id() == DEFAULT_TENANT_ID:
        return set()
    return set(hotdesk().settings.overrides(db(), tenant_id()))


def _locked_settings(views) -> set[str]:
    """The settings this admin sees but may not change here (all of them for the default tenant's manager)."""
    if not _manager():
        return set()
    if tenant_id() == DEFAULT_TENANT_ID:
        return {view.name for view in views}
    return set(admin_settings.SYSTEM_ONLY)


@bp.post("/settings/<name>/show")
def setting_show(name: str):
    """A secret setting's value (as `hotdesk settings get`), in this answer only: it is in no page a
    GET returns, so no cache, history or shoulder sees it unasked. A manager reads only their
    tenant's own (admin_settings.get)."""
    registry, session_ = hotdesk().settings, db()
    try:
        shown = admin_settings.get(session_, registry, name, tenant_id(), manager=_manager())
    except NotFound as error:
        abort(404, str(error))
    except AdminError as error:
        abort(403, str(error))
    return _settings_page(admin_settings.listing(session_, registry, tenant_id()), shown={name: shown.value})


def _settings_page(views, *, values=None, errors=None, shown=None) -> str:
    return render_template(
        "admin/settings.html",
        views=views,
        values=values or {},
        errors=errors or {},
        shown=shown or {},
        locked=_locked_settings(views),
        own=(own := _own_settings()),
        # A manager reads a secret only if it is the tenant's own (admin_settings.get).
        unreadable={view.name for view in views if view.secret and view.name not in own} if _manager() else set(),
    )


# access: console admins and API tokens (as `hotdesk admins` and `hotdesk tokens`). A tenant manager
# manages the managers and tokens of their own tenant: a customer's IT adds a colleague or an
# integration's token without asking the operator, and whatever they make is bound to their tenant
# (it can reach nothing they cannot). System admins and tokens, and other tenants', they never see.


def _access_page(new_token: accounts.NewToken | None = None, status: int = 200):
    session_ = db()
    tokens = accounts.tokens(session_, _within())
    return render_template(
        "admin/access.html",
        admins=accounts.admins(session_, _within()),
        tokens=tokens,
        expired={token.name for token in tokens if accounts.token_expired(token)},
        tenant_names={tenant.id: tenant.name for tenant in tenancy.listing(session_)},
        scopes=accounts.SCOPES,
        default_scopes=accounts.DEFAULT_SCOPES,
        new_token=new_token,
    ), status


def _new_account_tenant() -> int | None:
    """The tenant a new admin or token belongs to: a manager's own; a system admin's choice (none: system)."""
    if _manager():
        return g.admin.tenant_id
    name = request.form.get("tenant", "").strip()
    return tenancy.by_name(db(), name).id if name else None


@bp.get("/access")
def access():
    return _access_page()


@bp.post("/access/admins")
@_refusals
def admin_add():
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    accounts.add_admin(db(), accounts.check_name(name), password, g.actor, tenant_id=_new_account_tenant())
    flash(f"Admin {name} added.", "info")
    return redirect(url_for("admin.access"))


@bp.post("/access/admins/<name>/password")
@_refusals
def admin_password(name: str):
    accounts.set_password(db(), name, request.form.get("password", ""), g.actor, within=_within())
    flash(f"Password of {name} changed; its open sessions have ended.", "info")
    return redirect(url_for("admin.access"))


@bp.post("/access/admins/<name>/remove")
@_refusals
def admin_remove(name: str):
    accounts.remove_admin(db(), name, g.actor, within=_within())
    flash(f"Admin {name} removed.", "info")
    return redirect(url_for("admin.access"))


@bp.post("/access/tokens")
@_refusals
def token_create():
    expires = request.form.get("expires", "").strip()
    made = accounts.create_token(
        db(),
        request.form.get("name", "").strip(),
        g.actor,
        scopes=request.form.getlist("scope"),
        expires_at=accounts.parse_expiry(expires) if expires else None,
        tenant_id=_new_account_tenant(),
    )
    # Shown in this answer only: a redirect would carry it in the (signed, not secret) session cookie.
    return _access_page(new_token=made)


@bp.post("/access/tokens/<name>/revoke")
@_refusals
def token_revoke(name: str):
    accounts.revoke_token(db(), name, g.actor, within=_within())
    flash(f"Token {name} revoked.", "info")
    return redirect(url_for("admin.access"))


# tenants: a system admin's (a tenant manager is answered 404, as for a page that does not exist)


@bp.post("/tenant")
@_refusals
def tenant_switch():
    """The tenant a system admin's pages act for from now on (the header's choice)."""
    _system_only()
    chosen = tenancy.by_name(db(), request.form.get("tenant", "").strip() or None)
    session[CHOSEN_TENANT] = chosen.id
    flash(f"Acting for tenant {chosen.name}.", "info")
    return redirect(url_for("admin.dashboard"))


def _tenants_page(made: tenancy.NewTenant | None = None, status: int = 200):
    return render_template(
        "admin/tenants.html", tenants=tenancy.listing_with_counts(db()), made=made, default_id=DEFAULT_TENANT_ID
    ), status


@bp.get("/tenants")
def tenants():
    _system_only()
    return _tenants_page()


@bp.post("/tenants")
@_refusals
def tenant_add():
    _system_only()
    made = tenancy.add(
        db(), hotdesk().settings, request.form.get("name", ""), request.form.get("sip_domain", ""), g.actor
    )
    # The provisioning password in this answer only (as a new token's): `settings` shows it again.
    return _tenants_page(made=made)


@bp.post("/tenants/<name>/remove")
@_refusals
def tenant_remove(name: str):
    _system_only()
    tenancy.remove(db(), name, g.actor)
    flash(f"Tenant {name} removed.", "info")
    return redirect(url_for("admin.tenants"))

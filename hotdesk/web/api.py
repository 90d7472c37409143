"""/api/v1/: the REST API. JSON in and out, bearer tokens, keyset pages, a JSON error for every 4xx.

Thin: each route reads the request, calls hotdesk.admin, and shapes the answer. The OpenAPI
document describing all this is hotdesk.web.openapi, served at /api/v1/openapi.json.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request, stream_with_context, url_for
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from hotdesk import people, policy, tenancy
from hotdesk.admin import (
    AdminError,
    Conflict,
    ImportCheck,
    NotAllowed,
    NotFound,
    accounts,
    apps,
    history,
    lockouts,
    mail,
    occupancy,
    pbx,
    phones,
    pins,
    users,
)
from hotdesk.admin import extensions as admin_extensions
from hotdesk.admin import settings as admin_settings
from hotdesk.admin import templates as admin_templates
from hotdesk.directory import DirectoryError, ExtensionData
from hotdesk.models import DEFAULT_TENANT_ID, ApiToken, Tenant
from hotdesk.settings import SettingError, SettingSpec
from hotdesk.templates import TemplateError
from hotdesk.tenancy import TenantError
from hotdesk.web import act_for_tenant, app_base_url, carries_nul, db, hotdesk, openapi, tenant_id
from hotdesk.web import settings as setting_values

T = TypeVar("T", bound=ImportCheck)
bp = Blueprint("api", __name__, url_prefix="/api/v1")
PREFIX = "/api/"


class BadRequest(AdminError):
    """The request's shape is wrong (400), as opposed to a value the rules refuse (422)."""


class Unsupported(AdminError):
    pass


@bp.before_request
def _authenticate() -> Response | None:
    if carries_nul():
        return error_response(400, "NUL characters are not allowed")
    rule = request.url_rule
    if request.endpoint == "api.openapi_document" or rule is None:  # None: no route, no view runs
        return None
    unknown = sorted(set(request.args) - openapi.query_parameters(rule.rule, request.method))
    if unknown:
        return error_response(400, f"{unknown[0]!r}: unknown query parameter")
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    token = accounts.token_named_by(db(), secret.strip()) if scheme.lower() == "bearer" else None
    if token is None or accounts.token_expired(token):
        message = "a valid API token is required: Authorization: Bearer <token> (hotdesk tokens create NAME)"
        if token is not None:
            message = f"API token {token.name} expired: create a new one (hotdesk tokens create NAME --expires DAYS)"
        response = error_response(401, message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="hotdesk"' + (
            ', error="invalid_token"' if token is not None else ""
        )
        return response
    g.actor = f"api:{token.name}"
    g.scopes = accounts.token_scopes(token)
    g.token_tenant = token.tenant_id
    act_for_tenant(_tenant_of(token))
    for scope in openapi.required_scopes(rule.rule, request.method):
        require_scope(scope, "this answer carries SIP secrets, PINs or passwords" if scope == "secrets" else None)
    return None


def _tenant_of(token: ApiToken) -> int:
    """The tenant this request acts for: a tenant token's own, always; a system token's `?tenant=NAME`,
    else the default tenant. Another tenant's name, to a tenant token, is 404 like one that does not exist."""
    name = request.args.get("tenant")
    if name is None:
        return token.tenant_id if token.tenant_id is not None else DEFAULT_TENANT_ID
    try:
        tenant = tenancy.by_name(db(), name)
    except TenantError:
        tenant = None
    if tenant is None or (token.tenant_id is not None and tenant.id != token.tenant_id):
        raise NotFound(f"no tenant named {name!r}")
    return tenant.id


def _manager() -> bool:
    """Is this a tenant's token (rather than a system token)?"""
    return g.token_tenant is not None


def _templates_tenant() -> int | None:
    """Whose templates: a system token acting for the default tenant changes the system's."""
    return None if not _manager() and tenant_id() == DEFAULT_TENANT_ID else tenant_id()


def _system_only() -> None:
    if _manager():
        raise NotAllowed("this is a tenant's token: tenants are managed with a system token")


class Forbidden(AdminError):
    def __init__(self, message: str, scope: str):
        super().__init__(message)
        self.scope = scope


def require_scope(scope: str, why: str | None = None) -> None:
    """403 unless this request's token has `scope` (read, write or secrets)."""
    if scope not in g.scopes:
        held = ", ".join(s for s in accounts.SCOPES if s in g.scopes)
        reason = f"{why}: " if why else ""
        raise Forbidden(f"{reason}this token lacks the {scope} scope (it has: {held})", scope)


def error_response(status: int, message: str, **extra: Any) -> Response:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


@bp.errorhandler(AdminError)
@bp.errorhandler(DirectoryError)
@bp.errorhandler(SettingError)
@bp.errorhandler(TemplateError)
@bp.errorhandler(TenantError)
def _refused(error: ValueError) -> Response:
    if isinstance(error, Forbidden):
        response = error_response(403, str(error))
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="hotdesk", error="insufficient_scope", scope="{error.scope}"'
        )
        return response
    if isinstance(error, NotAllowed):
        return error_response(403, str(error))
    if isinstance(error, NotFound):
        return error_response(404, str(error))
    if isinstance(error, Conflict):
        return error_response(409, str(error))
    if isinstance(error, BadRequest):
        return error_response(400, str(error))
    if isinstance(error, Unsupported):
        return error_response(415, str(error))
    return error_response(422, str(error))


def http_error(error: HTTPException) -> Response | None:
    """App-wide: under /api/ every HTTP error (unknown path, wrong method, ...) answers in JSON; None elsewhere."""
    if not request.path.startswith(PREFIX):
        return None
    response = error_response(error.code or 500, error.description or error.name)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


# request helpers


def _body(
    allowed: tuple[str, ...],
    required: tuple[str, ...] = (),
    nullable: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The JSON object sent: strings (or null where `nullable`), true/false where `flags`."""
    if not request.is_json:
        raise Unsupported("send a JSON object with Content-Type: application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than Python parses: no object of ours looks like that
        raise BadRequest("the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadRequest("the body is not a JSON object")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field (fields: {', '.join(allowed)})")
    for name in required:
        if name not in data:
            raise BadRequest(f"{name}: required")
    for name, value in data.items():
        if name in flags:
            if not isinstance(value, bool):
                raise BadRequest(f"{name}: must be true or false")
            continue
        if not (isinstance(value, str) or (value is None and name in nullable)):
            raise BadRequest(f"{name}: must be a string" + (" or null" if name in nullable else ""))
        if value is not None and ("\x00" in value or (not value.isascii() and not _encodes(value))):
            raise BadRequest(f"{name}: NUL characters and unpaired surrogates are not allowed")
    return data


def _one_field(name: str) -> str:
    """The body {name: "..."}: its one field, required, a string."""
    return _text(_body((name,), required=(name,)), name)


def _text(data: dict[str, str | None], name: str) -> str:
    """A field `_body` checked as required and not nullable."""
    value = data.get(name)
    if value is None:
        raise BadRequest(f"{name}: required")
    return value


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # JSON may carry "\ud800"; no database stores it
        return False
    return True


def _limit() -> int | None:
    text = request.args.get("limit")
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,6}", text):
        raise BadRequest("limit: must be a whole number")
    return int(text)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat()


def _page(page, shape) -> Response:
    return jsonify({"items": [shape(item) for item in page.items], "next": page.next})


def _csv(chunks, filename: str) -> Response:
    response = Response(stream_with_context(chunks), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# shapes: what each resource looks like in JSON (never a SIP secret or a PIN)


def extension_json(extension) -> dict:
    return {
        "number": extension.number,
        "name": extension.name,
        "auth_name": extension.auth_name,
        "email": extension.email,
        "has_voicemail_pin": extension.voicemail_pin is not None,
        "username": extension.user.username if extension.user else None,
        "cell": extension.user.cell if extension.user else None,
        "must_change_password": extension.user.must_change_password if extension.user else None,
        "qr_transport": extension.user.qr_transport if extension.user else None,
        "qr_address": extension.user.qr_address if extension.user else None,
        "pins": [
            {"brand": pin.brand, "template": pin.template.name} for pin in sorted(extension.pins, key=lambda p: p.brand)
        ],
    }


def user_password_json(user, generated: str | None = None) -> dict:
    """The account's LOGIN and the password its manager may read: a generated one, until the
    person changes it (never one a person or admin chose)."""
    return {
        "username": user.username,
        "login": users.login_of(db(), user),
        "user_password": generated or people.pending_password(user),
        "must_change_password": user.must_change_password,
    }


def app_json(app) -> dict:
    return {
        "id": app.id,
        "label": app.label,
        "signed_in_at": _iso(app.created_at),
        "last_seen_at": _iso(app.last_seen_at),
        "last_address": app.last_address,
        "revoked_at": _iso(app.revoked_at),
    }


def weak_json(weak: admin_extensions.Weak) -> dict:
    return {"extension": weak.number, "reason": weak.reason}


def template_json(template, body: bool = False) -> dict:
    shape = {
        "brand": template.brand,
        "name": template.name,
        "is_default": template.is_default,
        "updated_at": _iso(template.updated_at),
    }
    return shape | ({"body": template.body} if body else {})


def pin_json(pin) -> dict:
    return {"extension": pin.extension.number, "brand": pin.brand, "template": pin.template.name}


def seat_json(seat: phones.Seat) -> dict:
    return {
        "extension": seat.extension,
        "name": seat.name,
        "mac": seat.mac,
        "brand": seat.brand,
        "model": seat.model,
        "template": seat.template,
        "address": seat.address,
        "since": _iso(seat.since),
        "expires_at": _iso(seat.expires_at),
        "ip": seat.ip,
    }


def device_json(device) -> dict:
    return {
        "mac": device.mac,
        "brand": device.brand,
        "model": device.model,
        "firmware": device.firmware,
        "last_ip": device.last_ip,
        "last_seen": _iso(device.last_seen),
        "own_credentials": device.provisioning_username is not None,
        "logged_in": device.mapping.extension.number if device.mapping else None,
        "admitted": device.admitted,
        "admitted_at": _iso(device.admitted_at),
        "admitted_by": device.admitted_by,
        "admitted_address": device.admitted_address,
        "waiting_addresses": device.addresses_while_waiting,
        "mismatch": {"at": _iso(device.mismatch_at), "detail": device.mismatch_detail} if device.mismatch_at else None,
        "shared_credentials_fetch": (
            {"at": _iso(device.shared_fetch_at), "ip": device.shared_fetch_ip} if device.shared_fetch_at else None
        ),
    }


def lockout_json(lock) -> dict:
    return {
        "kind": lock.kind,
        "key": lock.key,
        "scope": lock.scope,
        "until": _iso(lock.until),
        "level": lock.level,
        "failures": lock.failures,
    }


def event_json(event) -> dict:
    return {
        column: _iso(getattr(event, column)) if column == "at" else getattr(event, column) for column in history.COLUMNS
    }


def setting_json(view: admin_settings.SettingView) -> dict:
    return {"name": view.name, "value": view.value, "help": view.help, "secret": view.secret}


# routes


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document())


@bp.get("/extensions")
def extensions_list() -> Response:
    page = admin_extensions.page(
        db(),
        search=request.args.get("search", ""),
        after=request.args.get("after"),
        limit=_limit(),
        tenant_id=tenant_id(),
    )
    return _page(page, extension_json)


ACCOUNT_FIELDS = ("username", "cell")
QR_CHOICES = ("qr_transport", "qr_address")


@bp.post("/extensions")
def extensions_create() -> Response:
    """With its user account: `username` (default: made of the name), `user_password` (default:
    generated, then readable with the secrets scope at /extensions/{number}/user-password)."""
    fields = ("number", "name", "secret", "voicemail_pin", "email", "auth_name", "template", "username")
    data = _body(
        (*fields, "user_password", "cell"), required=("number", "name", "secret"), nullable=(*fields[3:], "cell")
    )
    cell = data.pop("cell", None)
    extension = admin_extensions.create(
        db(),
        ExtensionData(**{k: v for k, v in data.items() if v is not None}),
        g.actor,
        setting_values(),
        cell=cell,
        tenant_id=tenant_id(),
        base_url=app_base_url(),
    )
    response = jsonify(extension_json(extension))
    response.status_code = 201
    response.headers["Location"] = url_for(
        "api.extensions_get", number=extension.number, tenant=request.args.get("tenant")
    )
    return response


@bp.get("/extensions/<number>")
def extensions_get(number: str) -> Response:
    return jsonify(extension_json(admin_extensions.get(db(), number, tenant_id=tenant_id())))


@bp.patch("/extensions/<number>")
def extensions_update(number: str) -> Response:
    data = _body(
        (*admin_extensions.EDITABLE, *ACCOUNT_FIELDS, *QR_CHOICES),
        nullable=("voicemail_pin", "email", "auth_name", "template", "cell", *QR_CHOICES),
    )
    account = {name: data.pop(name) for name in ACCOUNT_FIELDS if name in data}
    choices = {name: data.pop(name) for name in QR_CHOICES if name in data}
    extension = admin_extensions.update(db(), number, data, g.actor, setting_values(), tenant_id=tenant_id())
    if account:  # an extension without an account (older than accounts) gets one here
        cell = (account["cell"] or "") if "cell" in account else None  # null or "": no cell
        users.change(db(), extension, g.actor, username=account.get("username"), cell=cell)
    if choices:  # null or "": the tenant's setting; a field left out keeps the user's
        user = users.of_extension(extension)
        apps.set_qr_choices(
            db(),
            user,
            g.actor,
            transport=choices.get("qr_transport", user.qr_transport),
            address=choices.get("qr_address", user.qr_address),
        )
    return jsonify(extension_json(extension))


def _user_of(number: str):
    return users.of_extension(admin_extensions.get(db(), number, tenant_id=tenant_id()))


def _sign_in_url(number: str, refresh: bool) -> Response:
    made = apps.sign_in_url(
        db(),
        hotdesk().settings,
        hotdesk().config.secret_key,
        _user_of(number),
        g.actor,
        refresh=refresh,
        base_url=app_base_url(),
    )
    response = jsonify({"url": made.url, "expires_at": _iso(made.expires_at), "warning": made.warning})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/extensions/<number>/qr")
def extensions_qr(number: str) -> Response:
    """The URL the user's QR code holds (single use, expiring): the current one, made if none is
    usable. It signs an app in as the extension: the secrets scope (openapi.SECRET_OPERATIONS)."""
    return _sign_in_url(number, refresh=False)


@bp.post("/extensions/<number>/qr")
def extensions_qr_refresh(number: str) -> Response:
    """A new QR URL: every earlier one stops working at once."""
    return _sign_in_url(number, refresh=True)


@bp.get("/extensions/<number>/apps")
def extensions_apps(number: str) -> Response:
    return jsonify({"items": [app_json(app) for app in apps.apps(db(), _user_of(number))]})


@bp.post("/extensions/<number>/apps/<app_id>/revoke")
def extensions_app_revoke(number: str, app_id: str) -> Response:
    """At its next start the app is given a configuration without the account, and stops registering."""
    user = _user_of(number)
    if not re.fullmatch(r"[0-9]{1,10}", app_id):
        raise NotFound(f"{user.username} has no app {app_id[:32]!r}")
    return jsonify(app_json(apps.revoke_app(db(), user, int(app_id), g.actor)))


@bp.get("/extensions/<number>/user-password")
def extensions_user_password(number: str) -> Response:
    """The account's pending generated password (null once the person changed it)."""
    return jsonify(user_password_json(users.of_extension(admin_extensions.get(db(), number, tenant_id=tenant_id()))))


@bp.post("/extensions/<number>/user-password")
def extensions_set_user_password(number: str) -> Response:
    """Set the account's password (`password`; `temporary`: to be changed at the next sign-in), or
    without `password` generate one, answered once here and readable until the person changes it."""
    data = (
        _body(("password", "temporary"), nullable=("password",), flags=("temporary",))
        if request.content_length or request.is_json
        else {}
    )
    user = users.of_extension(admin_extensions.get(db(), number, tenant_id=tenant_id()))
    made = users.set_password(db(), user, g.actor, data.get("password"), temporary=bool(data.get("temporary")))
    return jsonify(user_password_json(user, made.password))


@bp.delete("/extensions/<number>")
def extensions_delete(number: str) -> Response:
    session = db()
    for device in admin_extensions.delete(session, number, g.actor, tenant_id=tenant_id()):
        phones.tell_reload(
            session, hotdesk().settings, hotdesk().notifier, device, reason=f"extension deleted by {g.actor}"
        )
    return Response(status=204)


def _csv_import(check: Callable[..., T], run: Callable[..., T]) -> tuple[T, bool]:
    """A CSV body imported all or nothing by `run`, or with ?dry_run=true only checked by `check`:
    the check's (or the import's) answer, and whether it was a dry run."""
    if request.mimetype != "text/csv":
        raise Unsupported("send the CSV with Content-Type: text/csv")
    try:
        text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadRequest(f"the CSV is not UTF-8 text (byte {error.start})") from None
    dry_run = request.args.get("dry_run", "false")
    if dry_run not in ("true", "false"):
        raise BadRequest("dry_run: true or false")
    checked = check(db(), text, "upload", tenant_id=tenant_id())
    if checked.ok and dry_run == "false":
        checked = run(db(), text, "upload", g.actor, tenant_id=tenant_id())
    return checked, dry_run == "true"


def _import_answer(dry_run: bool, rows: list[dict], errors: list[str], **extra: Any) -> Response:
    body = {"dry_run": dry_run, "rows": rows, "errors": errors, **extra}
    if errors:
        return error_response(422, errors[0], **body)
    return jsonify(body)


@bp.post("/extensions/import")
def extensions_import() -> Response:
    """CSV body, all or nothing; ?dry_run=true only reports what would happen."""
    run = partial(admin_extensions.import_csv, base_url=app_base_url())  # the new accounts' mails
    preview, dry_run = _csv_import(admin_extensions.preview_import, run)
    rows = [{"line": row.line, "extension": row.data.number, "action": row.action} for row in preview.rows]
    warnings = admin_extensions.import_warnings(preview.rows, setting_values())
    extra: dict[str, Any] = {"weak_secrets": warnings.weak_secrets, "weak_pins": warnings.weak_pins}
    if not dry_run and "secrets" in g.scopes:  # else each is read with the secrets scope at .../user-password
        extra["user_passwords"] = [
            {"extension": made.extension, "username": made.username, "user_password": made.password}
            for made in preview.passwords
        ]
    return _import_answer(dry_run, rows, preview.errors, **extra)


@bp.get("/extensions/export")
def extensions_export() -> Response:
    return _csv(admin_extensions.export_csv(db(), tenant_id=tenant_id()), "extensions.csv")


@bp.get("/extensions/weak-secrets")
def extensions_weak_secrets() -> Response:
    return jsonify({"items": [weak_json(row) for row in admin_extensions.weak_secrets(db(), tenant_id=tenant_id())]})


@bp.get("/extensions/weak-pins")
def extensions_weak_pins() -> Response:
    """The reason can be the PIN itself ("the extension number"): the secrets scope (openapi.SECRET_OPERATIONS)."""
    weak = admin_extensions.weak_pins(db(), setting_values(), tenant_id=tenant_id())
    return jsonify({"items": [weak_json(row) for row in weak]})


@bp.get("/secrets/generate")
def secrets_generate() -> Response:
    """A new random SIP secret that meets the strong secret policy (nobody's yet: not stored)."""
    response = jsonify({"secret": policy.generate_secret()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/templates")
def templates_list() -> Response:
    listing = admin_templates.listing(db(), request.args.get("brand"), tenant_id=_templates_tenant())
    return jsonify({"items": [template_json(t) for t in listing]})


@bp.get("/templates/<brand>/<name>")
def templates_get(brand: str, name: str) -> Response:
    return jsonify(template_json(admin_templates.get(db(), brand, name, tenant_id=_templates_tenant()), body=True))


@bp.put("/templates/<brand>/<name>")
def templates_put(brand: str, name: str) -> Response:
    """Create or replace, after checking the template renders for a guest and a user phone."""
    body = _one_field("body")
    session = db()
    existed = admin_templates.find(session, brand, name, tenant_id=_templates_tenant()) is not None
    template = admin_templates.save(session, brand, name, body, g.actor, tenant_id=_templates_tenant())
    response = jsonify(template_json(template, body=True))
    response.status_code = 200 if existed else 201
    return response


@bp.delete("/templates/<brand>/<name>")
def templates_delete(brand: str, name: str) -> Response:
    admin_templates.delete(db(), brand, name, g.actor, tenant_id=_templates_tenant())
    return Response(status=204)


@bp.post("/templates/<brand>/<name>/default")
def templates_set_default(brand: str, name: str) -> Response:
    return jsonify(
        template_json(admin_templates.set_default(db(), brand, name, g.actor, tenant_id=_templates_tenant()))
    )


@bp.get("/pins")
def pins_list() -> Response:
    listing = pins.listing(db(), request.args.get("extension"), tenant_id=tenant_id())
    return jsonify({"items": [pin_json(pin) for pin in listing]})


@bp.put("/pins/<number>/<brand>")
def pins_put(number: str, brand: str) -> Response:
    name = _one_field("template")
    return jsonify(pin_json(pins.pin(db(), number, f"{brand}/{name}", g.actor, tenant_id=tenant_id())))


@bp.delete("/pins/<number>/<brand>")
def pins_delete(number: str, brand: str) -> Response:
    pins.unpin(db(), number, brand, g.actor, tenant_id=tenant_id())
    return Response(status=204)


@bp.get("/mappings")
def mappings_list() -> Response:
    limit = _limit()
    limit = phones.LIVE_LIMIT if limit is None else limit
    if not 1 <= limit <= phones.LIVE_LIMIT:
        raise AdminError(f"limit: must be from 1 to {phones.LIVE_LIMIT}")
    seats = phones.who_is_where(db(), request.args.get("search", ""), limit, tenant_id=tenant_id())
    return jsonify({"items": [seat_json(seat) for seat in seats]})


@bp.get("/devices")
def devices_list() -> Response:
    waiting = request.args.get("waiting", "false")
    if waiting not in ("true", "false"):
        raise BadRequest("waiting: true or false")
    return _page(
        phones.devices_page(
            db(),
            search=request.args.get("search", ""),
            after=request.args.get("after"),
            limit=_limit(),
            waiting=waiting == "true",
            tenant_id=tenant_id(),
        ),
        device_json,
    )


@bp.post("/devices")
def devices_add() -> Response:
    """Make a MAC known (admitted) before its phone fetches; `address`: the only address its
    credentials go to."""
    data = _body(("mac", "address"), required=("mac",), nullable=("address",))
    device = phones.add_known(db(), _text(data, "mac"), g.actor, data.get("address"), tenant_id=tenant_id())
    response = jsonify(device_json(device))
    response.status_code = 201
    response.headers["Location"] = url_for("api.devices_get", mac=device.mac, tenant=request.args.get("tenant"))
    return response


@bp.post("/sync/asterisk")
def sync_asterisk() -> Response:
    """The tenant's extensions made what Asterisk's pjsip files define; ?dry_run=true only reports.
    A line Asterisk would refuse: 422 naming file and line, nothing changed."""
    dry_run = request.args.get("dry_run", "false")
    if dry_run not in ("true", "false"):
        raise BadRequest("dry_run: true or false")
    session = db()
    report = pbx.sync_asterisk(session, setting_values(), g.actor, tenant_id=tenant_id(), dry_run=dry_run == "true")
    for device in report.logged_out:
        phones.tell_reload(session, hotdesk().settings, hotdesk().notifier, device, reason="extension removed by sync")
    return jsonify(
        {
            "dry_run": report.dry_run,
            "changes": [{"extension": c.number, "action": c.action, "detail": c.detail} for c in report.changes],
            "summary": report.summary(),
            "unchanged": report.unchanged,
            "weak_secrets": report.weak_secrets,
            "accounts_opened": report.accounts_opened,
        }
    )


@bp.post("/devices/import")
def devices_import() -> Response:
    """CSV body (mac[,address]), all or nothing; ?dry_run=true only reports what would happen."""
    preview, dry_run = _csv_import(phones.preview_known, phones.import_known)
    rows = [{"line": row.line, "mac": row.mac, "address": row.address, "action": row.action} for row in preview.rows]
    return _import_answer(dry_run, rows, preview.errors)


@bp.post("/devices/admit-waiting")
def devices_admit_waiting() -> Response:
    """Admit every waiting phone, each at the address it was seen at."""
    admitted = phones.admit_all_waiting(db(), g.actor, tenant_id=tenant_id())
    return jsonify({"items": [device_json(device) for device in admitted]})


@bp.post("/devices/<mac>/admit")
def devices_admit(mac: str) -> Response:
    """Admit a waiting phone; its credentials go to its next fetch from `address` (default: where it was seen)."""
    data = _body(("address",), nullable=("address",)) if request.content_length or request.is_json else {}
    return jsonify(device_json(phones.admit(db(), mac, g.actor, data.get("address"), tenant_id=tenant_id())))


@bp.get("/devices/<mac>")
def devices_get(mac: str) -> Response:
    return jsonify(device_json(phones.device(db(), mac, tenant_id())))


@bp.post("/devices/<mac>/logout")
def devices_logout(mac: str) -> Response:
    """Log the phone out and tell it by SIP NOTIFY; `logged_out` is null if nobody was logged in."""
    session = db()
    done = phones.force_logout(session, hotdesk().settings, hotdesk().notifier, mac, g.actor, tenant_id=tenant_id())
    return jsonify({"mac": done.device.mac, "logged_out": done.extension.number if done.extension else None})


@bp.post("/devices/<mac>/reset-credentials")
def devices_reset_credentials(mac: str) -> Response:
    """Withdraw the phone's own provisioning credentials: new ones at its next fetch."""
    return jsonify(device_json(phones.reset_credentials(db(), mac, g.actor, tenant_id=tenant_id())))


@bp.post("/devices/<mac>/login")
def devices_login(mac: str) -> Response:
    """Log an extension in on the phone without its PIN (multiple_login applies); the phone, and any
    phone the login displaced, are told by SIP NOTIFY."""
    data = _body(("extension", "address"), required=("extension",))
    made = phones.login(
        db(),
        hotdesk().settings,
        hotdesk().notifier,
        mac,
        _text(data, "extension"),
        data.get("address") or "external",
        g.actor,
        tenant_id=tenant_id(),
    )
    return jsonify(
        {
            "mac": made.device.mac,
            "extension": made.extension.number,
            "address": made.address,
            "ip": made.device.last_ip,
            "logged_out": [other.mac for other in made.logged_out],
        }
    )


@bp.post("/devices/<mac>/unlock")
def devices_unlock(mac: str) -> Response:
    """Lift the phone's failed-login lockout."""
    return jsonify({"unlocked": lockouts.unlock(db(), g.actor, mac=mac, tenant_id=tenant_id())})


@bp.post("/extensions/<number>/unlock")
def extensions_unlock(number: str) -> Response:
    """Lift the extension's failed-login lockout, on every phone."""
    return jsonify({"unlocked": lockouts.unlock(db(), g.actor, extension=number, tenant_id=tenant_id())})


@bp.get("/lockouts")
def lockouts_list() -> Response:
    listing = lockouts.listing(db(), hotdesk().settings, tenant_id=tenant_id())
    return jsonify({"items": [lockout_json(lock) for lock in listing]})


def mail_json(view: mail.MailView) -> dict:
    return {
        "id": view.id,
        "kind": view.kind,
        "recipient": view.recipient,
        "extension": view.extension,
        "state": view.state.value,
        "attempts": view.attempts,
        "created_at": _iso(view.created_at),
        "next_attempt_at": _iso(view.next_attempt_at),
        "sent_at": _iso(view.sent_at),
        "failed_at": _iso(view.failed_at),
        "last_error": view.last_error,
    }


@bp.get("/mail")
def mail_list() -> Response:
    limit = _limit()
    if limit is not None and not 1 <= limit <= 1000:
        raise BadRequest("limit: must be from 1 to 1000")
    views = mail.mails(db(), tenant_id=tenant_id(), limit=limit or 100)
    return jsonify({"items": [mail_json(view) for view in views]})


@bp.post("/mail/<mail_id>/retry")
def mail_retry(mail_id: str) -> Response:
    if not re.fullmatch(r"[0-9]{1,9}", mail_id):
        raise NotFound(f"no mail {mail_id[:40]!r}")
    return jsonify(mail_json(mail.retry(db(), int(mail_id), g.actor, tenant_id=tenant_id())))


@bp.post("/mail/test")
def mail_test() -> Response:
    view = mail.send_test(db(), _one_field("recipient"), g.actor, tenant_id=tenant_id())
    response = jsonify(mail_json(view))
    response.status_code = 202
    return response


@bp.get("/settings")
def settings_list() -> Response:
    listing = admin_settings.listing(db(), hotdesk().settings, tenant_id())
    return jsonify({"items": [setting_json(view) for view in listing]})


@bp.get("/settings/<name>")
def settings_get(name: str) -> Response:
    """One setting, its value included even when it is a secret (as `hotdesk settings get`)."""
    spec = _setting(name)
    if spec.secret:
        require_scope("secrets", f"{name} is a secret")
    view = admin_settings.get(db(), hotdesk().settings, name, tenant_id(), manager=_manager())
    return jsonify(setting_json(view))


@bp.put("/settings/<name>")
def settings_put(name: str) -> Response:
    registry = hotdesk().settings
    spec = _setting(name)  # an unknown name is a 404, whatever the body
    value = _one_field("value")
    stored = admin_settings.change(db(), registry, name, value, g.actor, tenant_id=tenant_id(), manager=_manager())
    return jsonify({"name": name, "value": None if spec.secret else stored, "help": spec.help, "secret": spec.secret})


@bp.delete("/settings/<name>")
def settings_delete(name: str) -> Response:
    """The tenant's own value goes: it takes the installation's again."""
    _setting(name)
    admin_settings.unset(db(), hotdesk().settings, name, g.actor, tenant_id=tenant_id(), manager=_manager())
    return Response(status=204)


def _setting(name: str) -> SettingSpec:
    if name not in hotdesk().settings.specs:
        raise NotFound(f"no setting {name!r}")
    return hotdesk().settings.spec(name)


def _history_filters() -> history.Filters:
    args = request.args
    try:
        return history.Filters.parse(
            extension=args.get("extension"),
            mac=args.get("mac"),
            kind=args.get("kind"),
            since=args.get("since"),
            until=args.get("until"),
        )
    except AdminError as error:  # a malformed query parameter
        raise BadRequest(str(error)) from None


@bp.get("/history")
def history_list() -> Response:
    page = history.page(
        db(), _history_filters(), before=request.args.get("before"), limit=_limit(), tenant_id=tenant_id()
    )
    return _page(page, event_json)


@bp.get("/history/export")
def history_export() -> Response:
    return _csv(history.export_csv(db(), _history_filters(), tenant_id=tenant_id()), "history.csv")


@bp.get("/occupancy")
def occupancy_report() -> Response:
    found = occupancy.report(
        db(), hotdesk().settings, since=_date_arg("since"), until=_date_arg("until"), tenant_id=tenant_id()
    )
    return jsonify(
        {
            "since": found.range.since.isoformat(),
            "until": found.range.until.isoformat(),
            "timezone": found.timezone,
            "sessions": found.sessions,
            "average_session_seconds": found.average_seconds,
            "peak": found.peak,
            "ongoing": found.ongoing,
            "days": [
                {
                    "day": d.day.isoformat(),
                    "phones": d.phones,
                    "peak": d.peak,
                    "sessions": d.sessions,
                    "seconds": d.seconds,
                }
                for d in found.days
            ],
            "hours": [{"hour": h.hour, "average": h.average, "peak": h.peak} for h in found.hours],
            "phones": [_use_json(use) for use in found.phones],
            "extensions": [_use_json(use) for use in found.extensions],
        }
    )


def _date_arg(name: str) -> str | None:
    """A YYYY-MM-DD query parameter as given: left out, the default; given empty, not a date (the
    console's form sends its empty fields, which mean the default there)."""
    value = request.args.get(name)
    if value is not None and not value.strip():
        raise AdminError(f"{name}: '' is not a date (YYYY-MM-DD); leave {name} out for the default")
    return value


def _use_json(use: occupancy.Use) -> dict:
    return {"key": use.key, "sessions": use.sessions, "seconds": use.seconds}


# tenants: system tokens only


def tenant_json(tenant: Tenant, extensions: int) -> dict:
    return {"name": tenant.name, "sip_domain": tenant.sip_domain, "extensions": extensions}


@bp.get("/tenants")
def tenants_list() -> Response:
    _system_only()
    return jsonify({"items": [tenant_json(tenant, count) for tenant, count in tenancy.listing_with_counts(db())]})


@bp.post("/tenants")
def tenants_create() -> Response:
    """A new tenant; the answer carries its provisioning credentials, once (the secrets scope)."""
    _system_only()
    data = _body(("name", "sip_domain"), required=("name", "sip_domain"))
    made = tenancy.add(db(), hotdesk().settings, _text(data, "name"), _text(data, "sip_domain"), g.actor)
    response = jsonify(
        tenant_json(made.tenant, 0)
        | {"provisioning_username": made.provisioning_username, "provisioning_password": made.provisioning_password}
    )
    response.status_code = 201
    return response


@bp.delete("/tenants/<name>")
def tenants_delete(name: str) -> Response:
    """Refused (409) while the tenant has extensions; its phones, templates and settings go with it."""
    _system_only()
    try:
        tenancy.by_name(db(), name)
    except TenantError as error:
        raise NotFound(str(error)) from None
    try:
        tenancy.remove(db(), name, g.actor)
    except TenantError as error:
        raise Conflict(str(error)) from None
    return Response(status=204)

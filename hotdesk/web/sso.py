"""Single sign-on at a tenant's OpenID provider (interfaces.md section 7); the rules are hotdesk.sso.

- `GET /sso/start?tenant=T&redirect_uri=URI`: an app's sign-in (the `start_url` the app discovery
  gives, `discover_method`); URI must be one of the tenant's app_redirect_uris, exactly, or nothing
  goes to the provider. `&face=portal` or `&face=console`: the portal's or the console's button.
  The browser is sent to the provider with a state it also keeps in a cookie (`hotdesk_sso`).
- `GET /sso/callback`: where the provider returns (`<base URL>/sso/callback`, for every tenant).
  Only the browser that began (its cookie) and only once (the state is used up); then the code
  exchange and the ID token's checks, the person found in the tenant, and a single-use hotdesk
  code: to `URI?code=CODE` for an app, to the portal's or the console's own landing page else.
- `POST /app/v1/sign-in/sso {"code"}`: the app exchanges the hotdesk code for its account and its
  own configuration URL, as a QR sign-in gives it. An app that began with its own PKCE challenge
  (`&code_challenge=…&code_challenge_method=S256`, RFC 8252) must send `"code_verifier"` too: a
  code another app on the phone caught at the redirect URI is worth nothing to it.

Refusals are a page (an app's browser shows it) or, for the app API, a 4xx JSON error; each is in
the tenant's history.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from hotdesk import events, sso
from hotdesk.models import DEFAULT_TENANT_ID, EventKind, SsoSignIn, Tenant, User
from hotdesk.settings import PHONE_BASE_URL
from hotdesk.softphone import links
from hotdesk.softphone.account import NoServer, account_of
from hotdesk.web import act_for_tenant, client_ip, db, phone_base_url, settings, snapshot
from hotdesk.web.softphone import app_label, config_url

bp = Blueprint("sso", __name__)
log = logging.getLogger("hotdesk.sso")

COOKIE = "hotdesk_sso"  # the state, kept by the browser that began: the callback must come from it
# Where the portal and the console take a signed-in person over (their blueprints' sso_landing):
# on the address the browser began at, which, with HOTDESK_ADMIN_BIND, is not the callback's listener.
LANDING = {sso.Face.PORTAL: "/portal/sign-in/sso", sso.Face.CONSOLE: "/admin/sign-in/sso"}
FACE_BLUEPRINTS = {sso.Face.PORTAL: "portal", sso.Face.CONSOLE: "admin"}


def start_url(tenant: Tenant, face: sso.Face = sso.Face.APP) -> str:
    """Where a sign-in with the tenant's provider begins: for an app, absolute at the tenant's
    base URL (the app adds `&redirect_uri=URI`); for the portal and the console, on their own host."""
    if face is not sso.Face.APP:
        return f"{url_for('sso.start')}?{urlencode({'tenant': tenant.name, 'face': face.value})}"
    base = snapshot().settings_for(tenant.id)[PHONE_BASE_URL] or request.host_url.rstrip("/")
    return f"{base}{url_for('sso.start')}?{urlencode({'tenant': tenant.name})}"


def discover_method(tenant: Tenant) -> dict[str, str] | None:
    """The app discovery's `{"type": "oidc", "start_url": URL}` for the tenant, or None when it has
    no single sign-on (POST /app/v1/discover lists it after the password method)."""
    if sso.provider_of(snapshot().settings_for(tenant.id)) is None:
        return None
    return {"type": "oidc", "start_url": start_url(tenant)}


def offered() -> bool:
    """Has any tenant single sign-on? (The console's and the portal's sign-in pages offer it then.)
    Only the tenants with a provider setting of their own are looked at: the rest have the installation's."""
    current, own_names = snapshot(), {sso.OIDC_ISSUER.name, sso.OIDC_CLIENT_ID.name}
    return sso.provider_of(current.settings) is not None or any(
        own_names & own.keys() and sso.provider_of(current.settings_for(tenant_id)) is not None
        for tenant_id, own in current.overrides.items()
    )


def _callback_url() -> str:
    return phone_base_url() + sso.CALLBACK_PATH


def _page(message: str, status: int) -> Response:
    page = render_template("sso/error.html", message=message)
    return Response(page, status, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _failed(tenant_id: int, face: sso.Face | str, reason: str) -> None:
    """The refusal in the tenant's history, committed: the refusing answer rolls back the rest."""
    session = db()
    session.rollback()
    sso.record(session, EventKind.SSO_FAILED, tenant_id, face, reason, ip=client_ip())
    session.commit()


def _refused(tenant_id: int, face: sso.Face | str, reason: str, message: str, status: int = 403) -> Response:
    _failed(tenant_id, face, reason)
    return _page(message, status)


NOT_SET_UP = "Single sign-on is not set up for this organisation."


@bp.get("/sso/start")
def start() -> Response:
    session = db()
    tenant = sso.tenant_named(session, request.args.get("tenant", ""))
    if tenant is None:
        return _page(NOT_SET_UP, 404)  # as for a tenant without it: which tenants exist is nobody's business here
    act_for_tenant(tenant.id)
    try:
        face = sso.Face(request.args.get("face", sso.Face.APP.value))
    except ValueError:
        return _page("Unknown sign-in page.", 404)
    provider = sso.provider_of(settings())
    if provider is None or (face in FACE_BLUEPRINTS and FACE_BLUEPRINTS[face] not in current_app.blueprints):
        return _page(NOT_SET_UP, 404)
    redirect_uri = request.host_url.rstrip("/")  # the portal's or the console's own address
    app_challenge = None
    if face is sso.Face.APP:
        redirect_uri = request.args.get("redirect_uri", "")
        if not sso.redirect_allowed(settings(), redirect_uri):
            shown = "".join(ch for ch in redirect_uri[:200] if ch.isprintable())
            return _refused(
                tenant.id,
                face,
                f"redirect URI {shown!r} is not in app_redirect_uris",
                "This app may not sign in here: its return address is not on the organisation's list.",
                400,
            )
        try:
            app_challenge = sso.check_app_challenge(
                request.args.get("code_challenge"), request.args.get("code_challenge_method")
            )
        except sso.SsoRefused as refused:
            return _refused(tenant.id, face, str(refused), "This app's sign-in request is malformed.", 400)
    try:
        begun = sso.begin(session, tenant.id, provider, face, _callback_url(), redirect_uri, app_challenge)
    except sso.ProviderUnavailable as error:
        log.warning("single sign-on of tenant %s: %s", tenant.name, error)
        return _refused(tenant.id, face, str(error), "The sign-in service cannot be reached. Try again later.", 502)
    response = Response(status=302, headers={"Location": begun.authorization_url, "Cache-Control": "no-store"})
    response.set_cookie(
        COOKIE,
        begun.state,
        max_age=int(sso.STATE_LIFETIME.total_seconds()),
        path="/",
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",  # the provider's redirect back is a top-level GET: the cookie comes along
    )
    return response


@bp.get(sso.CALLBACK_PATH)
def callback() -> Response:
    session = db()
    sign_in = sso.sign_in_of_state(session, request.args.get("state", ""))
    if sign_in is None:
        return _refused(DEFAULT_TENANT_ID, "callback", "unknown state", "This sign-in was not begun here.", 400)
    act_for_tenant(sign_in.tenant_id)
    face = sso.Face(sign_in.face)
    if not sso.state_matches(sign_in, request.cookies.get(COOKIE)):
        return _refused(
            sign_in.tenant_id,
            face,
            "the callback came to another browser than the one that began",
            "This sign-in was begun in another browser.",
            400,
        )
    if not sso.use_state(session, sign_in):
        return _refused(
            sign_in.tenant_id, face, "state used already or expired", "This sign-in is over: begin again.", 400
        )
    session.commit()  # used up, whatever follows
    provider = sso.provider_of(settings())
    if provider is None:
        return _refused(sign_in.tenant_id, face, "single sign-on is not set up any more", NOT_SET_UP, 404)
    if "error" in request.args:
        error = re.sub(r"[^A-Za-z0-9_.-]", "", request.args.get("error", ""))[:64]
        return _refused(sign_in.tenant_id, face, f"the provider answered {error}", "The sign-in service refused.")
    try:
        value = sso.identify(provider, sign_in, request.args.get("code", ""), _callback_url())
    except sso.SsoRefused as refused:
        return _refused(sign_in.tenant_id, face, str(refused), "The sign-in service's answer was refused.")
    shown = "".join(ch for ch in value if ch.isprintable())[:254]
    if face is sso.Face.CONSOLE:
        admin = sso.find_manager(session, sign_in.tenant_id, value)
        if admin is None:
            reason = f"no manager of the tenant named {shown!r} ({provider.claim})"
            return _refused(sign_in.tenant_id, face, reason, "You have no account here.")
        sign_in.admin_id, actor, extension = admin.id, admin.name, None
    else:
        user = sso.find_user(session, sign_in.tenant_id, value)
        if user is None:
            reason = f"no person in the tenant with {provider.claim} {shown!r}"
            return _refused(sign_in.tenant_id, face, reason, "You have no account here.")
        sign_in.user_id, actor, extension = user.id, user.username, user.extension.number
    code = sso.issue_code(sign_in)
    sso.record(
        session,
        EventKind.SSO_SIGNIN,
        sign_in.tenant_id,
        face,
        f"{provider.claim} {shown}",
        ip=client_ip(),
        actor=actor,
        extension=extension,
    )
    if face is sso.Face.APP:
        target = f"{sign_in.redirect_uri}?{urlencode({'code': code})}"
    else:
        target = f"{sign_in.redirect_uri}{LANDING[face]}?{urlencode({'code': code})}"
    return Response(status=302, headers={"Location": target, "Cache-Control": "no-store"})


def landing(face: sso.Face) -> SsoSignIn | None:
    """The portal's or the console's landing: the sign-in its `code` hands over, used up, if this
    browser began it (its cookie); None after the refusal is in the history."""
    session = db()
    sign_in = sso.sign_in_of_code(session, request.args.get("code", ""))
    if sign_in is None or sign_in.face != face.value:
        _failed(sign_in.tenant_id if sign_in else DEFAULT_TENANT_ID, face, "unknown sign-in code")
        return None
    if not sso.state_matches(sign_in, request.cookies.get(COOKIE)) or not sso.use_code(session, sign_in, face):
        _failed(sign_in.tenant_id, face, "sign-in code used already, expired or from another browser")
        return None
    return sign_in


def forget_state(response: BaseResponse) -> BaseResponse:
    response.delete_cookie(COOKIE, path="/", secure=request.is_secure, httponly=True, samesite="Lax")
    return response


def _json_error(error: str, status: int) -> Response:
    response = jsonify({"error": error})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


APP_SIGN_IN = "/app/v1/sign-in/sso"  # beside hotdesk.web.app_api's routes, in its OpenAPI document
MAX_BODY = 4096


@bp.errorhandler(429)
def _too_many(error: HTTPException) -> Response:
    """The rate limit (per address, as the app API's): JSON for an app, the page for a browser."""
    if request.path == APP_SIGN_IN:
        answer = _json_error("too many requests from this address", 429)
    else:
        answer = _page("Too many sign-ins from this address: wait a minute.", 429)
    for name, value in error.get_response().headers.items():
        if name.lower() == "retry-after" or name.lower().startswith("x-ratelimit-"):
            answer.headers[name] = value
    return answer


def _app_body() -> dict[str, str] | str:
    """The app's {"code", "code_verifier" (optional)}, or what is wrong with the body."""
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return f"the body is larger than {MAX_BODY} bytes"
    try:
        body = current_app.json.loads(raw)
    except (ValueError, RecursionError):
        return "the body is not JSON (send a JSON object)"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    fields = {}
    for name in ("code", "code_verifier"):
        value = body.get(name)
        if value is None and name == "code_verifier":
            continue
        if not isinstance(value, str) or not value or len(value) > 256 or not _printable_ascii(value):
            return f"{name}: a string of 1 to 256 printable ASCII characters is required"
        fields[name] = value
    return fields


def _printable_ascii(value: str) -> bool:
    """What a code and a PKCE verifier are made of (and no NUL or lone surrogate to trip a hash or the database)."""
    return value.isascii() and value.isprintable()


@bp.post(APP_SIGN_IN)
def app_sign_in() -> Response:
    body = _app_body()
    if isinstance(body, str):
        return _json_error(body, 400)
    code = body["code"]
    session = db()
    sign_in = sso.sign_in_of_code(session, code)
    if sign_in is None or sign_in.face != sso.Face.APP.value or sign_in.user_id is None:
        _failed(sign_in.tenant_id if sign_in else DEFAULT_TENANT_ID, sso.Face.APP, "unknown sign-in code")
        return _json_error("invalid_code", 401)
    act_for_tenant(sign_in.tenant_id)
    user = session.get_one(User, sign_in.user_id)
    tenant = session.get_one(Tenant, sign_in.tenant_id)
    try:
        account_of(user, tenant, settings())  # an app given nothing usable must not use the code up
    except NoServer as error:
        log.warning("softphone account not served: %s", error)
        return _json_error("the server address for apps is not set up yet", 503)
    if not sso.app_verifier_matches(sign_in, body.get("code_verifier")):
        _failed(sign_in.tenant_id, sso.Face.APP, "the code_verifier does not answer the app's code_challenge")
        return _json_error("invalid_code", 401)
    if not sso.use_code(session, sign_in, sso.Face.APP):
        _failed(sign_in.tenant_id, sso.Face.APP, "sign-in code used already or expired")
        return _json_error("invalid_code", 401)
    app = links.add_device(session, user, app_label(), client_ip())
    events.record(
        session,
        EventKind.APP_SIGNIN,
        extension=user.extension.number,
        ip=client_ip(),
        actor=user.username,
        detail=f"single sign-on; {app.device.label}",
        tenant_id=user.tenant_id,
    )
    response = jsonify({"account": account_of(user, tenant, settings(), config_url(app.token)).as_json()})
    response.headers["Cache-Control"] = "no-store"
    return response

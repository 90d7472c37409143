"""/app/v1/: a softphone app's manual sign-in (interfaces.md section 6; hotdesk.softphone.sign_in).

JSON in and out, on the phone faces (apps come from where phones do), limited per address like
every anonymous request. No cookie is read or set, so there is no CSRF to guard against; no CORS
header is sent, so no web page elsewhere can read an answer. Every refusal is a JSON object
{"error": ...}: a body that is not the expected JSON object, a missing field, a wrong type or a
body over MAX_BODY is 400, never a 500. An account is answered only to the person's own password.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from hotdesk import access_codes
from hotdesk.models import User
from hotdesk.softphone import links
from hotdesk.softphone import sign_in as core
from hotdesk.softphone.account import NoServer
from hotdesk.web import act_for_tenant, app_openapi, carries_nul, client_ip, db, snapshot, sso
from hotdesk.web.softphone import config_url

PREFIX = "/app/v1"
bp = Blueprint("app_api", __name__, url_prefix=PREFIX)
MAX_BODY = 4096  # a sign-in is a few short strings


class BadRequest(Exception):
    pass


def error_response(status: int, message: str, **headers: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    response.headers.update(headers)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(BadRequest)
def _bad_request(error: BadRequest) -> Response:
    return error_response(400, str(error))


@bp.errorhandler(HTTPException)
@bp.errorhandler(429)  # by its code too: else the phones' own 429 handler, registered by code, comes first
def _http_error(error: HTTPException) -> Response:
    """Raised in a view, or by the rate limiter (429, with its Retry-After)."""
    response = error_response(error.code or 500, error.description or error.name)
    if error.code == 429 and hasattr(error, "get_response"):
        for name, value in error.get_response().headers.items():
            if name.lower() == "retry-after" or name.lower().startswith("x-ratelimit-"):
                response.headers[name] = value
    return response


def http_error(error: HTTPException) -> Response | None:
    """App-wide, for errors no view saw (an unknown path under /app/v1/, a wrong method): JSON too."""
    if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
        return None
    response = error_response(error.code or 500, error.description or error.name)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _fields(*names: str) -> dict[str, str]:
    """The JSON object sent, with these string fields (others are ignored: an app may send more)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest(f"the body is larger than {MAX_BODY} bytes")
    raw = request.stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BadRequest(f"the body is larger than {MAX_BODY} bytes")
    try:
        data: Any = current_app.json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not JSON (send a JSON object)") from None
    if not isinstance(data, dict):
        raise BadRequest("the body is not a JSON object")
    values = {}
    for name in names:
        value = data.get(name)
        if value is None:
            raise BadRequest(f"{name}: required")
        if not isinstance(value, str):
            raise BadRequest(f"{name}: must be a string")
        if "\x00" in value or not _encodes(value):
            raise BadRequest(f"{name}: NUL characters and unpaired surrogates are not allowed")
        limit = core.LONGEST_PASSWORD if "password" in name else core.LONGEST_FIELD
        if len(value) > limit:
            raise BadRequest(f"{name}: longer than {limit} characters")
        values[name] = value
    return values


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@bp.before_request
def _no_nul() -> Response | None:
    return error_response(400, "NUL characters are not allowed") if carries_nul() else None


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _label() -> str:
    agent = "".join(ch for ch in request.user_agent.string if ch.isprintable())
    return agent[: links.LABEL_LENGTH] or "app"


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(app_openapi.document())


@bp.post("/discover")
def discover() -> Response:
    fields = _fields("sip_domain", "server")
    tenant = core.tenant_of_domain(db(), snapshot().settings_for, fields["sip_domain"])
    if tenant is None:
        return error_response(404, "no tenant has this SIP domain here")
    methods = core.methods(tenant, snapshot().settings_for(tenant.id))
    single_sign_on = sso.discover_method(tenant)  # its start_url is this server's: the web face builds it
    if single_sign_on is not None:
        methods.append(single_sign_on)
    return _answer({"tenant": tenant.name, "methods": methods})


def _begin(fields: dict[str, str]) -> core.Attempt | Response:
    session = db()
    key = current_app.config["SECRET_KEY"].encode()
    try:
        attempt = core.begin(
            session, snapshot().settings_for, key, fields["sip_domain"], fields["username"], client_ip()
        )
    except core.LockedOut as locked:
        return _locked(locked)
    session.commit()  # written down as a failure, and the sign-in lock released, before the slow check
    return attempt


def _locked(locked: core.LockedOut) -> Response:
    db().commit()  # the refusal is kept
    return error_response(429, str(locked), **{"Retry-After": str(int(locked.retry_after.total_seconds()) + 1)})


def _refused(status: int, error: str) -> Response:
    db().commit()  # the attempt's row, as the refusal left it
    return error_response(status, error)


def _account(attempt: core.Attempt, user: User, label: str | None = None) -> Response:
    session = db()
    act_for_tenant(user.tenant_id)  # its phone_base_url is in the configuration URL
    try:
        account = core.account(
            session, attempt, user, snapshot().settings_for(user.tenant_id), label or _label(), client_ip(), config_url
        )
    except NoServer:
        return _refused(503, "the server address for apps is not set up yet: ask your administrator")
    return _answer({"account": account.as_json()})  # committed as the request ends


@bp.post("/sign-in")
def sign_in() -> Response:
    fields = _fields("sip_domain", "username", "password")
    attempt = _begin(fields)
    if isinstance(attempt, Response):
        return attempt
    try:
        user = core.finish(db(), attempt, fields["password"])
    except core.WrongCredentials as wrong:
        return _refused(401, str(wrong))
    except core.PasswordChangeRequired:
        return _refused(403, "password_change_required")
    return _account_or_code(attempt, user)


def _account_or_code(attempt: core.Attempt, user: User) -> Response:
    """The account; with two_factor = email, 202 and the challenge whose code was mailed instead."""
    try:
        challenge = core.second_factor(db(), attempt, snapshot().settings_for(user.tenant_id), _label(), client_ip())
    except access_codes.NoAddress as nowhere:
        return _refused(403, str(nowhere))
    if challenge is None:
        return _account(attempt, user)
    return _challenge(challenge)


def _challenge(challenge: access_codes.Challenge) -> Response:
    body = {
        "second_factor": "email",
        "challenge": challenge.token,
        "sent_to": challenge.sent_to,
        "expires_at": challenge.expires_at.isoformat(timespec="seconds"),
    }
    return _answer(body, 202)


@bp.post("/sign-in/code")
def sign_in_code() -> Response:
    """The second step with two_factor = email: the challenge and the code from the mail, for the account."""
    fields = _fields("challenge", "code")
    session = db()
    key = current_app.config["SECRET_KEY"].encode()
    try:
        attempt, user, label = core.with_code(
            session, snapshot().settings_for, key, fields["challenge"], fields["code"], client_ip()
        )
    except core.LockedOut as locked:
        return _locked(locked)
    except access_codes.WrongCode as wrong:  # a counted failure: kept
        session.commit()
        return _answer({"error": str(wrong), "attempts_left": wrong.remaining}, 401)
    except access_codes.Refused as refused:
        return _refused(401, str(refused))
    return _account(attempt, user, label)


@bp.post("/sign-in/resend")
def sign_in_resend() -> Response:
    """A new code for the challenge: the one before stops working."""
    fields = _fields("challenge")
    try:
        challenge = core.resend(db(), snapshot().settings_for, fields["challenge"], client_ip())
    except access_codes.ResendRefused as refused:
        if refused.retry_after is None:
            return error_response(403, str(refused))
        return error_response(429, str(refused), **{"Retry-After": str(int(refused.retry_after.total_seconds()) + 1)})
    except access_codes.NoChallenge as over:
        return error_response(401, str(over))
    return _challenge(challenge)


@bp.post("/change-password")
def change_password() -> Response:
    fields = _fields("sip_domain", "username", "password", "new_password")
    attempt = _begin(fields)
    if isinstance(attempt, Response):
        return attempt
    try:
        user = core.change_password(db(), attempt, fields["password"], fields["new_password"], client_ip())
    except core.WrongCredentials as wrong:
        return _refused(401, str(wrong))
    except core.WeakPassword as weak:
        return _refused(422, str(weak))
    return _account_or_code(attempt, user)

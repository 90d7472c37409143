"""The HTTP faces: provisioning files and the phones' XML apps; the admin console and REST API."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from hotdesk.brands.budget import RenderBudgetExceeded
from hotdesk.db import commit_if_written
from hotdesk.models import DEFAULT_TENANT_ID
from hotdesk.settings import PHONE_BASE_URL, SettingValues
from hotdesk.snapshot import Snapshot

log = logging.getLogger("hotdesk.web")


def init_app(app: Flask, faces: tuple[str, ...] = ("phones", "admin")) -> None:
    from hotdesk.web import sso  # the apps' single sign-on and the portal's and console's alike

    json_errors = []  # the faces that answer every HTTP error of theirs in JSON
    if "phones" in faces:
        from hotdesk.web import app_api, phoneapp, provision, ratelimit, softphone

        ratelimit.init_app(
            app, per_device=[phoneapp.bp], per_address=[provision.bp, softphone.bp], apps=[app_api.bp, sso.bp]
        )
        app.register_blueprint(provision.bp)
        app.register_blueprint(phoneapp.bp)
        app.register_blueprint(softphone.bp)
        app.register_blueprint(app_api.bp)
        json_errors.append(app_api.http_error)
        app.register_error_handler(429, phoneapp.too_many_requests)
        app.register_error_handler(RenderBudgetExceeded, _over_budget)
    if "admin" in faces:
        from hotdesk.web import admin, api, portal

        admin.init_app(app)
        portal.init_app(app)  # a person's page: it rides the console's listener (README, "The user portal")
        app.register_blueprint(api.bp)
        json_errors.append(api.http_error)
    app.register_blueprint(sso.bp)
    if json_errors:

        def http_error(error: HTTPException) -> Response | HTTPException:
            """Errors no view saw (an unknown path, a wrong method): in JSON under a JSON face's prefix."""
            return next((answer for face in json_errors if (answer := face(error)) is not None), error)

        app.register_error_handler(HTTPException, http_error)
    app.after_request(_end_transaction)
    app.teardown_request(_close_session)


def hotdesk():
    return current_app.extensions["hotdesk"]


def db() -> Session:
    """This request's database session, closed when the request ends."""
    if "db" not in g:
        files = hotdesk().published
        if files is not None:
            g.published_generation = files.generation()  # before any read (hotdesk.published: "Reading once")
        g.db = hotdesk().sessions()
    return g.db


def snapshot() -> Snapshot:
    """Settings and templates as of this request (cached per process, see hotdesk.snapshot)."""
    if "snapshot" not in g:
        g.snapshot = hotdesk().snapshots.get(db())
    return g.snapshot


def settings() -> SettingValues:
    """Every runtime setting of this request's tenant, typed (shared between requests: it cannot change)."""
    return snapshot().settings_for(tenant_id())


def tenant_id() -> int:
    """The tenant this request acts for: the phone's (its credentials, its token), the signed-in
    admin's or user's; the default tenant until the request has said."""
    return g.get("tenant_id", DEFAULT_TENANT_ID)


def act_for_tenant(tenant: int) -> None:
    """From here on, this request reads `tenant`'s settings (called once the request proved it)."""
    g.tenant_id = tenant


def phone_base_url() -> str:
    """Where phones reach hotdesk: the phone_base_url setting, else the address this request came to."""
    return settings()[PHONE_BASE_URL] or request.host_url.rstrip("/")


def app_base_url() -> str | None:
    """Where softphone apps reach /app/: phone_base_url, else the address this request came to if
    this listener serves /app/ too; None when neither is known (the console on a listener of its own)."""
    if settings()[PHONE_BASE_URL]:
        return settings()[PHONE_BASE_URL]
    return request.host_url.rstrip("/") if "softphone" in current_app.blueprints else None


def carries_nul() -> bool:
    """Does the request's path, query or form hold a NUL? No name or value may (PostgreSQL refuses
    them in text): the admin faces answer 400 before anything looks further."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [*request.form.keys(), *request.form.values()]
    return any("\x00" in value for value in values)


def client_ip() -> str | None:
    """The phone's address: the request's source (proxy headers only as far as they are trusted)."""
    return request.remote_addr


def _over_budget(error: RenderBudgetExceeded) -> Response:
    """A template that saved (it rendered for the sample phones) but is over its budget for this one."""
    log.warning(
        "%s: not served to %s (%s): %s", request.path[:200], client_ip(), request.user_agent.string[:200], error
    )
    response = Response(
        "This phone's provisioning template is too costly to render; an administrator must correct it.\n",
        503,
        content_type="text/plain; charset=utf-8",
    )
    response.headers["Retry-After"] = "300"
    return response


def _end_transaction(response: Response) -> Response:
    """The request's one commit, before its answer goes out: an answer that succeeded (below 400,
    redirects included) commits what the request changed, any other rolls it back. The core and
    admin/ only flush. A refusal that must still be kept (a failed login, a provisioning mismatch)
    is committed by its view before it answers; so is a login or logout, right after its decision,
    to release the login lock (db.serialize_logins)."""
    session = g.get("db")
    if session is not None:
        if response.status_code < 400:
            commit_if_written(session)  # a read-only request ends as before, with the session's close
        else:
            session.rollback()
    return response


def _close_session(_exc: BaseException | None) -> None:
    g.pop("snapshot", None)
    g.pop("tenant_id", None)
    g.pop("named_phone", None)
    g.pop("published_generation", None)
    session = g.pop("db", None)
    if session is not None:
        session.close()

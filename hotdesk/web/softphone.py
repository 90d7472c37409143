"""/app/: where softphone apps get their account (interfaces.md section 6).

- `/app/qr/<token>`: what a QR code (or an account mail) holds. An app (any request that does not
  ask for HTML) uses the single-use link up and gets the account as Linphone's XML, or as JSON
  when it asks for JSON; a browser gets a page with the manual settings (never the SIP secret) and
  an "Open in Linphone" link, and leaves the link unused. A used, expired, replaced or unknown
  link is answered 404 alike.
- `/app/config/<token>`: the app's own configuration URL (its `config-uri`), fetched at each start:
  the account as it is now, or, once the app is revoked (or deleted with its user or extension: a
  token that names no app), a configuration that takes it away.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, render_template, request, url_for
from markupsafe import Markup

from hotdesk import events
from hotdesk.models import AppDevice, EventKind, Tenant, User
from hotdesk.softphone import links
from hotdesk.softphone.account import Account, NoServer, account_of
from hotdesk.softphone.qr import svg_element
from hotdesk.web import act_for_tenant, client_ip, db, hotdesk, lpconfig, phone_base_url, settings

bp = Blueprint("softphone", __name__, url_prefix="/app")
log = logging.getLogger("hotdesk.softphone")

GONE = "This sign-in code is not valid any more: ask for a new QR code.\n"


def _asks_for(mimetype: str) -> bool:
    """Did the client name this type itself (not through */*)?"""
    return any(value == mimetype and quality > 0 for value, quality in request.accept_mimetypes)


def app_label() -> str:
    agent = "".join(ch for ch in request.user_agent.string if ch.isprintable())
    return agent[: links.LABEL_LENGTH] or "app"


def _not_found() -> Response:
    return Response(GONE, 404, content_type="text/plain; charset=utf-8")


def _no_server(error: NoServer) -> Response:
    log.warning("softphone account not served: %s", error)
    return Response(
        "The server address for apps is not set up yet. Ask your administrator.\n",
        503,
        content_type="text/plain; charset=utf-8",
    )


def config_url(token: str) -> str:
    return phone_base_url() + url_for("softphone.app_config", token=token)


def _account(user: User, url: str) -> Account:
    return account_of(user, db().get_one(Tenant, user.tenant_id), settings(), url)


def _answer(account: Account) -> Response:
    if _asks_for("application/json"):
        return jsonify({"account": account.as_json()})
    return Response(lpconfig.account_config(account, account.provisioning_url), content_type=lpconfig.CONTENT_TYPE)


@bp.get("/qr/<token>")
def sign_in_link(token: str) -> Response:
    session = db()
    link = links.find_link(session, hotdesk().config.secret_key, token)
    if link is None:
        return _not_found()
    act_for_tenant(link.tenant_id)
    user = session.get_one(User, link.user_id)
    if _asks_for("text/html"):
        try:
            account = _account(user, "")
        except NoServer as error:
            return _no_server(error)
        url = phone_base_url() + url_for("softphone.sign_in_link", token=token)
        page = render_template(
            "softphone/link.html",
            account=account,
            url=url,
            expires_at=link.expires_at,
            qr_svg=Markup(svg_element(url)),
        )
        return Response(page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
    try:
        _account(user, "")  # an app given nothing usable must not use the link up
    except NoServer as error:
        return _no_server(error)
    if not links.use_link(session, link):
        return _not_found()
    app = links.add_device(session, user, app_label(), client_ip())
    events.record(
        session,
        EventKind.APP_SIGNIN,
        extension=user.extension.number,
        ip=client_ip(),
        actor=user.username,
        detail=f"{link.kind} code; {app.device.label}",
        tenant_id=user.tenant_id,
    )
    response = _answer(_account(user, config_url(app.token)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/config/<token>")
def app_config(token: str) -> Response:
    session = db()
    device: AppDevice | None = links.device_by_token(session, token)
    if device is None and not links.could_be_device_token(token):
        return _not_found()
    if device is not None:
        act_for_tenant(device.tenant_id)
    url = config_url(token)
    # Revoked, or gone with its user or extension: told to stop. Answered an error, Linphone would
    # keep registering with the account it cached (tests/test_linphone.py).
    if device is None or device.revoked_at is not None:
        if _asks_for("application/json"):
            return Response('{"error": "revoked"}\n', 410, content_type="application/json")
        return Response(
            lpconfig.stop_config(url), content_type=lpconfig.CONTENT_TYPE, headers={"Cache-Control": "no-store"}
        )
    links.seen(device, client_ip(), app_label())
    try:
        response = _answer(_account(session.get_one(User, device.user_id), url))
    except NoServer as error:
        return _no_server(error)
    response.headers["Cache-Control"] = "no-store"
    return response

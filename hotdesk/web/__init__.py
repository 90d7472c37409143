"""The HTTP faces: provisioning files and the phones' XML apps (admin console and API come later)."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session


def init_app(app: Flask) -> None:
    from hotdesk.web import phoneapp, provision

    app.register_blueprint(provision.bp)
    app.register_blueprint(phoneapp.bp)
    app.teardown_request(_close_session)


def hotdesk():
    return current_app.extensions["hotdesk"]


def db() -> Session:
    """This request's database session, closed when the request ends."""
    if "db" not in g:
        g.db = hotdesk().sessions()
    return g.db


def client_ip() -> str | None:
    """The phone's address: the request's source (proxy headers only as far as they are trusted)."""
    return request.remote_addr


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()

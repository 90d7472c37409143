"""The access-code step of a browser's sign-in (hotdesk.access_codes), for the portal and the console.

Between the right password and the right code the face's session cookie holds the challenge, and
nothing that signs anyone in: every page but the code's own answers as to a browser signed out.
The cookie is signed, not encrypted; the challenge in it is worth as much as a session id, to this
browser alone, and only together with the code from the person's mailbox.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, session, url_for

from hotdesk.access_codes import Challenge

PENDING = "access_code"


def hold(challenge: Challenge, **keep: Any) -> None:
    """From now on the session holds this challenge (and `keep`), nothing from before."""
    session.clear()
    session.permanent = False  # a sign-in half done ends with the browser
    session[PENDING] = {
        "challenge": challenge.token,
        "sent_to": challenge.sent_to,
        "expires_at": challenge.expires_at.isoformat(timespec="seconds"),
        **keep,
    }


def renewed(challenge: Challenge) -> None:
    """A resend: the same challenge, a new expiry."""
    held = pending()
    if held is not None:
        session[PENDING] = held | {"expires_at": challenge.expires_at.isoformat(timespec="seconds")}


def pending() -> dict[str, Any] | None:
    held = session.get(PENDING)
    return held if isinstance(held, dict) and isinstance(held.get("challenge"), str) else None


def token() -> str:
    held = pending()
    return held["challenge"] if held is not None else ""


def page(face: str, held: dict[str, Any], status: int = 200, **values: Any) -> tuple[str, int]:
    """The face's Access code page (`face`: its blueprint and template folder, portal or admin)."""
    page = render_template(
        f"{face}/access_code.html",
        pending=held,
        code_url=url_for(f"{face}.access_code"),
        resend_url=url_for(f"{face}.resend_code"),
        **values,
    )
    return page, status

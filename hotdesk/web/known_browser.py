"""The known-browser cookie (OWASP's device cookie) of the console and the portal.

A browser someone signed in from carries a signed cookie naming them; its sign-ins are counted
on their own, so an outsider guessing the name cannot lock that person out. Only the signature
and age are checked here: whom it names, the face compares with who is signing in.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request, url_for
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.wrappers import Response

LIFETIME = timedelta(days=180)


class KnownBrowserCookie:
    def __init__(self, name: str, salt: str, sign_in_endpoint: str):
        self.name, self.salt, self.sign_in_endpoint = name, salt, sign_in_endpoint

    def _signer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=self.salt)

    def read(self) -> dict | None:
        """What this request's cookie says, if it is genuine and recent."""
        cookie = request.cookies.get(self.name)
        if not cookie:
            return None
        try:
            value = self._signer().loads(cookie, max_age=int(LIFETIME.total_seconds()))
        except BadData:
            return None
        return value if isinstance(value, dict) else None

    def issue(self, response: Response, value: dict) -> None:
        """Sent to the sign-in page only, never to another site's request (SameSite=Strict)."""
        response.set_cookie(
            self.name,
            self._signer().dumps(value),
            max_age=int(LIFETIME.total_seconds()),
            path=url_for(self.sign_in_endpoint),
            secure=request.is_secure,
            httponly=True,
            samesite="Strict",
        )

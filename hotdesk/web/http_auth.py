"""HTTP Basic and Digest (RFC 7616, MD5, qop=auth) for provisioning requests.

Werkzeug parses the headers; what is left is the digest arithmetic. Nonces are stateless:
a timestamp signed with the app's secret key, so any worker (or host) can check any nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from flask import Request, Response

REALM = "hotdesk"
NONCE_LIFETIME = 600  # seconds; phones reuse one nonce for the several files they fetch at boot


def authenticate(request: Request, password_of: Callable[[str], str | None], key: str) -> str | None:
    """The user name a request's Basic or Digest credentials prove, or None.

    `password_of(user)` gives the expected password for a user name, or None if there is no such user.
    """
    auth = request.authorization
    if auth is None or not auth.username:
        return None
    password = password_of(auth.username)
    if password is None:
        return None
    if auth.type == "basic":
        return auth.username if _same(auth.password, password) else None
    if auth.type == "digest":
        return auth.username if _digest_ok(request, ha1(auth.username, password), key) else None
    return None


def proves(request: Request, username: str, known_ha1: str, key: str) -> bool:
    """Do the request's Basic or Digest credentials prove `username`, whose password's HA1 is
    `known_ha1`? (For a check that must not keep the password itself.)"""
    auth = request.authorization
    if auth is None or auth.username != username:
        return False
    if auth.type == "basic":
        return auth.password is not None and _same(ha1(username, auth.password), known_ha1)
    if auth.type == "digest":
        return _digest_ok(request, known_ha1, key)
    return False


def ha1(username: str, password: str) -> str:
    """RFC 7616's H(username:realm:password), with MD5."""
    return _md5(f"{username}:{REALM}:{password}")


def challenge(key: str, stale: bool = False) -> Response:
    response = Response("Authentication required\n", 401, content_type="text/plain; charset=utf-8")
    # Written out rather than via Werkzeug, which leaves a plain realm unquoted; RFC 7616 and
    # some phone firmwares want every quoted-string quoted.
    digest = f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{_nonce(key)}"'
    response.headers.add("WWW-Authenticate", digest + (", stale=TRUE" if stale else ""))
    response.headers.add("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
    return response


def nonce_is_stale(request: Request, key: str) -> bool:
    auth = request.authorization
    return bool(
        auth
        and auth.type == "digest"
        and auth.nonce
        and _nonce_signed(auth.nonce, key)
        and not _nonce_fresh(auth.nonce, key)
    )


def _digest_ok(request: Request, known_ha1: str, key: str) -> bool:
    p = request.authorization.parameters
    nonce, uri, answer = p.get("nonce"), p.get("uri"), p.get("response")
    if not (nonce and uri and answer) or p.get("realm") != REALM:
        return False
    if p.get("algorithm", "MD5").upper() != "MD5" or not _nonce_fresh(nonce, key):
        return False
    if uri.split("?", 1)[0] != request.path:  # the answer must be for this file, not another one
        return False
    ha2 = _md5(f"{request.method}:{uri}")
    qop = p.get("qop")
    if qop == "auth":
        expected = _md5(f"{known_ha1}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
    elif qop is None:
        expected = _md5(f"{known_ha1}:{nonce}:{ha2}")
    else:
        return False
    return _same(answer, expected)


def _nonce(key: str) -> str:
    stamp = str(int(time.time()))
    return f"{stamp}.{_sign(stamp, key)}"


def _nonce_signed(nonce: str, key: str) -> bool:
    stamp, _, signature = nonce.partition(".")
    return stamp.isdigit() and _same(signature, _sign(stamp, key))


def _nonce_fresh(nonce: str, key: str) -> bool:
    return _nonce_signed(nonce, key) and 0 <= time.time() - int(nonce.partition(".")[0]) <= NONCE_LIFETIME


def _sign(stamp: str, key: str) -> str:
    return hmac.new(key.encode(), f"digest-nonce:{stamp}".encode(), hashlib.sha256).hexdigest()[:32]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))

"""HTTP Basic and Digest (RFC 7616, MD5, qop=auth) for provisioning requests.

Werkzeug parses the headers; what is left is the digest arithmetic, and keeping answers from
being replayed:

- **qop=auth only.** RFC 2069's qop-less answer has no nonce count: anyone who saw one answer
  could send it again for as long as its nonce lives. Every phone that does Digest does qop=auth.
- **Nonce counts.** A phone reuses one nonce for the several files it fetches at boot, counting
  nc up (00000001, 00000002, …). An answer is accepted only when its nc is higher than every nc
  accepted before for that nonce, so a captured answer (or an old count) is refused. The marks
  must be shared by all workers of a host, and a host's workers are processes: they live in a
  small SQLite file under instance/ (`NonceCounts`; one upsert per Digest answer, expiring with the
  nonce). SQLite rather than a hand-made locked file: it already does the cross-process locking,
  the index and the expiry, and it is in the standard library.
- **Nonces name their host and client.** A nonce is `<time>.<host>.<HMAC(key, time, host,
  client address)>`. The nc marks are kept per host, so a host accepts only its own nonces; any
  host can still check another's signature (they share the secret key) and answers it stale=true,
  which makes the phone answer a fresh nonce with the same credentials instead of reporting a
  wrong password: round-robin DNS in front of several hosts costs a phone one extra round trip.
  Bound to the client address, a nonce seen on the wire is of no use from another address.
  A replayed or out-of-order count is stale too: a phone whose two parallel fetches arrived in the
  wrong order retries the later one with a new nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Response
from werkzeug.wrappers import Request  # also the bare WSGI requests web/published_answers.py reads

log = logging.getLogger("hotdesk.provision")
REALM = "hotdesk"
NONCE_LIFETIME = 600  # seconds; phones reuse one nonce for the several files they fetch at boot
_NC = 8  # hex digits of a nonce count
_NC_USED = "hotdesk.digest_nc_used"


class NonceCounts:
    """The highest nonce count accepted for each live nonce of this host, shared by its processes.

    Also holds the host's id, made once by whichever process comes first."""

    _PURGE_EVERY = 60.0

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        self._next_purge = 0.0
        self._host: str | None = None

    def advance(self, nonce: str, nc: int) -> bool:
        """Record `nc` for `nonce` if it is higher than any recorded; False if it is not, or if the
        marks cannot be kept (an unwritable instance/: refusing is the safe side, and logged)."""
        try:
            return self._advance(nonce, nc)
        except sqlite3.Error as error:
            log.error("Digest nonce counts cannot be kept in %s (%s): Digest answers are refused", self.path, error)
            return False

    def _advance(self, nonce: str, nc: int) -> bool:
        db = self._db()
        now = time.time()
        if now >= self._next_purge:
            self._next_purge = now + self._PURGE_EVERY
            db.execute("DELETE FROM counts WHERE expires < ?", (now,))
        changed = db.execute(
            "INSERT INTO counts (nonce, nc, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (nonce) DO UPDATE SET nc = excluded.nc WHERE excluded.nc > counts.nc",
            (nonce, nc, now + NONCE_LIFETIME + 60),
        ).rowcount
        return changed == 1

    def host(self) -> str:
        if self._host is None:
            db = self._db()
            db.execute("INSERT OR IGNORE INTO host (one, id) VALUES (1, ?)", (secrets.token_hex(4),))
            self._host = db.execute("SELECT id FROM host").fetchone()[0]
        return self._host

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # 0600 from the start: the file names the nonces in use.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")  # marks of nonces that live ten minutes: no fsync
            db.execute(
                "CREATE TABLE IF NOT EXISTS counts (nonce TEXT PRIMARY KEY, nc INTEGER NOT NULL, expires REAL NOT NULL)"
            )
            db.execute("CREATE TABLE IF NOT EXISTS host (one INTEGER PRIMARY KEY CHECK (one = 1), id TEXT NOT NULL)")
            self._local.db = db
        return db


class DigestNonces:
    """Issues and checks this host's Digest nonces: the app's secret key and the host's nc marks."""

    def __init__(self, key: str, counts: NonceCounts):
        self.key, self.counts = key, counts

    def issue(self, address: str | None) -> str:
        stamp, host = str(int(time.time())), self.counts.host()
        return f"{stamp}.{host}.{self._sign(stamp, host, address)}"

    def genuine(self, nonce: str, address: str | None) -> bool:
        """Issued by one of our hosts (any of them: they share the key) to this address."""
        stamp, _, rest = nonce.partition(".")
        host, _, signature = rest.partition(".")
        return stamp.isdigit() and bool(host) and _same(signature, self._sign(stamp, host, address))

    def usable(self, nonce: str, address: str | None) -> bool:
        """Genuine, this host's and not expired: its answers may be checked against the nc marks."""
        stamp, _, rest = nonce.partition(".")
        return (
            self.genuine(nonce, address)
            and rest.partition(".")[0] == self.counts.host()
            and 0 <= time.time() - int(stamp) <= NONCE_LIFETIME
        )

    def _sign(self, stamp: str, host: str, address: str | None) -> str:
        message = f"digest-nonce:{stamp}:{host}:{address or ''}".encode()
        return hmac.new(self.key.encode(), message, hashlib.sha256).hexdigest()[:32]


def authenticate(request: Request, password_of: Callable[[str], str | None], nonces: DigestNonces) -> str | None:
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
        return auth.username if _digest_ok(request, ha1(auth.username, password), nonces) else None
    return None


def proves(request: Request, username: str, known_ha1: str, nonces: DigestNonces) -> bool:
    """Do the request's Basic or Digest credentials prove `username`, whose password's HA1 is
    `known_ha1`? (For a check that must not keep the password itself.)"""
    auth = request.authorization
    if auth is None or auth.username != username:
        return False
    if auth.type == "basic":
        return auth.password is not None and _same(ha1(username, auth.password), known_ha1)
    if auth.type == "digest":
        return _digest_ok(request, known_ha1, nonces)
    return False


def ha1(username: str, password: str) -> str:
    """RFC 7616's H(username:realm:password), with MD5."""
    return _md5(f"{username}:{REALM}:{password}")


def challenge(nonces: DigestNonces, address: str | None, stale: bool = False) -> Response:
    response = Response("Authentication required\n", 401, content_type="text/plain; charset=utf-8")
    # Written out rather than via Werkzeug, which leaves a plain realm unquoted; RFC 7616 and
    # some phone firmwares want every quoted-string quoted.
    digest = f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{nonces.issue(address)}"'
    response.headers.add("WWW-Authenticate", digest + (", stale=TRUE" if stale else ""))
    response.headers.add("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
    return response


def nonce_is_stale(request: Request, nonces: DigestNonces) -> bool:
    """A Digest answer refused for its nonce alone — expired, another host's, or its count used up —
    rather than for its credentials: the phone should answer a fresh nonce, not give up."""
    auth = request.authorization
    if not (auth and auth.type == "digest" and auth.nonce and nonces.genuine(auth.nonce, request.remote_addr)):
        return False
    return not nonces.usable(auth.nonce, request.remote_addr) or request.environ.get(_NC_USED, False)


def _digest_ok(request: Request, known_ha1: str, nonces: DigestNonces) -> bool:
    if request.authorization is None:
        return False
    p = request.authorization.parameters
    nonce, uri, answer, nc, cnonce = p.get("nonce"), p.get("uri"), p.get("response"), p.get("nc"), p.get("cnonce")
    if not (nonce and uri and answer and nc and cnonce) or p.get("realm") != REALM or p.get("qop") != "auth":
        return False
    if len(nc) != _NC or not all(c in "0123456789abcdefABCDEF" for c in nc):
        return False
    if (p.get("algorithm", "MD5") or "").upper() != "MD5" or not nonces.usable(nonce, request.remote_addr):
        return False
    if uri.split("?", 1)[0] != request.path:  # the answer must be for this file, not another one
        return False
    ha2 = _md5(f"{request.method}:{uri}")
    if not _same(answer, _md5(f"{known_ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")):
        return False
    if not nonces.counts.advance(nonce, int(nc, 16)):
        request.environ[_NC_USED] = True  # for nonce_is_stale
        return False
    return True


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))

"""Single sign-on per tenant with an OpenID provider (interfaces.md section 7): Microsoft 365 /
Entra ID, or any OpenID Connect provider.

The authorization-code flow with PKCE (S256), state and nonce, through Authlib (the authorization
URL and the code exchange) and joserfc (the ID token's signature against the provider's JWKS, as
Authlib's own clients check it); Authlib's `CodeIDToken` checks issuer, audience, expiry and nonce.
The provider's discovery document and JWKS are cached for DISCOVERY_TTL; an ID token signed with a
key the cached JWKS does not hold fetches the JWKS again, once (the provider rotated its keys).

Each sign-in is an `SsoSignIn` row: the state (only its SHA-256 kept) binds the tenant, the face,
the app's redirect URI, the nonce and the PKCE verifier, and is used once. The person the
provider names (the tenant's `oidc_user_claim`) is matched to a user's e-mail or username in that
tenant (a console sign-in: to a tenant manager's name); no match, no account. The face then gets a
single-use hotdesk code, valid CODE_LIFETIME, of which only the SHA-256 is kept.

Every outcome is an event of the tenant (SSO_SIGNIN, SSO_FAILED); its detail names the face and the
reason, never a token, a code or a nonce. Functions flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from hotdesk import events
from hotdesk.models import Admin, EventKind, Extension, SsoSignIn, Tenant, User, utcnow
from hotdesk.settings import SettingError, SettingSpec, SettingValues

if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.oidc.core import CodeIDToken
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

# Authlib, joserfc (with cryptography) and requests are imported where a sign-in talks to its provider,
# not with this module: every process imports it (settings, sign-in records), and they weigh 16 MB in
# each gunicorn worker (2026-12-07: 100.7 MB at start with them, 84 without), most of which never
# sees a single sign-on.

CALLBACK_PATH = "/sso/callback"  # hotdesk's redirect URI at every tenant's provider: <base URL>/sso/callback
STATE_LIFETIME = timedelta(minutes=10)  # the person's time at the provider
CODE_LIFETIME = timedelta(minutes=2)
KEPT = timedelta(days=1)  # then a sign-in's row goes, its state and code long dead
DISCOVERY_TTL = 3600.0  # seconds a provider's discovery document and JWKS are trusted without a fetch
LEEWAY = 60  # seconds of clock skew allowed on the ID token's times
HTTP_TIMEOUT = 10.0
SCOPE = "openid email profile"
CLAIMS = ("email", "preferred_username", "upn")
MAX_REDIRECT_URI = 1000


def _check_issuer(value: str) -> str:
    value = value.strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if (parts.scheme != "https" and not (parts.scheme == "http" and loopback)) or not parts.hostname:
        raise SettingError(
            f"{value!r} is not an issuer URL such as https://login.microsoftonline.com/<tenant-id>/v2.0 (https)"
        )
    if parts.query or parts.fragment or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise SettingError(f"{value!r} is not an issuer URL (no query, fragment or spaces)")
    return value


def _check_client_id(value: str) -> str:
    value = value.strip()
    if len(value) > 255 or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise SettingError("a client ID: printable characters without spaces, at most 255")
    return value


def _check_client_secret(value: str) -> str:
    if len(value) > 512 or any(not ch.isprintable() for ch in value) or value != value.strip():
        raise SettingError("a client secret: printable characters, no leading or trailing spaces, at most 512")
    return value


def _check_claim(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}", value):
        raise SettingError(f"{value!r} is not a claim name (e.g. {', '.join(CLAIMS)})")
    return value


def _check_redirect_uris(value: str) -> str:
    uris = value.split()
    for uri in uris:
        parts = urlsplit(uri)
        if (
            not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme or "")
            or parts.fragment
            or parts.query
            or len(uri) > MAX_REDIRECT_URI
            or not uri.isprintable()
        ):
            raise SettingError(
                f"{uri!r} is not a redirect URI an app can receive (scheme:path, no query or fragment;"
                " e.g. com.example.softphone:/sso or https://app.example.com/sso)"
            )
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SettingError(f"{uri!r}: a sign-in code must not travel over plain http (https, or an app's scheme)")
    return " ".join(uris)


OIDC_ISSUER = SettingSpec(
    "oidc_issuer",
    "the tenant's OpenID provider (empty: no single sign-on); Microsoft 365 / Entra ID:"
    " https://login.microsoftonline.com/<tenant-id>/v2.0",
    check=_check_issuer,
    parse=str,
)
OIDC_CLIENT_ID = SettingSpec(
    "oidc_client_id", "hotdesk's client (application) ID at the OpenID provider", check=_check_client_id, parse=str
)
OIDC_CLIENT_SECRET = SettingSpec(
    "oidc_client_secret",
    "hotdesk's client secret at the OpenID provider",
    check=_check_client_secret,
    secret=True,
    parse=str,
)
OIDC_USER_CLAIM = SettingSpec(
    "oidc_user_claim",
    "the ID token's claim matched to a user's e-mail or username: email; preferred_username or upn (Microsoft 365)",
    lambda: "email",
    _check_claim,
    parse=str,
)
APP_REDIRECT_URIS = SettingSpec(
    "app_redirect_uris",
    "space-separated URIs a single sign-on from an app may return to (exactly as the app sends them)",
    check=_check_redirect_uris,
    parse=lambda value: tuple(value.split()),
)
SETTINGS = (OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_USER_CLAIM, APP_REDIRECT_URIS)


class Face(StrEnum):
    """Where a single sign-on lands."""

    APP = "app"  # the app's redirect URI, with a hotdesk code the app exchanges for its account
    PORTAL = "portal"
    CONSOLE = "console"  # a tenant manager of the tenant


class SsoRefused(Exception):
    """A single sign-on that gives nothing. `str()` is the reason, for the history and the page: no secret in it."""


class ProviderUnavailable(SsoRefused):
    """The provider could not be reached, or answered something that is not OpenID Connect."""


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    claim: str


def provider_of(settings: SettingValues) -> Provider | None:
    """The tenant's provider, or None when single sign-on is not set up (issuer and client ID)."""
    issuer, client_id = settings[OIDC_ISSUER], settings[OIDC_CLIENT_ID]
    if not issuer or not client_id:
        return None
    return Provider(issuer, client_id, settings[OIDC_CLIENT_SECRET], settings[OIDC_USER_CLAIM])


def redirect_allowed(settings: SettingValues, redirect_uri: str) -> bool:
    """Is `redirect_uri` exactly one of the tenant's app_redirect_uris?"""
    return redirect_uri in settings[APP_REDIRECT_URIS]


# the provider's metadata


@dataclass
class _Metadata:
    document: dict[str, Any]
    jwks: dict[str, Any] | None
    fetched_at: float


_metadata: dict[str, _Metadata] = {}
_metadata_lock = threading.Lock()


def _get_json(url: str) -> dict[str, Any]:
    import requests

    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        found = response.json()
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"the provider did not answer {urlsplit(url).path}: {type(error).__name__}") from None
    if not isinstance(found, dict):
        raise ProviderUnavailable(f"the provider's {urlsplit(url).path} is not a JSON object")
    return found


def _discovery(issuer: str) -> _Metadata:
    """The issuer's discovery document (cached DISCOVERY_TTL), which must name the issuer itself."""
    with _metadata_lock:
        cached = _metadata.get(issuer)
        if cached is not None and time.monotonic() - cached.fetched_at < DISCOVERY_TTL:
            return cached
    document = _get_json(issuer + "/.well-known/openid-configuration")
    if document.get("issuer") != issuer:
        raise ProviderUnavailable("the provider's discovery document names another issuer")
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(endpoint), str):
            raise ProviderUnavailable(f"the provider's discovery document has no {endpoint}")
    found = _Metadata(document, None, time.monotonic())
    with _metadata_lock:
        _metadata[issuer] = found
    return found


def _key_set(metadata: _Metadata, *, refresh: bool = False) -> KeySet:
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    if metadata.jwks is None or refresh:
        metadata.jwks = _get_json(metadata.document["jwks_uri"])
    try:
        return KeySet.import_key_set(metadata.jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError):
        raise ProviderUnavailable("the provider's JWKS holds no usable key") from None


def forget_providers() -> None:
    """Drop every cached discovery document and JWKS (tests; an admin changing the issuer needs no call)."""
    with _metadata_lock:
        _metadata.clear()


# one sign-in


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _client(provider: Provider, callback_url: str, metadata: _Metadata) -> OAuth2Session:
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(
        provider.client_id,
        provider.client_secret or None,
        scope=SCOPE,
        redirect_uri=callback_url,
        code_challenge_method="S256",
        token_endpoint_auth_method=_auth_method(provider, metadata),
    )


def _auth_method(provider: Provider, metadata: _Metadata) -> str:
    """How hotdesk proves itself at the token endpoint: HTTP Basic (OpenID Connect's default) unless
    the provider says it takes only the secret in the form; a public client (no secret) with PKCE alone."""
    if not provider.client_secret:
        return "none"
    supported = metadata.document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return "client_secret_post" if "client_secret_basic" not in supported else "client_secret_basic"


@dataclass(frozen=True)
class Begun:
    state: str  # the browser's copy, in a cookie: the callback must come from the browser that began
    authorization_url: str


_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256, unpadded (RFC 7636)


def check_app_challenge(challenge: str | None, method: str | None) -> str | None:
    """An app's own PKCE challenge, or None when it sent none; SsoRefused unless S256 and well formed."""
    if not challenge and not method:
        return None
    if method != "S256" or not challenge or not _CHALLENGE.fullmatch(challenge):
        raise SsoRefused("the app's code_challenge is not an S256 challenge")
    return challenge


def app_verifier_matches(sign_in: SsoSignIn, verifier: object) -> bool:
    """Does the app's `code_verifier` answer the challenge it began with (True when it sent none)?"""
    if sign_in.app_code_challenge is None:
        return True
    if not isinstance(verifier, str) or not 43 <= len(verifier) <= 128:
        return False
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    return secrets.compare_digest(create_s256_code_challenge(verifier), sign_in.app_code_challenge)


def begin(
    session: Session,
    tenant_id: int,
    provider: Provider,
    face: Face,
    callback_url: str,
    redirect_uri: str | None = None,
    app_code_challenge: str | None = None,
    now: datetime | None = None,
) -> Begun:
    """A new sign-in at the tenant's provider: where to send the browser. ProviderUnavailable if
    the provider's discovery document cannot be read."""
    metadata = _discovery(provider.issuer)
    now = now or utcnow()
    session.execute(delete(SsoSignIn).where(SsoSignIn.created_at < now - KEPT))  # the history keeps the outcomes
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    with _client(provider, callback_url, metadata) as client:
        url, _ = client.create_authorization_url(
            metadata.document["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
    session.add(
        SsoSignIn(
            tenant_id=tenant_id,
            face=face.value,
            state_hash=_digest(state),
            nonce=nonce,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            app_code_challenge=app_code_challenge,
            created_at=now,
            expires_at=now + STATE_LIFETIME,
        )
    )
    session.flush()
    return Begun(state, url)


def sign_in_of_state(session: Session, state: str) -> SsoSignIn | None:
    """The sign-in this state began (used or not), or None."""
    if not state or len(state) > 128:
        return None
    return session.scalar(select(SsoSignIn).where(SsoSignIn.state_hash == _digest(state)))


def use_state(session: Session, sign_in: SsoSignIn, now: datetime | None = None) -> bool:
    """Use the state up; False if it was used already (a replayed callback) or expired."""
    now = now or utcnow()
    used = session.execute(
        update(SsoSignIn)
        .where(SsoSignIn.id == sign_in.id, SsoSignIn.state_used_at.is_(None), SsoSignIn.expires_at > now)
        .values(state_used_at=now)
    )
    return used.rowcount == 1  # type: ignore[attr-defined]


def state_matches(sign_in: SsoSignIn, state: str | None) -> bool:
    """Is `state` (the browser's cookie) the one this sign-in began with?"""
    return bool(state) and secrets.compare_digest(_digest(state or ""), sign_in.state_hash)


def identify(provider: Provider, sign_in: SsoSignIn, code: str, callback_url: str) -> str:
    """Exchange the provider's code (with the PKCE verifier) and validate the ID token it returns:
    the value of the tenant's claim for the person the provider signed in. SsoRefused otherwise."""
    import requests
    from authlib.common.errors import AuthlibBaseError

    metadata = _discovery(provider.issuer)
    if not code or len(code) > 2048:
        raise SsoRefused("the provider sent no code")
    try:
        with _client(provider, callback_url, metadata) as client:
            token = client.fetch_token(
                metadata.document["token_endpoint"],
                code=code,
                code_verifier=sign_in.code_verifier,
                timeout=HTTP_TIMEOUT,
            )
    except AuthlibBaseError as error:
        raise SsoRefused(f"the provider refused the code ({error.error})") from None
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"the provider's token endpoint failed: {type(error).__name__}") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SsoRefused("the provider returned no ID token")
    claims = _validated(metadata, provider, id_token, sign_in.nonce, token.get("access_token"))
    value = claims.get(provider.claim)
    if value is None and token.get("access_token"):
        value = _from_userinfo(metadata, provider, token, claims["sub"], callback_url)
    if not isinstance(value, str) or not value.strip():
        raise SsoRefused(f"the ID token has no {provider.claim} claim")
    return value.strip()


def _from_userinfo(metadata: _Metadata, provider: Provider, token: dict, sub: str, callback_url: str) -> Any:
    """The claim from the userinfo endpoint, where a provider that keeps ID tokens small puts it
    (OpenID Connect Core 5.4); only for the person the ID token names (its `sub`)."""
    import requests
    from authlib.common.errors import AuthlibBaseError

    endpoint = metadata.document.get("userinfo_endpoint")
    if not isinstance(endpoint, str):
        return None
    try:
        with _client(provider, callback_url, metadata) as client:
            client.token = token
            answer = client.get(endpoint, timeout=HTTP_TIMEOUT)
            answer.raise_for_status()
            userinfo = answer.json()
    except (AuthlibBaseError, requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"the provider's userinfo endpoint failed: {type(error).__name__}") from None
    if not isinstance(userinfo, dict) or userinfo.get("sub") != sub:
        raise SsoRefused("the provider's userinfo names another person than the ID token")
    return userinfo.get(provider.claim)


def _validated(
    metadata: _Metadata, provider: Provider, id_token: str, nonce: str, access_token: str | None
) -> CodeIDToken:
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.errors import InvalidKeyIdError, JoseError
    from joserfc.jws import JWSRegistry

    algorithms = metadata.document.get("id_token_signing_alg_values_supported") or ["RS256"]
    registry = JWSRegistry(algorithms=[alg for alg in algorithms if alg != "none"], strict_check_header=False)
    try:
        try:
            decoded = jwt.decode(id_token, _key_set(metadata), registry=registry)
        except InvalidKeyIdError:
            decoded = jwt.decode(id_token, _key_set(metadata, refresh=True), registry=registry)  # keys rotated
        params: dict[str, Any] = {"nonce": nonce, "client_id": provider.client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": provider.issuer},
                "aud": {"essential": True, "value": provider.client_id},
            },
            params,
        )
        claims.validate(leeway=LEEWAY)
    except InvalidKeyIdError:
        raise SsoRefused("ID token refused: signed with a key the provider does not publish") from None
    except JoseError as error:
        raise SsoRefused(f"ID token refused: {error.error}{_claim_named(error)}") from None
    except (ValueError, TypeError):
        raise SsoRefused("ID token refused: malformed") from None
    return claims


def _claim_named(error: JoseError) -> str:
    claim = getattr(error, "claim", None)
    return f" ({claim})" if claim else ""


def tenant_named(session: Session, name: str) -> Tenant | None:
    """The tenant `name` names: its name, its SIP domain, or a LOGIN's domain (alice@acme.example)."""
    name = name.strip()[:253]
    if not name:
        return None
    by_name = session.scalar(select(Tenant).where(Tenant.name == name))
    if by_name is not None:
        return by_name
    domain = name.rpartition("@")[2].lower()
    return session.scalar(select(Tenant).where(Tenant.sip_domain == domain)) if domain else None


def find_user(session: Session, tenant_id: int, value: str) -> User | None:
    """The tenant's one user whose extension's e-mail (any case) or username is `value`; None for
    no one, or for two people sharing the e-mail (the provider's word must name one person)."""
    lowered = value.lower()[:254]
    by_email = list(
        session.scalars(
            select(User)
            .join(Extension, Extension.id == User.extension_id)
            .where(User.tenant_id == tenant_id, func.lower(Extension.email) == lowered)
            .limit(2)
        )
    )
    if len(by_email) == 1:
        return by_email[0]
    if by_email:
        return None
    return session.scalar(select(User).where(User.tenant_id == tenant_id, User.username == lowered[:64]))


def find_manager(session: Session, tenant_id: int, value: str) -> Admin | None:
    """The tenant's manager named `value` (any case); never a system admin: a tenant's provider
    speaks for that tenant only."""
    return session.scalar(
        select(Admin).where(Admin.tenant_id == tenant_id, func.lower(Admin.name) == value.lower()[:64]).limit(1)
    )


def issue_code(sign_in: SsoSignIn, now: datetime | None = None) -> str:
    """The single-use hotdesk code that hands the signed-in person to the face."""
    now = now or utcnow()
    code = secrets.token_urlsafe(32)
    sign_in.code_hash, sign_in.code_expires_at = _digest(code), now + CODE_LIFETIME
    return code


def sign_in_of_code(session: Session, code: str) -> SsoSignIn | None:
    if not isinstance(code, str) or not code or len(code) > 128:
        return None
    return session.scalar(select(SsoSignIn).where(SsoSignIn.code_hash == _digest(code)))


def use_code(session: Session, sign_in: SsoSignIn, face: Face, now: datetime | None = None) -> bool:
    """Use the code up at `face`; False if it was used already, expired, or was made for another face."""
    now = now or utcnow()
    used = session.execute(
        update(SsoSignIn)
        .where(
            SsoSignIn.id == sign_in.id,
            SsoSignIn.face == face.value,
            SsoSignIn.code_used_at.is_(None),
            SsoSignIn.code_expires_at > now,
        )
        .values(code_used_at=now)
    )
    return used.rowcount == 1  # type: ignore[attr-defined]


def record(
    session: Session,
    kind: EventKind,
    tenant_id: int,
    face: Face | str,
    detail: str,
    *,
    ip: str | None,
    actor: str | None = None,
    extension: str | None = None,
) -> None:
    events.record(
        session,
        kind,
        tenant_id=tenant_id,
        ip=ip,
        actor=(actor or "single sign-on")[:64],
        extension=extension,
        detail=f"{face}: {detail}"[:500],
    )

"""A softphone app's manual sign-in (interfaces.md section 6, `/app/v1/`; seeds 000 and 001): the
SIP domain names the tenant, the person's username and account password (never the SIP secret,
never the voicemail PIN) give the app the account and its own revocable configuration URL: an
`AppDevice`, listed and revoked like an app a QR code signed in.

Discovery. A tenant is found by its SIP domain. The default tenant has none: it answers to the
host of its external_address or internal_address, the domain its accounts carry
(hotdesk.softphone.account). The `server` the app was given is not checked: it is where the app
sent its request, so the request has reached it; the seeds have people type the public address,
the private one or the web domain, any of which may differ from what hotdesk's settings say (a
NAT, a proxy), and refusing them would protect nothing. Only the domain selects the tenant, and
the answer names that tenant alone.

Sign-in is hotdesk.self_service's, as the portal's: throttled per account and per address from the
history, counted together with the portal's (one budget for a guesser, not two), the attempt
written down as APP_SIGNIN_FAILED before its slow password check, which becomes APP_SIGNIN when
the password is right. An outcome that checked no password wrongly (locked out, a password change
required, a new password refused) is written with its reason as the detail and counts for nothing.

The caller (the web face) commits after `begin` (releasing the sign-in lock before the slow check)
and after every refusal (kept in the history); functions here only flush.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotdesk import access_codes, people, self_service
from hotdesk.hotdesking import SERVER_ADDRESS
from hotdesk.models import DEFAULT_TENANT_ID, Tenant, User
from hotdesk.settings import SettingValues
from hotdesk.softphone import links
from hotdesk.softphone.account import Account, NoServer, account_of

LOCKED_OUT = "locked out"
CHANGE_REQUIRED = "password change required"
NEW_PASSWORD_REFUSED = "new password refused"
NO_SERVER = "no server address set"
LONGEST_FIELD = 256  # username, domain: longer is no one's
LONGEST_PASSWORD = 1024


class Refused(Exception):
    """The app gets no account; the message may be shown to the person."""


class WrongCredentials(Refused):
    def __init__(self) -> None:
        super().__init__("wrong username or password")


class LockedOut(Refused):
    def __init__(self, message: str, retry_after: timedelta):
        super().__init__(message)
        self.retry_after = retry_after


class PasswordChangeRequired(Refused):
    """The password is right, but it is a generated (or an admin's temporary) one: change it first."""


class WeakPassword(Refused):
    """The current password is right; the new one is refused (hotdesk.people's rules)."""


def tenant_of_domain(session: Session, settings_for: Callable[[int], SettingValues], sip_domain: str) -> Tenant | None:
    """The tenant an app typing this SIP domain signs in to, or None."""
    domain = sip_domain.strip().lower()
    if not domain or len(domain) > LONGEST_FIELD:
        return None
    tenant = session.scalar(select(Tenant).where(Tenant.sip_domain == domain))
    if tenant is not None:
        return tenant
    installation = settings_for(DEFAULT_TENANT_ID)
    hosts = {address.host.lower() for spec in SERVER_ADDRESS.values() if (address := installation[spec]) is not None}
    return session.get(Tenant, DEFAULT_TENANT_ID) if domain in hosts else None


def methods(tenant: Tenant, settings: SettingValues) -> list[dict[str, Any]]:
    """How the tenant's people sign an app in, in discovery's answer.

    OIDC (interfaces.md section 7), {"type": "oidc", "start_url": URL}, follows once the tenant
    has single sign-on: hotdesk.web.sso.discover_method adds it, as its URL is this server's; a
    second factor changes sign-in's answer, not this list."""
    return [{"type": "password"}]


def login_for(tenant: Tenant | None, sip_domain: str, username: str) -> str:
    """The LOGIN hotdesk.people finds the person by. `username` may be the full LOGIN
    (username@domain) of the domain typed; any other domain in it names no one (never another
    tenant's person), and neither does an unknown domain."""
    name, domain = username.strip(), sip_domain.strip().lower()
    local, at, typed = name.rpartition("@")
    if at and typed.lower() == domain:
        name = local
    if tenant is None or "@" in name or not name:
        return f"{name}@{domain}"  # a LOGIN no one has (no username holds "@"): counted as unknown
    return f"{name}@{tenant.sip_domain}" if tenant.sip_domain else name


@dataclass(frozen=True)
class Attempt:
    inner: self_service.Attempt
    tenant: Tenant | None


def begin(
    session: Session,
    settings_for: Callable[[int], SettingValues],
    key: bytes,
    sip_domain: str,
    username: str,
    ip: str | None,
) -> Attempt:
    """Write the attempt down as a failure, or LockedOut (written down too). Commit either way."""
    tenant = tenant_of_domain(session, settings_for, sip_domain)
    login = login_for(tenant, sip_domain, username)
    try:
        inner = self_service.begin_sign_in(session, settings_for, login, ip, None, key, self_service.APP)
    except self_service.SignInRefused as refused:
        wait = refused.retry_after or timedelta(minutes=1)
        self_service.record_refusal(session, self_service.APP, login, ip, key, LOCKED_OUT)
        raise LockedOut(str(refused), wait) from None
    return Attempt(inner, tenant)


def _prove(session: Session, attempt: Attempt, password: str) -> User:
    """The person, once `password` is their account password (the SIP secret and the PIN never are)."""
    try:
        user = self_service.finish_sign_in(session, attempt.inner, password)
    except self_service.SignInRefused:
        raise WrongCredentials() from None
    extension = user.extension
    if _same(password, extension.secret) or (extension.voicemail_pin and _same(password, extension.voicemail_pin)):
        # No account password can be either (hotdesk.people), but a secret or PIN changed later could be.
        _refusal(session, attempt, None)
        raise WrongCredentials()
    return user


def _same(given: str, kept: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), kept.encode("utf-8", "surrogatepass"))


def _refusal(session: Session, attempt: Attempt, detail: str | None) -> None:
    """The attempt's row becomes a refusal: a counted failure (None) or one for `detail`'s reason."""
    attempt.inner.event.kind = self_service.APP.failed.value
    attempt.inner.event.detail = detail
    session.flush()


def finish(session: Session, attempt: Attempt, password: str) -> User:
    """The person, whose app may have the account now; else WrongCredentials or PasswordChangeRequired."""
    user = _prove(session, attempt, password)
    if user.must_change_password:
        _refusal(session, attempt, CHANGE_REQUIRED)
        raise PasswordChangeRequired("change the generated password first (change-password)")
    return user


def second_factor(
    session: Session, attempt: Attempt, settings: SettingValues, label: str, ip: str | None
) -> access_codes.Challenge | None:
    """With two_factor = email, after the right password: the code's challenge (the app's label
    kept in it for the account the code gives); None when the account is given at once. NoAddress:
    nowhere to send a code, no account."""
    if not access_codes.required(settings, access_codes.Face.APP):
        return None
    return self_service.send_code(session, attempt.inner, settings, ip=ip, context=label)


def with_code(
    session: Session,
    settings_for: Callable[[int], SettingValues],
    key: bytes,
    token: str,
    code: str,
    ip: str | None,
) -> tuple[Attempt, User, str]:
    """The attempt, the person and the app's label, once `code` is the challenge's: the account may
    be given now. NoChallenge, WrongCode (hotdesk.access_codes), or LockedOut."""
    try:
        inner, used = self_service.sign_in_with_code(
            session, settings_for, key, token, code, ip, None, self_service.APP
        )
    except self_service.SignInRefused as refused:
        raise LockedOut(str(refused), refused.retry_after or timedelta(minutes=1)) from None
    user = inner.user
    if user is None:  # sign_in_with_code's attempt always has its person
        raise access_codes.NoChallenge()
    return Attempt(inner, session.get(Tenant, used.tenant_id)), user, used.context or "app"


def resend(
    session: Session, settings_for: Callable[[int], SettingValues], token: str, ip: str | None
) -> access_codes.Challenge:
    """A new code for the app's challenge; NoChallenge or ResendRefused (hotdesk.access_codes)."""
    return self_service.resend_code(session, settings_for, token, ip, self_service.APP)


def change_password(session: Session, attempt: Attempt, password: str, new_password: str, ip: str | None) -> User:
    """The person changes their password from the app (the first, forced change, or any later one)."""
    user = _prove(session, attempt, password)
    try:
        self_service.change_password(session, user, password, new_password, ip)
    except people.PeopleError as refused:
        _refusal(session, attempt, NEW_PASSWORD_REFUSED)
        raise WeakPassword(str(refused).removeprefix("password: ")) from None
    return user


def account(
    session: Session,
    attempt: Attempt,
    user: User,
    settings: SettingValues,
    label: str,
    ip: str | None,
    config_url: Callable[[str], str],
) -> Account:
    """The account for the app that proved it may have it, with its own new configuration URL.
    NoServer (hotdesk.softphone.account) before anything is made, the attempt written down as refused."""
    tenant = session.get_one(Tenant, user.tenant_id)
    try:
        account_of(user, tenant, settings)
    except NoServer:
        _refusal(session, attempt, NO_SERVER)
        raise
    app = links.add_device(session, user, label, ip)
    return account_of(user, tenant, settings, config_url(app.token))

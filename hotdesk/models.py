"""The database: typed SQLAlchemy models. Schema changes go through Alembic (hotdesk/migrations)."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored as `DateTime(timezone=True)` and always read back as an aware UTC datetime.

    SQLite keeps no zone (it hands back naive values, which hotdesk wrote as UTC) and PostgreSQL
    answers in the connection's zone: this type makes every database look alike, so no code repairs
    a datetime it read. A naive datetime is refused when written: it names no moment."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: hotdesk stores moments, give it a zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime}
    # Each model maps one Table (DeclarativeBase says only FromClause).
    __table__: ClassVar[Table]


DEFAULT_TENANT_ID = 1  # the tenant migration 0008 made: everything of an installation without tenants


class Tenant(Base):
    """An organisation on a shared server, known by its SIP domain. Its runtime settings are the
    installation's unless it overrides them (TenantSetting); the `default` tenant (id 1) overrides none."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    sip_domain: Mapped[str | None] = mapped_column(String(253), unique=True)  # None: the default tenant's, unset
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantSetting(Base):
    """A tenant's own value of a runtime setting (hotdesk.setting_store)."""

    __tablename__ = "tenant_settings"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def _tenant_column() -> Mapped[int]:
    return mapped_column(
        ForeignKey("tenants.id", ondelete="RESTRICT"), index=True, default=DEFAULT_TENANT_ID, server_default=text("1")
    )


class Address(enum.StrEnum):
    """Which server address a phone registers to: the two login keys of a guest phone."""

    EXTERNAL = "external"
    INTERNAL = "internal"


SOURCE_ASTERISK = "asterisk"  # Extension.source: `hotdesk sync asterisk` manages it (hotdesk.pbx)


class Extension(Base):
    """A user's SIP account. The same row will serve softphone logins (QR, email codes)."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("tenant_id", "number"),)  # 1001 may exist in every tenant

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = _tenant_column()
    number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    secret: Mapped[str] = mapped_column(String(128))
    auth_name: Mapped[str | None] = mapped_column(String(64))
    voicemail_pin: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    max_login_minutes: Mapped[int | None]  # overrides the global maximum login time
    source: Mapped[str | None] = mapped_column(String(16))  # None: hotdesk's own; SOURCE_ASTERISK: the PBX's
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    pins: Mapped[list[TemplatePin]] = relationship(back_populates="extension", cascade="all, delete-orphan")
    user: Mapped[User | None] = relationship(back_populates="extension", cascade="all, delete-orphan", uselist=False)

    @property
    def sip_auth_name(self) -> str:
        return self.auth_name or self.number


class Device(Base):
    """A desk phone, known from its provisioning requests."""

    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_first_ip_created_at", "first_ip", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The tenant whose provisioning credentials made it known; its own credentials carry it from then on.
    tenant_id: Mapped[int] = _tenant_column()
    mac: Mapped[str] = mapped_column(String(12), unique=True)  # 12 lower-case hex digits
    brand: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(64))
    firmware: Mapped[str | None] = mapped_column(String(64))
    last_ip: Mapped[str | None] = mapped_column(String(45))
    last_seen: Mapped[datetime | None] = mapped_column(index=True)  # /metrics counts the phones seen lately
    # Issued on the first authenticated fetch and written into the device's own config; from then
    # on only these open files that carry secrets. Stored as given: the config must carry them.
    provisioning_username: Mapped[str | None] = mapped_column(String(64), unique=True)
    provisioning_password: Mapped[str | None] = mapped_column(String(128))
    credentials_issued_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_ip: Mapped[str | None] = mapped_column(String(45))  # the address that made it known (rate limit)
    # Admission (setting device_admission, hotdesk.trust): None = waiting for an admin. Credentials
    # go only to a fetch from admitted_address, when one is recorded.
    admitted_at: Mapped[datetime | None]
    admitted_by: Mapped[str | None] = mapped_column(String(64))  # None: admitted by the `open` setting
    admitted_address: Mapped[str | None] = mapped_column(String(45))
    # Every address a request named this device from while it waited (space-separated, at most
    # WAITING_ADDRESSES): more than one, and an admin must say which is the phone's.
    waiting_addresses: Mapped[str | None] = mapped_column(String(400))
    # The latest request that named this device without proving it and claimed another brand or model.
    mismatch_at: Mapped[datetime | None]
    mismatch_detail: Mapped[str | None] = mapped_column(String(400))
    # The latest fetch with the shared credentials although the device has its own.
    shared_fetch_at: Mapped[datetime | None]
    shared_fetch_ip: Mapped[str | None] = mapped_column(String(45))

    mapping: Mapped[Mapping | None] = relationship(back_populates="device", uselist=False)

    # Not stored: the extension a logout in this session just took off the phone, which it is still
    # registered as until it reloads (a NOTIFY through the PBX goes to that endpoint).
    registered_as = None  # type: str | None

    @property
    def addresses_while_waiting(self) -> list[str]:
        return (self.waiting_addresses or "").split()

    @property
    def admitted(self) -> bool:
        return self.admitted_at is not None


class Template(Base):
    """A provisioning template of one brand: the system's (tenant_id NULL), which every tenant may
    use, or one tenant's own. Exactly one system template per brand is the default; a tenant may
    make one of its own its default for a brand, and falls back to the system's otherwise.

    NULL is never equal to NULL in a unique constraint (SQLite and PostgreSQL alike), so the
    system's rows get partial unique indexes of their own."""

    __tablename__ = "templates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "brand", "name"),
        Index(
            "uq_templates_system_name",
            "brand",
            "name",
            unique=True,
            sqlite_where=text("tenant_id IS NULL"),
            postgresql_where=text("tenant_id IS NULL"),
        ),
        Index(
            "uq_templates_default_per_brand",
            "brand",
            unique=True,
            sqlite_where=text("is_default AND tenant_id IS NULL"),
            postgresql_where=text("is_default AND tenant_id IS NULL"),
        ),
        Index(
            "uq_templates_tenant_default_per_brand",
            "tenant_id",
            "brand",
            unique=True,
            sqlite_where=text("is_default AND tenant_id IS NOT NULL"),
            postgresql_where=text("is_default AND tenant_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: the system's, which every tenant falls back to.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    brand: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TemplatePin(Base):
    """An extension pinned to a template of a brand: EPM's "mapping with a blank MAC"."""

    __tablename__ = "template_pins"
    __table_args__ = (UniqueConstraint("extension_id", "brand"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    extension_id: Mapped[int] = mapped_column(ForeignKey("extensions.id", ondelete="CASCADE"))
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id", ondelete="CASCADE"))
    brand: Mapped[str] = mapped_column(String(32))  # the template's, repeated so the constraint can see it

    extension: Mapped[Extension] = relationship(back_populates="pins")
    template: Mapped[Template] = relationship()


class Mapping(Base):
    """Who is logged in where: an extension on a device, and the address it registers to."""

    __tablename__ = "mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), unique=True)
    extension_id: Mapped[int] = mapped_column(ForeignKey("extensions.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id", ondelete="SET NULL"))
    address: Mapped[Address] = mapped_column(
        Enum(Address, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    since: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(index=True)  # automatic logout, if any

    device: Mapped[Device] = relationship(back_populates="mapping")
    extension: Mapped[Extension] = relationship()
    template: Mapped[Template | None] = relationship()


class Setting(Base):
    """A runtime setting an admin changes while the server runs (see hotdesk.settings)."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Revision(Base):
    """A counter that goes up with every change of its kind (see hotdesk.snapshot): one cheap read
    tells a worker whether what it cached is still current."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Lease(Base):
    """A named job one process holds until expires_at: keeps timers from firing on every worker."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class Event(Base):
    """Append-only history. Values are copied, not referenced, so it outlives what it names."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_extension_at", "extension", "at"),
        Index("ix_events_mac_at", "mac", "at"),
        # The per-address and per-name counts of sign-in failures (hotdesk.self_service, admin.accounts).
        Index("ix_events_ip_at", "ip", "at"),
        Index("ix_events_actor_at", "actor", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Copied, not a foreign key: the history outlives a removed tenant.
    tenant_id: Mapped[int | None] = mapped_column(index=True, default=DEFAULT_TENANT_ID)
    kind: Mapped[str] = mapped_column(String(32))
    extension: Mapped[str | None] = mapped_column(String(32))
    mac: Mapped[str | None] = mapped_column(String(12))
    brand: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(64))
    template: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(45))
    actor: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class EventKind(enum.StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    LOGIN_FAILED = "login_failed"
    UNLOCK = "unlock"  # an admin lifted the lock of an extension (extension set) or of a phone (mac set)
    LOCKOUT = "lockout"  # failed logins just locked an extension or a phone (hotdesk.lockout)
    NOTIFY = "notify"
    ADMIN = "admin"  # a change an admin made (console, API or CLI); actor = the admin's or token's name
    ADMIN_SIGNIN = "admin_signin"
    ADMIN_SIGNIN_FAILED = "admin_signin_failed"
    # A person's own account (hotdesk.self_service): the tenant and extension are theirs, never a secret.
    USER_SIGNIN = "user_signin"
    USER_SIGNIN_FAILED = "user_signin_failed"
    PASSWORD_CHANGED = "password_changed"
    PIN_CHANGED = "pin_changed"
    # The portal's "Forgot your password?" (detail: mailed or why not) and a refused password link.
    PASSWORD_LINK_REQUESTED = "password_link_requested"
    PASSWORD_LINK_REFUSED = "password_link_refused"
    # Softphone apps (hotdesk.softphone): detail names the app and how it signed in, never a token.
    APP_SIGNIN = "app_signin"
    APP_SIGNIN_FAILED = "app_signin_failed"
    APP_REVOKED = "app_revoked"
    QR_REFRESHED = "qr_refreshed"
    # Mail (hotdesk.mail): detail names the mail, its recipient and the reason, never a token or password.
    MAIL_SENT = "mail_sent"
    MAIL_FAILED = "mail_failed"  # an attempt failed (retried later), or the last one did (given up)

    # Single sign-on (hotdesk.sso): detail names the face and the reason, never a token, code or nonce.
    SSO_SIGNIN = "sso_signin"
    SSO_FAILED = "sso_failed"

    # E-mailed access codes (hotdesk.access_codes): detail names the face, never the code or challenge.
    ACCESS_CODE_SENT = "access_code_sent"  # the password (or PIN) was right; a code is on its way
    ACCESS_CODE_RESENT = "access_code_resent"


class Admin(Base):
    """Someone who may sign in to the web console."""

    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, with its parameters
    # None: a system admin; else the tenant manager of that tenant, who sees nothing of another.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # In every console session cookie; signing out moves it on, so no copy of a cookie outlives it.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Where the console's access code goes (hotdesk.access_codes) when `two_factor` is on.
    email: Mapped[str | None] = mapped_column(String(254))
    two_factor: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class ApiToken(Base):
    """A bearer token for the REST API. Only its SHA-256 is stored: it is shown once, when created."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))  # space-separated: read, write, secrets
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )  # None: system
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # refused from then on; None: until revoked


class User(Base):
    """A person's account: one per extension, signed in with a username and an account password,
    never with the extension's SIP secret (the portal, and the apps of the issues that follow)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = _tenant_column()
    extension_id: Mapped[int] = mapped_column(ForeignKey("extensions.id", ondelete="CASCADE"), unique=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, with its parameters
    # A generated password is shown to the tenant's manager until its first change (seed 003), then never again.
    initial_password: Mapped[str | None] = mapped_column(String(128))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    cell: Mapped[str | None] = mapped_column(String(32))
    session_epoch: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime | None]
    # The person's own choices for the softphone account their QR code gives (None: the tenant's
    # settings qr_transport and qr_address).
    qr_transport: Mapped[str | None] = mapped_column(String(8))
    qr_address: Mapped[str | None] = mapped_column(String(8))

    extension: Mapped[Extension] = relationship(back_populates="user")


class SignInLink(Base):
    """A single-use, expiring URL that signs a softphone app in: what a QR code holds (hotdesk.softphone).

    The database holds no token: the URL's token is an HMAC of `salt` under the instance's secret
    key, computed again to show the current QR and to check a fetch. A refresh revokes every link
    the user had; a fetch by an app uses its link up."""

    __tablename__ = "sign_in_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = _tenant_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))  # "qr" (shown on a screen) or "mail" (lives longer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AppDevice(Base):
    """A softphone app signed in to a user's account (by a QR link or the app sign-in API). It
    holds its own token in the configuration URL it was given, and fetches its account there at each
    start; revoked, it is answered a configuration that removes the account."""

    __tablename__ = "app_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = _tenant_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the random token
    label: Mapped[str] = mapped_column(String(128))  # the app's User-Agent, for people to tell their apps apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    last_address: Mapped[str | None] = mapped_column(String(45))
    revoked_at: Mapped[datetime | None]


class QueuedMail(Base):
    """A mail to send (hotdesk.mail): what it is about, never what it says. The message, and any
    secret it carries (a sign-in link), is made when it is sent, so the queue holds nothing to steal.
    Due while `next_attempt_at` is set; a sender claims it (`claimed_until`) before sending, so two
    senders never send one mail."""

    __tablename__ = "mail_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A tenant's mails go with it (a test mail names no user whose removal would take it).
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, default=DEFAULT_TENANT_ID, server_default=text("1")
    )
    kind: Mapped[str] = mapped_column(String(16))  # hotdesk.mail.MailKind
    recipient: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Where the request that queued it came in, for links when phone_base_url is not set.
    base_url: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)  # None: sent, or given up
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]  # given up
    last_error: Mapped[str | None] = mapped_column(String(500))
    # An access code mail's sign-in (hotdesk.access_codes): the code is made when the mail is.
    access_code_id: Mapped[int | None] = mapped_column(ForeignKey("access_codes.id", ondelete="CASCADE"), index=True)


class SsoSignIn(Base):
    """One single sign-on at a tenant's OpenID provider (hotdesk.sso), from /sso/start to the face
    it lands on. The state is single-use and stored only as its SHA-256; the nonce and the PKCE
    verifier live here (server-side) for the few minutes the person spends at the provider. Once
    the provider signed the person in, a single-use hotdesk code (SHA-256 only, two minutes) hands
    them to the face: the app's redirect URI, the portal or the console."""

    __tablename__ = "sso_sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = _tenant_column()
    face: Mapped[str] = mapped_column(String(8))  # app, portal or console
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    # The app's (one of app_redirect_uris); for the portal and the console, the address the browser began at.
    redirect_uri: Mapped[str | None] = mapped_column(String(1000))
    # The app's own PKCE challenge (S256), when it sent one: the hotdesk code then needs its verifier.
    app_code_challenge: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # of the state: the person has this long at the provider
    state_used_at: Mapped[datetime | None]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None]
    code_used_at: Mapped[datetime | None]


# Occupancy (hotdesk.admin.occupancy): the history's logins and logouts summed up as they are read,
# so a report over a year reads a few rows per day and per phone, not every event. Keyed by
# tenant without a foreign key, like the history they come from (they outlive a tenant).


class OccupancyOpen(Base):
    """A login the summaries have read and no logout yet: a session still going on."""

    __tablename__ = "occupancy_open"

    mac: Mapped[str] = mapped_column(String(12), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    extension: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]


class OccupancyHour(Base):
    """One hour (UTC) of a tenant's phones: phone-seconds logged in, logins, most at once at a login."""

    __tablename__ = "occupancy_hours"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    logins: Mapped[int] = mapped_column(Integer, default=0)
    peak: Mapped[int] = mapped_column(Integer, default=0)


class OccupancyDay(Base):
    """One day (the tenant's time zone) of sessions that ended on it: how many, how long, on how
    many phones and for how many extensions."""

    __tablename__ = "occupancy_days"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    phones: Mapped[int] = mapped_column(Integer, default=0)
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)


class OccupancyTotal(Base):
    """A phone's or an extension's sessions and seconds from the start of the history through `day`
    (a row for each day it had a session end): a range's total is two lookups, not a scan."""

    __tablename__ = "occupancy_totals"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(9), primary_key=True)  # phone (key: MAC) or extension
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    sessions: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[int] = mapped_column(BigInteger)


class OccupancyKey(Base):
    """Every phone and extension with a session, with its latest totals (OccupancyTotal's last row)."""

    __tablename__ = "occupancy_keys"

    tenant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(9), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_day: Mapped[date]
    sessions: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[int] = mapped_column(BigInteger)


class AccessCode(Base):
    """A sign-in waiting for the code e-mailed to its person (hotdesk.access_codes): the second factor.

    The face holds the challenge, an opaque token stored here only as its SHA-256. The code is made
    when its mail is composed and kept only as an HMAC under the instance's secret key; a resend
    queues a new mail whose code replaces the one before. Single-use, expiring, closed after
    MOST_WRONG_CODES wrong codes."""

    __tablename__ = "access_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = _tenant_column()
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    face: Mapped[str] = mapped_column(String(8))  # portal, app, console or phone
    # Who signs in: a person (portal, app), an extension at a desk phone, or a console admin.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    extension_id: Mapped[int | None] = mapped_column(ForeignKey("extensions.id", ondelete="CASCADE"), index=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    # The desk phone (and the address) the login came from: only it may complete the login.
    mac: Mapped[str | None] = mapped_column(String(12))
    ip: Mapped[str | None] = mapped_column(String(45))
    # What the face needs to finish: the server address a desk phone logs in to, the app's label.
    context: Mapped[str | None] = mapped_column(String(255))
    code_hash: Mapped[str | None] = mapped_column(String(64))  # None until the mail is composed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_sent_at: Mapped[datetime | None]  # when the latest code was asked for (a resend waits after it)
    resends: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    wrong_codes: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    closed_at: Mapped[datetime | None]
    closed_as: Mapped[str | None] = mapped_column(String(16))  # used, replaced, too many wrong codes

"""Issue 12, roles: a tenant's manager or token reaches nothing of another tenant through ANY route.

Not by sampling: ROUTES holds how to call every route of the app's URL map, and
test_every_route_is_in_the_table fails when a route is added without a row here. Each route is
called as tenant acme — its manager's console session, its API token, its phone — about tenant
globex's objects (globex's extension number, phone MAC, template, manager and token names) and
then about objects that exist nowhere. The two answers must be the same (404, or the same
refusal), no answer may carry anything of globex that the request did not name, and nothing of
globex (nor anything globex inherits from the installation) may change. Both tenants have
extension 1001: a second sweep calls every route about 1001, which must reach acme's own only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from lxml import html
from sqlalchemy import func, select

from hotdesk import tenancy
from hotdesk.admin import accounts
from hotdesk.admin import extensions as admin_extensions
from hotdesk.directory import ExtensionData
from hotdesk.models import (
    Admin,
    ApiToken,
    AppDevice,
    Device,
    Event,
    Extension,
    Mapping,
    QueuedMail,
    Setting,
    SignInLink,
    Template,
    TenantSetting,
    User,
    utcnow,
)
from hotdesk.softphone import links
from tests.phones import YealinkPhone
from tests.test_console import PASSWORD, Console

B_MAC = "0015650b0b01"  # globex's phone, 1001 logged in on it
B_LOCKED_MAC = "0015650b0b02"  # globex's phone that failed logins of 2002 until locked
B_WAITING_MAC = "0015650b0b03"  # globex's phone waiting to be admitted
A_MAC = "0015650a0a01"  # acme's own guest phone
SHARED = "1001"

# What globex has, named in requests about it.
GLOBEX = {
    "number": "2002",
    "mac": B_MAC,
    "template": "globex-private",
    "admin": "gus-manager",
    "token": "globex-sync",
    "tenant": "globex",
    "mail": "424242",  # globex's queued mail (its id is fixed in `world`)
}
# The same shapes, naming nothing anywhere.
ABSENT = {
    "number": "9999",
    "mac": "0015650e0e0e",
    "template": "nowhere-tpl",
    "admin": "nobody-here",
    "token": "no-such-token",
    "tenant": "no-such-tenant",
    "mail": "929292",
}
# What no answer to acme may carry, whatever it asked (besides what the request named itself).
GLOBEX_SECRETS = [
    "Gus Globex",
    "Bea Globex",
    "Globex-Secret-1",
    "Globex-Secret-2",
    "globex.example.com",
    "pbx.globex.example",
    "Globex private template",
    B_LOCKED_MAC,
    B_WAITING_MAC,
    "globex-bot",
]


@pytest.fixture(autouse=True)
def _push_request_context():
    """As in test_console: each request gets its own `g`."""


@dataclass
class World:
    console: Console
    api: Callable
    phone: YealinkPhone
    leaks: list[str]  # set up once globex's own secrets are known
    globex_app: int  # the id of the softphone app signed in to globex's 2002


@pytest.fixture
def world(app, client, session):
    registry = app.extensions["hotdesk"].settings
    acme = tenancy.add(session, registry, "acme", "acme.example.com", "test").tenant
    globex = tenancy.add(session, registry, "globex", "globex.example.com", "test")
    b = globex.tenant.id
    registry.set(session, "external_address", "pbx.acme.example", acme.id)
    registry.set(session, "external_address", "pbx.globex.example", b)
    registry.set(session, "lockout_attempts", "0", acme.id)  # acme's probes must not lock acme's phone
    registry.set(session, "admin_password", "77777777", b)
    for tenant, number, name, secret, pin in (
        (acme.id, SHARED, "Ann Acme", "Acme-Secret-1", "1111"),
        (b, SHARED, "Gus Globex", "Globex-Secret-1", "2222"),
        (b, "2002", "Bea Globex", "Globex-Secret-2", "3333"),
    ):
        admin_extensions.create(
            session,
            ExtensionData(number, name, secret, pin),
            "test",
            registry.values(session, tenant),
            tenant_id=tenant,
        )
    default = session.scalar(select(Template).where(Template.brand == "yealink", Template.is_default))
    session.add(
        Template(tenant_id=b, brand="yealink", name="globex-private", body="# Globex private template\n" + default.body)
    )
    accounts.add_admin(session, "ann-manager", PASSWORD, "test", tenant_id=acme.id)
    accounts.add_admin(session, "gus-manager", PASSWORD, "test", tenant_id=b)
    accounts.create_token(session, "globex-sync", "test", scopes=accounts.SCOPES, tenant_id=b)
    accounts.create_token(session, "globex-bot", "test", tenant_id=b)
    acme_token = accounts.create_token(session, "acme-sync", "test", scopes=accounts.SCOPES, tenant_id=acme.id).secret
    session.add(Device(mac=B_WAITING_MAC, brand="yealink", tenant_id=b, last_ip="10.9.0.3", admitted_at=None))
    session.add(
        QueuedMail(
            id=int(GLOBEX["mail"]),
            tenant_id=b,
            kind="test",
            recipient="bea@globex.example.com",
            next_attempt_at=None,
            failed_at=utcnow(),
            last_error="pbx.globex.example: connection refused",
        )
    )
    bea = session.scalar(select(User).where(User.tenant_id == b, User.username == "bea.globex"))
    globex_app = links.add_device(session, bea, "Globex softphone", "10.9.0.4").device.id
    links.new_link(session, bea, app.config["SECRET_KEY"], registry.values(session, b))
    session.commit()

    credentials = (globex.provisioning_username, globex.provisioning_password)
    b_phone = YealinkPhone(client, B_MAC, ip="10.9.0.1", credentials=credentials)
    assert "Gus Globex" in b_phone.text(b_phone.login(SHARED, "2222"))
    b_locked = YealinkPhone(client, B_LOCKED_MAC, ip="10.9.0.2", credentials=credentials)
    for _ in range(6):
        b_locked.login("2002", "0000")
    assert "Too many failed logins" in b_locked.text(b_locked.login("2002", "3333"))

    a_phone = YealinkPhone(client, A_MAC, ip="10.8.0.1", credentials=_credentials(registry, session, acme.id))
    a_phone.boot()

    console = Console(client)
    assert console.sign_in("ann-manager").status_code == 302

    def api(method, path, **kwargs):
        headers = {"Authorization": f"Bearer {acme_token}"}
        return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)

    leaks = [*GLOBEX_SECRETS, globex.provisioning_username, globex.provisioning_password, "77777777"]
    return World(console, api, a_phone, leaks, globex_app)


def _credentials(registry, session, tenant_id):
    return (
        registry.get(session, "provisioning_username", tenant_id),
        registry.get(session, "provisioning_password", tenant_id),
    )


def globex_state(session) -> list:
    """Everything of globex, and everything globex inherits (the installation's settings, the
    system's templates): no call of acme's may change any of it."""
    session.expire_all()
    b = tenancy.by_name(session, "globex").id

    def rows(query, *columns):
        return sorted(tuple(getattr(row, column) for column in columns) for row in session.scalars(query))

    return [
        rows(
            select(Extension).where(Extension.tenant_id == b),
            "number",
            "name",
            "secret",
            "voicemail_pin",
            "email",
            "updated_at",
        ),
        rows(
            select(Device).where(Device.tenant_id == b),
            "mac",
            "admitted_at",
            "admitted_address",
            "provisioning_username",
            "last_seen",
        ),
        sorted((m.device.mac, m.extension.number) for m in session.scalars(select(Mapping).join(Device))),
        rows(
            select(Template).where((Template.tenant_id == b) | Template.tenant_id.is_(None)),
            "name",
            "body",
            "is_default",
            "updated_at",
        ),
        rows(select(Admin).where(Admin.tenant_id == b), "name", "password_hash", "session_epoch"),
        rows(select(ApiToken).where(ApiToken.tenant_id == b), "name", "token_hash", "scopes"),
        rows(select(TenantSetting).where(TenantSetting.tenant_id == b), "name", "value"),
        rows(select(User).where(User.tenant_id == b), "username", "qr_transport", "qr_address", "session_epoch"),
        rows(select(AppDevice).where(AppDevice.tenant_id == b), "id", "revoked_at", "last_seen_at"),
        rows(select(SignInLink).where(SignInLink.tenant_id == b), "id", "revoked_at", "used_at"),
        rows(select(Setting), "name", "value"),
        session.scalar(select(func.count()).select_from(Event).where(Event.tenant_id == b)),
    ]


# How to call each route. A call gets the World and the names to ask about (GLOBEX, ABSENT, or
# with acme's own SHARED number) and returns the response(s). `same`: the answer about globex's
# object must equal the answer about an absent one; False where a name is unique across tenants
# (a MAC, an admin's or token's name, a template's name): making one that another tenant has is
# refused where making a new one succeeds; the refusal still names nothing of the other tenant.

Call = Callable[[World, dict], object]


@dataclass(frozen=True)
class Route:
    call: Call
    same: bool = True


def app_post(path: str, body: Callable[[dict], dict]) -> Call:
    """A softphone app's request, from acme's phone's address."""
    return lambda w, ids: w.phone.client.post(path, json=body(ids), environ_base={"REMOTE_ADDR": w.phone.ip})


def console_get(path: str) -> Call:
    return lambda w, ids: w.console.get(path.format(**ids))


def console_post(path: str, data: Callable[[dict], dict] | None = None) -> Call:
    return lambda w, ids: w.console.submit(path.format(**ids), data(ids) if data else {})


def api_call(method: str, path: str, **fixed) -> Call:
    def call(w: World, ids: dict):
        kwargs = {key: _filled(value, ids) for key, value in fixed.items()}
        return w.api(method, path.format(**ids), **kwargs)

    return call


def _filled(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: _filled(item, ids) for key, item in value.items()}
    return value


def phone_key(w: World, ids: dict):
    return w.phone.get(w.phone.keys()["External"], browser=True)


def phone_login(w: World, ids: dict):
    form = w.phone.press("External")
    w.phone.submit(form, extension=ids["number"], password="0000")
    return w.phone.last_response


def phone_override_form(w: World, ids: dict):
    url = w.phone.keys()["External"] + f"/override?number={ids['number']}"
    return w.phone.get(url, browser=True)


def phone_override(w: World, ids: dict):
    form = w.phone.open(w.phone.keys()["External"] + f"/override?number={ids['number']}")
    w.phone.submit(form, extension=ids["number"], password="0000")
    return w.phone.last_response


def _phone_token(w: World) -> str:
    return urlsplit(w.phone.keys()["External"]).path.split("/")[2]


def phone_path(suffix: str) -> Call:
    return lambda w, ids: w.phone.get(f"/phone/{_phone_token(w)}/{suffix}", browser=True)


def phone_logout(w: World, ids: dict):
    menu = w.phone.open(f"/phone/{_phone_token(w)}/menu")
    return w.phone.get(w.phone.menu_items(menu)["Logout"], browser=True)


def provision(path: str) -> Call:
    return lambda w, ids: w.phone.get(path.format(**ids), auth=w.phone.credentials)


def made_then_removed(make: Call) -> Call:
    """Template names are per tenant: acme makes its own (under a name of its own, so the history
    reads alike in both sweeps) and removes it again, so the routes that follow see acme's
    templates as they were."""

    def call(w: World, ids: dict):
        made = make(w, ids)
        w.console.submit(f"/admin/templates/yealink/{ACME_MADE}/delete", {})
        return made

    return call


def sign_out_and_in(w: World, ids: dict):
    response = w.console.submit("/admin/sign-out")
    assert w.console.sign_in("ann-manager").status_code == 302
    return response


CSV_ROW = "extension,name,secret\n{number},Mallory,Mallory-Secret-1\n"
TEMPLATE_BODY = "# {template}\n"
ACME_MADE = "acme-made"
STRONG = "Long-enough-Password-1"

ROUTES: dict[tuple[str, str], Route] = {
    # the console, as acme's manager
    ("admin_home", "GET"): Route(console_get("/")),
    ("admin.dashboard", "GET"): Route(console_get("/admin/")),
    ("admin.static", "GET"): Route(console_get("/admin/static/console.css")),
    ("admin.sign_in", "GET"): Route(console_get("/admin/sign-in")),
    ("admin.sign_in", "POST"): Route(
        console_post("/admin/sign-in", lambda ids: {"name": ids["admin"], "password": "x"})
    ),
    ("admin.sign_out", "POST"): Route(sign_out_and_in, same=False),
    ("admin.access", "GET"): Route(console_get("/admin/access")),
    ("admin.admin_add", "POST"): Route(
        console_post(
            "/admin/access/admins", lambda ids: {"name": ids["admin"], "password": STRONG, "tenant": ids["tenant"]}
        ),
        same=False,
    ),
    ("admin.admin_password", "POST"): Route(
        console_post("/admin/access/admins/{admin}/password", lambda ids: {"password": STRONG})
    ),
    ("admin.admin_remove", "POST"): Route(console_post("/admin/access/admins/{admin}/remove")),
    ("admin.admin_sign_in", "POST"): Route(
        console_post(
            "/admin/access/admins/{admin}/sign-in", lambda ids: {"email": "gus@globex.example", "two_factor": "on"}
        )
    ),
    # The access code step: the challenge is the session's (a signed-in manager's holds none), or
    # the app's JSON; a guessed one names no sign-in of any tenant.
    ("admin.access_code", "GET"): Route(console_get("/admin/sign-in/code")),
    ("admin.access_code", "POST"): Route(console_post("/admin/sign-in/code", lambda ids: {"code": ids["number"]})),
    ("admin.resend_code", "POST"): Route(console_post("/admin/sign-in/resend")),
    ("admin.token_create", "POST"): Route(
        console_post(
            "/admin/access/tokens", lambda ids: {"name": ids["token"], "scope": "read", "tenant": ids["tenant"]}
        ),
        same=False,
    ),
    ("admin.token_revoke", "POST"): Route(console_post("/admin/access/tokens/{token}/revoke")),
    ("admin.devices", "GET"): Route(console_get("/admin/devices?q={mac}")),
    ("admin.devices_import", "GET"): Route(console_get("/admin/devices/import")),
    ("admin.devices_import", "POST"): Route(
        console_post("/admin/devices/import", lambda ids: {"csv": "mac\n{mac}\n".format(**ids)}), same=False
    ),
    ("admin.device_add", "POST"): Route(console_post("/admin/devices", lambda ids: {"mac": ids["mac"]}), same=False),
    ("admin.device_admit", "POST"): Route(console_post("/admin/devices/{mac}/admit")),
    ("admin.device_login", "GET"): Route(console_get("/admin/devices/{mac}/login")),
    ("admin.device_login", "POST"): Route(
        console_post("/admin/devices/{mac}/login", lambda ids: {"extension": ids["number"], "address": "external"})
    ),
    ("admin.reset_credentials", "POST"): Route(console_post("/admin/devices/{mac}/reset-credentials")),
    ("admin.devices_admit_waiting", "POST"): Route(console_post("/admin/devices/admit-waiting")),
    ("admin.extensions", "GET"): Route(console_get("/admin/extensions?q={number}")),
    ("admin.extensions_weak", "GET"): Route(console_get("/admin/extensions/weak")),
    ("admin.extensions_sync_asterisk", "POST"): Route(
        console_post("/admin/extensions/sync-asterisk", lambda ids: {"dry_run": "true"})
    ),
    ("admin.secret_generate", "GET"): Route(console_get("/admin/secrets/generate"), same=False),  # random
    ("admin.extension_new", "GET"): Route(console_get("/admin/extensions/new")),
    ("admin.extension_new", "POST"): Route(
        console_post(
            "/admin/extensions/new", lambda ids: {"number": SHARED, "name": "Mallory", "secret": "Mallory-Secret-1"}
        )
    ),
    ("admin.extension_edit", "GET"): Route(console_get("/admin/extensions/{number}")),
    ("admin.extension_edit", "POST"): Route(
        console_post("/admin/extensions/{number}", lambda ids: {"name": "Mallory", "secret": "Mallory-Secret-1"})
    ),
    ("admin.extension_delete", "POST"): Route(console_post("/admin/extensions/{number}/delete")),
    ("admin.extension_user_password", "POST"): Route(console_post("/admin/extensions/{number}/user-password")),
    ("admin.extension_qr_refresh", "POST"): Route(console_post("/admin/extensions/{number}/qr")),
    ("admin.extension_qr_choices", "POST"): Route(
        console_post("/admin/extensions/{number}/qr-choices", lambda ids: {"qr_transport": "tls"})
    ),
    ("admin.extension_app_revoke", "POST"): Route(
        lambda w, ids: w.console.submit(f"/admin/extensions/{ids['number']}/apps/{w.globex_app}/revoke")
    ),
    ("admin.extensions_export", "GET"): Route(console_get("/admin/extensions/export.csv")),
    ("admin.extensions_import", "GET"): Route(console_get("/admin/extensions/import")),
    ("admin.extensions_import", "POST"): Route(
        console_post("/admin/extensions/import", lambda ids: {"csv": CSV_ROW.format(**ids)})
    ),
    ("admin.history_view", "GET"): Route(console_get("/admin/history?extension={number}&mac={mac}")),
    ("admin.history_export", "GET"): Route(console_get("/admin/history/export.csv?extension={number}")),
    ("admin.occupancy_view", "GET"): Route(console_get("/admin/occupancy")),
    ("admin.occupancy_export", "GET"): Route(console_get("/admin/occupancy/export.csv")),
    ("admin.unlock", "POST"): Route(
        lambda w, ids: [
            w.console.submit("/admin/lockouts/unlock", {"extension": ids["number"]}),
            w.console.submit("/admin/lockouts/unlock", {"mac": ids["mac"]}),
        ]
    ),
    ("admin.mappings", "GET"): Route(console_get("/admin/mappings?q={number}")),
    ("admin.mappings_live", "GET"): Route(console_get("/admin/mappings/live?q={mac}")),
    ("admin.force_logout", "POST"): Route(console_post("/admin/mappings/{mac}/logout")),
    ("admin.pin", "POST"): Route(
        console_post("/admin/pins", lambda ids: {"extension": ids["number"], "template": f"yealink/{ids['template']}"})
    ),
    ("admin.unpin", "POST"): Route(console_post("/admin/pins/{number}/yealink/delete")),
    ("admin.settings", "GET"): Route(console_get("/admin/settings")),
    ("admin.settings", "POST"): Route(
        console_post("/admin/settings", lambda ids: {"external_address": "pbx.mallory.example"}), same=False
    ),
    ("admin.setting_show", "POST"): Route(
        lambda w, ids: [
            w.console.submit("/admin/settings/provisioning_password/show"),
            w.console.submit("/admin/settings/admin_password/show"),
        ]
    ),
    ("admin.setting_unset", "POST"): Route(console_post("/admin/settings/external_address/unset")),
    ("admin.templates", "GET"): Route(console_get("/admin/templates")),
    ("admin.template_new", "GET"): Route(console_get("/admin/templates/new?brand=yealink")),
    ("admin.template_new", "POST"): Route(
        made_then_removed(
            console_post(
                "/admin/templates/new",
                lambda ids: {"brand": "yealink", "name": ACME_MADE, "body": TEMPLATE_BODY.format(**ids)},
            )
        ),
        same=False,
    ),
    ("admin.template_edit", "GET"): Route(console_get("/admin/templates/yealink/{template}")),
    ("admin.template_edit", "POST"): Route(
        console_post("/admin/templates/yealink/{template}", lambda ids: {"body": TEMPLATE_BODY.format(**ids)})
    ),
    ("admin.template_default", "POST"): Route(console_post("/admin/templates/yealink/{template}/default")),
    ("admin.template_delete", "POST"): Route(console_post("/admin/templates/yealink/{template}/delete")),
    ("admin.mail_view", "GET"): Route(console_get("/admin/mail")),
    ("admin.mail_retry", "POST"): Route(console_post("/admin/mail/{mail}/retry")),
    ("admin.mail_test", "POST"): Route(
        console_post("/admin/mail/test", lambda ids: {"recipient": "m@mallory.example"})
    ),
    ("admin.tenant_switch", "POST"): Route(console_post("/admin/tenant", lambda ids: {"tenant": ids["tenant"]})),
    ("admin.tenants", "GET"): Route(console_get("/admin/tenants")),
    ("admin.tenant_add", "POST"): Route(
        console_post("/admin/tenants", lambda ids: {"name": ids["tenant"], "sip_domain": "mallory.example.com"})
    ),
    ("admin.tenant_remove", "POST"): Route(console_post("/admin/tenants/{tenant}/remove")),
    # the REST API, with acme's token (every scope)
    ("api.openapi_document", "GET"): Route(api_call("get", "/openapi.json")),
    ("api.extensions_list", "GET"): Route(api_call("get", "/extensions?search={number}")),
    ("api.extensions_create", "POST"): Route(
        api_call("post", "/extensions", json={"number": SHARED, "name": "Mallory", "secret": "Mallory-Secret-1"})
    ),
    ("api.extensions_get", "GET"): Route(api_call("get", "/extensions/{number}")),
    ("api.extensions_user_password", "GET"): Route(api_call("get", "/extensions/{number}/user-password")),
    ("api.extensions_set_user_password", "POST"): Route(api_call("post", "/extensions/{number}/user-password")),
    ("api.extensions_update", "PATCH"): Route(api_call("patch", "/extensions/{number}", json={"name": "Mallory"})),
    ("api.extensions_delete", "DELETE"): Route(api_call("delete", "/extensions/{number}")),
    ("api.extensions_unlock", "POST"): Route(api_call("post", "/extensions/{number}/unlock")),
    ("api.extensions_qr", "GET"): Route(api_call("get", "/extensions/{number}/qr")),
    ("api.extensions_qr_refresh", "POST"): Route(api_call("post", "/extensions/{number}/qr")),
    ("api.extensions_apps", "GET"): Route(api_call("get", "/extensions/{number}/apps")),
    ("api.extensions_app_revoke", "POST"): Route(
        lambda w, ids: w.api("post", f"/extensions/{ids['number']}/apps/{w.globex_app}/revoke")
    ),
    ("api.extensions_export", "GET"): Route(api_call("get", "/extensions/export")),
    ("api.extensions_import", "POST"): Route(
        api_call("post", "/extensions/import?dry_run=true", data=CSV_ROW, content_type="text/csv")
    ),
    ("api.extensions_weak_secrets", "GET"): Route(api_call("get", "/extensions/weak-secrets")),
    ("api.extensions_weak_pins", "GET"): Route(api_call("get", "/extensions/weak-pins")),
    ("api.secrets_generate", "GET"): Route(api_call("get", "/secrets/generate"), same=False),  # random each time
    ("api.templates_list", "GET"): Route(api_call("get", "/templates?brand=yealink")),
    ("api.templates_get", "GET"): Route(api_call("get", "/templates/yealink/{template}")),
    ("api.templates_put", "PUT"): Route(
        made_then_removed(api_call("put", f"/templates/yealink/{ACME_MADE}", json={"body": TEMPLATE_BODY})), same=False
    ),
    ("api.templates_delete", "DELETE"): Route(api_call("delete", "/templates/yealink/{template}")),
    ("api.templates_set_default", "POST"): Route(api_call("post", "/templates/yealink/{template}/default")),
    ("api.pins_list", "GET"): Route(api_call("get", "/pins?extension={number}")),
    ("api.pins_put", "PUT"): Route(api_call("put", "/pins/{number}/yealink", json={"template": "{template}"})),
    ("api.pins_delete", "DELETE"): Route(api_call("delete", "/pins/{number}/yealink")),
    ("api.mappings_list", "GET"): Route(api_call("get", "/mappings?search={number}")),
    ("api.devices_list", "GET"): Route(api_call("get", "/devices?search={mac}")),
    ("api.devices_add", "POST"): Route(api_call("post", "/devices", json={"mac": "{mac}"}), same=False),
    ("api.devices_import", "POST"): Route(
        api_call("post", "/devices/import?dry_run=true", data="mac\n{mac}\n", content_type="text/csv"), same=False
    ),
    ("api.devices_admit_waiting", "POST"): Route(api_call("post", "/devices/admit-waiting")),
    ("api.sync_asterisk", "POST"): Route(api_call("post", "/sync/asterisk?dry_run=true")),
    ("api.devices_get", "GET"): Route(api_call("get", "/devices/{mac}")),
    ("api.devices_admit", "POST"): Route(api_call("post", "/devices/{mac}/admit")),
    ("api.devices_logout", "POST"): Route(api_call("post", "/devices/{mac}/logout")),
    ("api.devices_reset_credentials", "POST"): Route(api_call("post", "/devices/{mac}/reset-credentials")),
    ("api.devices_login", "POST"): Route(api_call("post", "/devices/{mac}/login", json={"extension": "{number}"})),
    ("api.devices_unlock", "POST"): Route(api_call("post", "/devices/{mac}/unlock")),
    ("api.lockouts_list", "GET"): Route(api_call("get", "/lockouts")),
    ("api.mail_list", "GET"): Route(api_call("get", "/mail")),
    ("api.mail_retry", "POST"): Route(api_call("post", "/mail/{mail}/retry")),
    ("api.mail_test", "POST"): Route(api_call("post", "/mail/test", json={"recipient": "m@mallory.example"})),
    ("api.settings_list", "GET"): Route(api_call("get", "/settings")),
    ("api.settings_get", "GET"): Route(
        lambda w, ids: [w.api("get", "/settings/external_address"), w.api("get", "/settings/admin_password")]
    ),
    ("api.settings_put", "PUT"): Route(
        api_call("put", "/settings/external_address", json={"value": "pbx.mallory.example"})
    ),
    ("api.settings_delete", "DELETE"): Route(api_call("delete", "/settings/external_address")),
    ("api.history_list", "GET"): Route(api_call("get", "/history?extension={number}")),
    ("api.history_export", "GET"): Route(api_call("get", "/history/export?mac={mac}")),
    ("api.occupancy_report", "GET"): Route(api_call("get", "/occupancy")),
    ("api.tenants_list", "GET"): Route(api_call("get", "/tenants")),
    ("api.tenants_create", "POST"): Route(
        api_call("post", "/tenants", json={"name": "{tenant}", "sip_domain": "mallory.example.com"})
    ),
    ("api.tenants_delete", "DELETE"): Route(api_call("delete", "/tenants/{tenant}")),
    # the phones' faces, as acme's guest phone
    ("phoneapp.login_form", "GET"): Route(phone_key),
    ("phoneapp.login_submit", "GET"): Route(phone_login),
    ("phoneapp.override_form", "GET"): Route(phone_override_form),
    ("phoneapp.login_override", "GET"): Route(phone_override),
    ("phoneapp.menu", "GET"): Route(phone_path("menu")),
    ("phoneapp.logout", "GET"): Route(phone_logout),
    ("phoneapp.configuration", "GET"): Route(phone_path("configuration/expired-state/1")),
    ("phoneapp.reloaded", "GET"): Route(phone_path("reloaded")),
    # A challenge is one phone's at one address, whatever tenant: a made-up one opens nothing.
    ("phoneapp.code_form", "GET"): Route(phone_path("login/external/access-code/no-such-challenge")),
    ("phoneapp.code_submit", "GET"): Route(phone_path("login/external/access-code/no-such-challenge/submit?code=1")),
    ("phoneapp.code_resend", "GET"): Route(phone_path("login/external/access-code/no-such-challenge/resend")),
    ("provision.provisioning_file", "GET"): Route(
        lambda w, ids: [
            provision("/provision/{mac}.cfg")(w, ids),
            provision("/provision/")(w, ids),
        ]
    ),
    ("provision.fast_file", "GET"): Route(provision("/provision/fast/{mac}/" + "0" * 32 + "/{mac}.cfg")),
    ("provision.tenant_path_file", "GET"): Route(provision("/provision/t/" + "0" * 32 + "/{mac}.cfg")),
    # The portal, with acme's console session (a manager is not a person of the portal: every page
    # sends them to its sign-in). A person's own isolation — another's or another tenant's phone,
    # 1001 of another tenant — is tests/test_portal.py's.
    ("portal.sign_in", "GET"): Route(console_get("/portal/sign-in")),
    ("portal.sign_in", "POST"): Route(
        console_post("/portal/sign-in", lambda ids: {"login": f"{ids['admin']}@{ids['tenant']}.example.com"}),
        same=False,  # the failures count against the address: the second sweep may meet the limit
    ),
    ("portal.sign_out", "POST"): Route(console_post("/portal/sign-out")),
    ("portal.access_code", "GET"): Route(console_get("/portal/sign-in/code")),
    ("portal.access_code", "POST"): Route(console_post("/portal/sign-in/code", lambda ids: {"code": ids["number"]})),
    ("portal.resend_code", "POST"): Route(console_post("/portal/sign-in/resend")),
    ("portal.home", "GET"): Route(console_get("/portal/")),
    ("portal.password", "GET"): Route(console_get("/portal/password")),
    ("portal.password", "POST"): Route(console_post("/portal/password")),
    ("portal.pin", "POST"): Route(console_post("/portal/pin", lambda ids: {"pin": "7193", "confirm": "7193"})),
    ("portal.log_out_there", "POST"): Route(console_post("/portal/phones/{mac}/logout")),
    ("portal.static", "GET"): Route(console_get("/portal/static/portal.css")),
    ("portal.softphone", "GET"): Route(console_get("/portal/app")),
    ("portal.qr_refresh", "POST"): Route(console_post("/portal/app/qr")),
    ("portal.qr_choices", "POST"): Route(console_post("/portal/app/choices", lambda ids: {"qr_transport": "tls"})),
    ("portal.app_revoke", "POST"): Route(lambda w, ids: w.console.submit(f"/portal/app/apps/{w.globex_app}/revoke")),
    # A password link names a user by id, under an HMAC (tests/test_password_links.py): a forged one
    # answers alike whatever id it names; "Forgot your password?" answers alike whatever the LOGIN.
    ("portal.password_link", "GET"): Route(console_get("/portal/password/{number}.7fffffff.AAAAAAAA." + "A" * 24)),
    ("portal.password_link", "POST"): Route(
        console_post(
            "/portal/password/{number}.7fffffff.AAAAAAAA." + "A" * 24,
            lambda ids: {"new": "x" * 12, "confirm": "x" * 12},
        )
    ),
    ("portal.forgot_password", "GET"): Route(console_get("/portal/forgot")),
    ("portal.forgot_password", "POST"): Route(
        console_post("/portal/forgot", lambda ids: {"login": f"{ids['admin']}@{ids['tenant']}.example.com"})
    ),
    # Softphone apps: a token is all a request names (tests/test_softphone.py); a forged one for
    # the first link (globex's, if any) answers as one for no link at all.
    ("softphone.sign_in_link", "GET"): Route(lambda w, ids: w.phone.get("/app/qr/1." + "A" * 24)),
    ("softphone.app_config", "GET"): Route(lambda w, ids: w.phone.get("/app/config/" + "A" * 43)),
    # Single sign-on (tests/test_sso.py): a tenant without it answers as one that does not exist;
    # a state or code names no tenant, and a forged one answers alike whoever forged it.
    ("sso.start", "GET"): Route(console_get("/sso/start?tenant={tenant}&redirect_uri=x")),
    ("sso.callback", "GET"): Route(console_get("/sso/callback?state={number}&code={number}")),
    ("sso.app_sign_in", "POST"): Route(
        lambda w, ids: w.console.client.post("/app/v1/sign-in/sso", json={"code": ids["number"]})
    ),
    ("portal.sso_landing", "GET"): Route(console_get("/portal/sign-in/sso?code={number}")),
    ("admin.sso_landing", "GET"): Route(console_get("/admin/sign-in/sso?code={number}")),
    # The app sign-in API: an app of acme's (acme's SIP domain, from acme's phone's address) naming
    # globex's server, globex's people by their full LOGIN and globex's secrets gets what it would
    # for names that exist nowhere (tests/test_app_api.py: the same username in two tenants).
    ("app_api.openapi_document", "GET"): Route(lambda w, ids: w.phone.get("/app/v1/openapi.json")),
    ("app_api.discover", "POST"): Route(
        app_post(
            "/app/v1/discover", lambda ids: {"sip_domain": "acme.example.com", "server": f"pbx.{ids['tenant']}.example"}
        )
    ),
    ("app_api.sign_in", "POST"): Route(
        app_post(
            "/app/v1/sign-in",
            lambda ids: {
                "sip_domain": "acme.example.com",
                "username": f"gus.globex@{ids['tenant']}.example.com",
                "password": "Globex-Secret-1",
            },
        )
    ),
    ("app_api.sign_in_code", "POST"): Route(
        app_post("/app/v1/sign-in/code", lambda ids: {"challenge": ids["number"], "code": ids["number"]})
    ),
    ("app_api.sign_in_resend", "POST"): Route(
        app_post("/app/v1/sign-in/resend", lambda ids: {"challenge": ids["number"]})
    ),
    ("app_api.change_password", "POST"): Route(
        app_post(
            "/app/v1/change-password",
            lambda ids: {
                "sip_domain": "acme.example.com",
                "username": ids["number"],
                "password": "Globex-Secret-2",
                "new_password": "a new password for it",
            },
        )
    ),
    # Operations: the installation's, no tenant's objects (counts move between the sweeps).
    ("health.healthz", "GET"): Route(console_get("/healthz")),
    ("health.readyz", "GET"): Route(console_get("/readyz")),
    ("metrics.scrape", "GET"): Route(console_get("/metrics"), same=False),
}

# Run last: the phone's failed logins write acme's history about the numbers asked for, which
# the history routes would otherwise show for one sweep and not the other; signing out last too.
LAST = ("phoneapp.", "provision.", "admin.sign_out")


def _order(key: tuple[str, str]) -> tuple[bool, tuple[str, str]]:
    return (key[0].startswith(LAST), key)


def test_every_route_is_in_the_table(app):
    routes = {
        (rule.endpoint, method) for rule in app.url_map.iter_rules() for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    missing = sorted(routes - set(ROUTES))
    assert not missing, f"routes with no row in ROUTES (say how tenant A calls each about B's objects): {missing}"
    assert not sorted(set(ROUTES) - routes), "rows for routes that no longer exist"


def test_no_route_reaches_another_tenant(world, session):
    before = globex_state(session)
    for key in sorted(ROUTES, key=_order):
        route = ROUTES[key]
        about_globex = _answers(world, route, GLOBEX, key)
        if route.same:  # (else the absent name would be made, and be there for the routes that follow)
            about_nothing = _answers(world, route, ABSENT, key)
            assert about_globex == about_nothing, (key, about_globex, about_nothing)
        assert globex_state(session) == before, f"{key} changed globex"


def test_the_same_number_in_both_tenants_reaches_only_acmes(world, session):
    before = globex_state(session)
    ids = GLOBEX | {"number": SHARED}
    for key in sorted(ROUTES, key=_order):
        _answers(world, ROUTES[key], ids, key)
        assert globex_state(session) == before, f"{key} about {SHARED} changed globex's {SHARED}"


def _answers(world: World, route: Route, ids: dict, key) -> list:
    """What each answer says, with the names asked about put back as placeholders; and no answer
    carries anything of globex the request did not name."""
    answered = route.call(world, ids)
    responses = answered if isinstance(answered, list) else [answered]
    named = set(ids.values())
    leaks = [leak for leak in world.leaks if leak not in named]
    # Not the tenant's name (in every name of globex's) nor a bare number (in any date or id), nor the
    # template's name: template names are per tenant, so acme's routes that make one make acme's own
    # of that name (globex's body stays among the leaks).
    leaks += [
        value for name, value in GLOBEX.items() if value not in named and name not in ("tenant", "number", "template")
    ]
    views = []
    for response in responses:
        assert response.status_code < 500, (key, response.status_code)
        body = response.get_data(as_text=True)
        shown = body
        if response.status_code in (301, 302, 303):
            shown = world.console.get(response.headers["Location"]).get_data(as_text=True)
        for leak in leaks:
            assert leak.lower() not in shown.lower(), f"{key} showed {leak!r}"
        views.append((response.status_code, _normalized(response, shown, ids)))
    return views


_VOLATILE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?"), "<time>"),
    (re.compile(r"[A-Za-z0-9_.\-]{24,}"), "<token>"),  # CSRF tokens, screen states, nonces
]


def _normalized(response, shown: str, ids: dict) -> str:
    if response.is_json:
        shown = json.dumps(response.json, sort_keys=True)
    elif "html" in (response.content_type or ""):
        document = html.fromstring(shown) if shown.strip() else None
        main = document.find(".//main") if document is not None else None
        shown = (
            " ".join((main if main is not None else document).text_content().split()) if document is not None else ""
        )
    for name, value in sorted(ids.items(), key=lambda item: -len(item[1])):
        shown = shown.replace(value, "{" + name + "}")
        if name == "mac":
            shown = shown.replace(value.upper(), "{mac}")
            shown = shown.replace(":".join(value[i : i + 2] for i in range(0, 12, 2)), "{mac}")
    for pattern, placeholder in _VOLATILE:
        shown = pattern.sub(placeholder, shown)
    return shown

"""A person's softphone app through the console, the portal and the REST API (HTTP, the Flask test
client): the QR code shown and refreshed (the old URL dead for an app at once), the QR choices,
the signed-in apps revoked (their configuration URL then stops them). Refusals change nothing:
another tenant's extension, another person's app, a choice that does not exist. No page, answer
or history line carries the SIP secret."""

from __future__ import annotations

import pytest
from lxml import etree, html
from sqlalchemy import select

from hotdesk import create_app, people, tenancy
from hotdesk.admin import accounts
from hotdesk.admin import extensions as admin_extensions
from hotdesk.config import Config
from hotdesk.directory import ExtensionData
from hotdesk.models import AppDevice, Event, EventKind, SignInLink, User
from tests.test_console import PASSWORD, Console
from tests.test_portal import Portal

SECRET = "Str0ng-Secret-1001"
BOB_SECRET = "Str0ng-Secret-1002"
ACME_SECRET = "Acme-Secret-1001x"
BASE = "https://hotdesk.example.com"
LINPHONE = {"User-Agent": "Linphone-Desktop/5.1.65 (Debian) LinphoneSDK/5.1.65", "Accept": "*/*"}
NS = {"lp": "http://www.linphone.org/xsds/lpconfig.xsd"}
PERSON_PASSWORD = "a long enough passphrase"
SECRETS = (SECRET, BOB_SECRET, ACME_SECRET)


@pytest.fixture(autouse=True)
def _push_request_context():
    """As in tests/test_console.py: each request its own `g` (and CSRF token), as a real server gives."""


@pytest.fixture
def registry(app):
    return app.extensions["hotdesk"].settings


def person(session, registry, number, name, secret, username, tenant_id=1):
    """An extension with its user account, whose password is chosen (nothing to change first)."""
    extension = admin_extensions.create(
        session,
        ExtensionData(number, name, secret, username=username),
        "test",
        registry.values(session, tenant_id),
        tenant_id=tenant_id,
    )
    people.set_password(session, extension.user, PERSON_PASSWORD, temporary=False)
    return extension.user


@pytest.fixture
def world(app, session, registry):
    """Alice (1001) and Bob (1002) of the default tenant; acme's Ann, also 1001; an app of each."""
    registry.set(session, "external_address", "pbx.example.com")
    registry.set(session, "internal_address", "10.1.0.5")
    registry.set(session, "phone_base_url", BASE)
    person(session, registry, "1001", "Alice Martin", SECRET, "alice")
    person(session, registry, "1002", "Bob Stone", BOB_SECRET, "bob")
    acme = tenancy.add(session, registry, "acme", "acme.example.com", "test").tenant
    registry.set(session, "external_address", "pbx.acme.example", acme.id)
    person(session, registry, "1001", "Ann Acme", ACME_SECRET, "ann", acme.id)
    accounts.add_admin(session, "root", PASSWORD, "test")
    accounts.add_admin(session, "ann-manager", PASSWORD, "test", tenant_id=acme.id)
    session.commit()
    return acme


def signed_in_app(client, url: str) -> str:
    """An app (Linphone) fetches the QR URL: its own configuration URL, path only."""
    answer = client.get(url.removeprefix(BASE), headers=LINPHONE)
    assert answer.status_code == 200, answer.data
    return entries(answer.data)["misc"]["config-uri"].removeprefix(BASE)


def entries(xml: bytes) -> dict[str, dict[str, str]]:
    root = etree.fromstring(xml)
    return {
        section.get("name"): {entry.get("name"): entry.text or "" for entry in section.findall("lp:entry", NS)}
        for section in root.findall("lp:section", NS)
    }


def user(session, username) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.username == username))


def apps_of(session, username) -> list[AppDevice]:
    return list(session.scalars(select(AppDevice).where(AppDevice.user_id == user(session, username).id)))


def no_secret_in(*responses):
    for response in responses:
        body = response.get_data(as_text=True)
        assert not any(secret in body for secret in SECRETS), response.request.path


def no_secret_in_history(session):
    session.expire_all()
    for event in session.scalars(select(Event)):
        row = " ".join(str(getattr(event, column.key)) for column in Event.__table__.columns)
        assert not any(secret in row for secret in SECRETS), row


# the REST API


def token(session, *scopes, tenant_id=None):
    made = accounts.create_token(session, f"t-{len(scopes)}-{tenant_id}", "test", scopes=scopes, tenant_id=tenant_id)
    session.commit()
    return {"Authorization": f"Bearer {made.secret}"}


def test_the_api_shows_the_qr_url_to_the_secrets_scope_only_and_a_refresh_kills_the_old_one(client, session, world):
    plain = token(session, "read", "write")
    refused = client.get("/api/v1/extensions/1001/qr", headers=plain)
    assert refused.status_code == 403 and "secrets scope" in refused.json["error"]
    assert client.post("/api/v1/extensions/1001/qr", headers=plain).status_code == 403
    assert session.scalar(select(SignInLink.id)) is None  # refused before any link was made

    secrets_ = token(session, "read", "write", "secrets")
    shown = client.get("/api/v1/extensions/1001/qr", headers=secrets_)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert set(shown.json) == {"url", "expires_at", "warning"} and shown.json["url"].startswith(BASE + "/app/qr/")
    assert shown.json["warning"] is None
    assert client.get("/api/v1/extensions/1001/qr", headers=secrets_).json == shown.json  # the same until used
    refreshed = client.post("/api/v1/extensions/1001/qr", headers=secrets_)
    assert refreshed.status_code == 200 and refreshed.json["url"] != shown.json["url"]
    assert client.get(shown.json["url"].removeprefix(BASE), headers=LINPHONE).status_code == 404
    config = client.get(refreshed.json["url"].removeprefix(BASE), headers=LINPHONE)
    assert entries(config.data)["auth_info_0"]["passwd"] == SECRET  # the app, and only the app, gets it
    no_secret_in(shown, refreshed)
    [event] = session.scalars(select(Event).where(Event.kind == EventKind.QR_REFRESHED.value))
    assert (event.extension, event.actor) == ("1001", "api:t-3-None")


def test_the_api_lists_and_revokes_apps(client, session, world):
    headers = token(session, "read", "write", "secrets")
    config_uri = signed_in_app(client, client.get("/api/v1/extensions/1001/qr", headers=headers).json["url"])
    [listed] = client.get("/api/v1/extensions/1001/apps", headers=headers).json["items"]
    assert listed["label"].startswith("Linphone-Desktop/5.1.65") and listed["revoked_at"] is None
    assert set(listed) == {"id", "label", "signed_in_at", "last_seen_at", "last_address", "revoked_at"}
    assert client.get("/api/v1/extensions/1002/apps", headers=headers).json == {"items": []}

    # Bob's extension does not reach Alice's app; nor does a made-up id.
    for path in (
        f"/api/v1/extensions/1002/apps/{listed['id']}/revoke",
        "/api/v1/extensions/1001/apps/99999999999/revoke",
        "/api/v1/extensions/1001/apps/abc/revoke",
        "/api/v1/extensions/1001/apps/-1/revoke",
    ):
        answer = client.post(path, headers=headers)
        assert answer.status_code == 404 and answer.is_json, path
    assert apps_of(session, "alice")[0].revoked_at is None

    revoked = client.post(f"/api/v1/extensions/1001/apps/{listed['id']}/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.json["revoked_at"] is not None
    stop = entries(client.get(config_uri, headers=LINPHONE).data)
    assert stop["proxy_0"]["reg_sendregister"] == "0" and stop["auth_info_0"]["passwd"] == ""
    again = client.post(f"/api/v1/extensions/1001/apps/{listed['id']}/revoke", headers=headers)
    assert again.json["revoked_at"] == revoked.json["revoked_at"]
    assert len(session.scalars(select(Event).where(Event.kind == EventKind.APP_REVOKED.value)).all()) == 1
    read_only = token(session, "read")
    assert client.post(f"/api/v1/extensions/1001/apps/{listed['id']}/revoke", headers=read_only).status_code == 403


def test_the_api_sets_the_qr_choices_with_the_extension_and_refuses_unknown_ones(client, session, world):
    headers = token(session, "read", "write", "secrets")
    changed = client.patch(
        "/api/v1/extensions/1001", json={"qr_transport": "TCP", "qr_address": "internal"}, headers=headers
    )
    assert changed.status_code == 200
    assert (changed.json["qr_transport"], changed.json["qr_address"]) == ("tcp", "internal")
    config = entries(
        client.get(
            client.get("/api/v1/extensions/1001/qr", headers=headers).json["url"].removeprefix(BASE), headers=LINPHONE
        ).data
    )
    assert config["proxy_0"]["reg_proxy"] == "<sip:10.1.0.5:5063;transport=tcp>"

    for body, field in (
        ({"qr_transport": "sctp", "name": "Renamed"}, "QR transport"),
        ({"qr_address": "moon"}, "QR address"),
    ):
        refused = client.patch("/api/v1/extensions/1001", json=body, headers=headers)
        assert refused.status_code == 422 and field in refused.json["error"], refused.json
    assert client.patch("/api/v1/extensions/1001", json={"qr_transport": 5}, headers=headers).status_code == 400
    alice = user(session, "alice")
    assert (alice.qr_transport, alice.qr_address, alice.extension.name) == ("tcp", "internal", "Alice Martin")

    only_one = client.patch("/api/v1/extensions/1001", json={"qr_transport": None}, headers=headers)
    assert (only_one.json["qr_transport"], only_one.json["qr_address"]) == (None, "internal")  # left out: kept


def test_another_tenants_extension_is_404_on_every_softphone_route(client, session, world):
    acme_token = token(session, "read", "write", "secrets", tenant_id=world.id)
    own = client.get("/api/v1/extensions/1001/qr", headers=acme_token)
    assert own.status_code == 200  # acme's own 1001: Ann's
    signed_in_app(client, own.json["url"])
    default_tenant = token(session, "read", "secrets")
    signed_in_app(client, client.get("/api/v1/extensions/1001/qr", headers=default_tenant).json["url"])
    alice_app = apps_of(session, "alice")[0].id
    for method, path in (
        ("get", "/api/v1/extensions/1002/qr"),
        ("post", "/api/v1/extensions/1002/qr"),
        ("get", "/api/v1/extensions/1002/apps"),
        ("post", f"/api/v1/extensions/1002/apps/{alice_app}/revoke"),
        ("patch", "/api/v1/extensions/1002"),
    ):
        answer = getattr(client, method)(path, headers=acme_token, json={"qr_transport": "tls"})
        assert answer.status_code == 404 and answer.json["error"] == "no extension 1002", (method, path)
    # acme's 1001 is Ann's: Alice's app is not hers.
    crossed = client.post(f"/api/v1/extensions/1001/apps/{alice_app}/revoke", headers=acme_token)
    assert crossed.status_code == 404 and "alice" not in crossed.get_data(as_text=True).lower()
    assert apps_of(session, "alice")[0].revoked_at is None and user(session, "bob").qr_transport is None


# the console


def extension_page(console, number="1001"):
    response = console.get(f"/admin/extensions/{number}")
    assert response.status_code == 200
    no_secret_in(response)
    return html.fromstring(response.data)


def qr_url(page) -> str:
    [link] = page.xpath("//a[@id='qr-url']")
    assert link.text_content() == link.get("href")
    return link.get("href")


def test_the_console_shows_the_qr_a_click_refreshes_it_and_apps_are_revoked(client, session, world):
    console = Console(client)
    assert console.sign_in("root").status_code == 302
    page = extension_page(console)
    url = qr_url(page)
    assert page.xpath("//form[@id='qr-refresh']//button/*[local-name()='svg']")
    assert page.xpath("//form[@id='qr-refresh']/@action") == ["/admin/extensions/1001/qr"]
    assert qr_url(extension_page(console)) == url  # shown again: the same

    clicked = console.post("/admin/extensions/1001/qr", token_from=page)
    assert clicked.status_code == 302 and clicked.headers["Location"] == "/admin/extensions/1001#softphone"
    page = extension_page(console)
    new = qr_url(page)
    assert new != url and "New QR code for alice" in page.text_content()
    assert client.get(url.removeprefix(BASE), headers=LINPHONE).status_code == 404
    config_uri = signed_in_app(client, new)
    assert console.post("/admin/extensions/1001/qr").status_code == 400  # no CSRF token: nothing refreshed
    assert qr_url(extension_page(console)) != new  # used up: the next one is shown

    [row] = extension_page(console).xpath("//table[@id='apps']/tbody/tr")
    assert "Linphone-Desktop" in row.text_content() and "active" in row.text_content()
    app_id = row.get("data-app")
    assert console.post(f"/admin/extensions/1002/apps/{app_id}/revoke", token_from=page).status_code == 302
    assert "bob has no app" in extension_page(console, "1002").text_content()
    assert apps_of(session, "alice")[0].revoked_at is None
    assert console.post(f"/admin/extensions/1001/apps/{app_id}/revoke", token_from=page).status_code == 302
    page = extension_page(console)
    assert "revoked" in page.xpath("//table[@id='apps']/tbody/tr")[0].text_content()
    assert page.xpath("//table[@id='apps']//button") == []
    assert entries(client.get(config_uri, headers=LINPHONE).data)["proxy_0"]["reg_sendregister"] == "0"
    no_secret_in_history(session)


def test_the_console_qr_choices_refuse_what_does_not_exist(client, session, world):
    console = Console(client)
    assert console.sign_in("root").status_code == 302
    page = extension_page(console)
    assert page.xpath("//select[@name='qr_transport']/option[@selected]/text()") == ["tenant default (UDP)"]
    form = {"qr_transport": "tls", "qr_address": "internal"}
    assert console.post("/admin/extensions/1001/qr-choices", form, token_from=page).status_code == 302
    page = extension_page(console)
    assert page.xpath("//select[@name='qr_transport']/option[@selected]/@value") == ["tls"]
    assert page.xpath("//select[@name='qr_address']/option[@selected]/@value") == ["internal"]
    [event] = session.scalars(select(Event).where(Event.detail.startswith("QR choices of alice")))
    assert event.actor == "root"

    refused = console.post("/admin/extensions/1001/qr-choices", {"qr_transport": "sctp"}, token_from=page)
    assert refused.status_code == 302
    assert "QR transport is one of udp, tcp, tls" in extension_page(console).text_content()
    assert (user(session, "alice").qr_transport, user(session, "alice").qr_address) == ("tls", "internal")


def test_a_tenant_manager_reaches_only_their_tenants_softphones(client, session, world):
    console = Console(client)
    assert console.sign_in("ann-manager").status_code == 302
    page = extension_page(console)  # acme's 1001: Ann's
    assert "pbx.acme.example" not in qr_url(page)  # the URL names hotdesk, not the PBX
    assert console.get("/admin/extensions/1002").status_code == 404
    signed_in_app(client, qr_url(extension_page(console)))
    headers = token(session, "read", "secrets")
    signed_in_app(client, client.get("/api/v1/extensions/1001/qr", headers=headers).json["url"])
    alice_app = apps_of(session, "alice")[0].id
    before = [(link.id, link.revoked_at) for link in session.scalars(select(SignInLink).order_by(SignInLink.id))]
    for path, form in (
        ("/admin/extensions/1002/qr", {}),
        ("/admin/extensions/1002/qr-choices", {"qr_transport": "tls"}),
        (f"/admin/extensions/1002/apps/{alice_app}/revoke", {}),
        (f"/admin/extensions/1001/apps/{alice_app}/revoke", {}),  # acme's 1001 with Alice's app
    ):
        assert console.post(path, form, token_from=page).status_code == 302
    session.expire_all()
    assert [
        (link.id, link.revoked_at) for link in session.scalars(select(SignInLink).order_by(SignInLink.id))
    ] == before
    assert apps_of(session, "alice")[0].revoked_at is None and user(session, "bob").qr_transport is None


def test_a_setting_of_the_apps_account_tells_the_admin_nothing_needs_a_refresh(client, session, world):
    console = Console(client)
    assert console.sign_in("root").status_code == 302
    page = console.page("/admin/settings")
    changed = console.post(
        "/admin/settings", {"qr_transport": "tls", "external_address": "pbx2.example.com"}, token_from=page
    )
    assert changed.status_code == 302
    shown = console.get("/admin/settings").get_data(as_text=True)
    assert (
        "Softphone apps (external_address, qr_transport): every app signed in gets the change at its next start"
        in shown
    )
    assert "no QR code needs a refresh" in shown
    assert console.post("/admin/settings", {"timezone": "Europe/Paris"}, token_from=page).status_code == 302
    assert "Softphone apps" not in console.get("/admin/settings").get_data(as_text=True)
    # ...and it is so: the QR code shown before the change gives the new account.
    url = qr_url(extension_page(console))
    config = entries(client.get(url.removeprefix(BASE), headers=LINPHONE).data)
    assert config["proxy_0"]["reg_proxy"] == "<sip:pbx2.example.com:5061;transport=tls>"


# the portal


@pytest.fixture
def alice_portal(client, world):
    portal = Portal(client)
    assert portal.sign_in("alice", PERSON_PASSWORD).status_code == 302
    return portal


def my_page(portal):
    response = portal.get("/portal/app")
    assert response.status_code == 200, response.data[:300]
    no_secret_in(response)
    return html.fromstring(response.data)


def test_a_person_refreshes_their_qr_and_revokes_their_own_app(client, session, alice_portal):
    home = alice_portal.page()
    assert home.xpath("//a[@id='softphone-link']/@href") == ["/portal/app"]
    page = my_page(alice_portal)
    url = qr_url(page)
    assert page.xpath("//a[@id='open-in-linphone']/@href") == [f"linphone-config:{url}"]
    assert alice_portal.post("/portal/app/qr", token_from=page).status_code == 302
    page = my_page(alice_portal)
    new = qr_url(page)
    assert new != url and "New QR code" in page.text_content()
    assert client.get(url.removeprefix(BASE), headers=LINPHONE).status_code == 404
    config_uri = signed_in_app(client, new)

    [card] = my_page(alice_portal).xpath("//article[@data-app]")
    assert alice_portal.post(f"/portal/app/apps/{card.get('data-app')}/revoke", token_from=page).status_code == 302
    assert "App revoked" in my_page(alice_portal).text_content()
    assert entries(client.get(config_uri, headers=LINPHONE).data)["proxy_0"]["reg_sendregister"] == "0"
    recent = alice_portal.page().xpath("//ul[@id='recent']")[0].text_content()
    assert "An app revoked by alice" in recent and "An app signed in with your QR code" in recent
    assert "QR code refreshed by alice" in recent
    [revoked] = session.scalars(select(Event).where(Event.kind == EventKind.APP_REVOKED.value))
    assert (revoked.actor, revoked.ip, revoked.extension) == ("alice", "192.0.2.7", "1001")
    no_secret_in_history(session)


def test_a_person_cannot_touch_anyone_elses_app(client, session, alice_portal, world):
    headers = token(session, "read", "secrets")
    signed_in_app(client, client.get("/api/v1/extensions/1002/qr", headers=headers).json["url"])  # Bob's
    acme = token(session, "read", "secrets", tenant_id=world.id)
    signed_in_app(client, client.get("/api/v1/extensions/1001/qr", headers=acme).json["url"])  # acme's Ann
    page = my_page(alice_portal)
    assert page.xpath("//article[@data-app]") == [] and "No app has signed in" in page.text_content()
    for other in (apps_of(session, "bob")[0], apps_of(session, "ann")[0]):
        refused = alice_portal.post(f"/portal/app/apps/{other.id}/revoke", token_from=page)
        assert refused.status_code == 404 and "You have no such app" in refused.get_data(as_text=True)
    assert alice_portal.post("/portal/app/apps/99999999999/revoke", token_from=page).status_code == 404
    assert alice_portal.post("/portal/app/apps/abc/revoke", token_from=page).status_code == 404
    assert [app.revoked_at for app in (*apps_of(session, "bob"), *apps_of(session, "ann"))] == [None, None]
    assert not session.scalars(select(Event).where(Event.kind == EventKind.APP_REVOKED.value)).all()


def test_a_person_sets_their_qr_choices_and_a_wrong_one_changes_nothing(client, session, alice_portal):
    page = my_page(alice_portal)
    assert (
        alice_portal.post("/portal/app/choices", {"qr_transport": "tcp", "qr_address": ""}, token_from=page).status_code
        == 302
    )
    assert (user(session, "alice").qr_transport, user(session, "alice").qr_address) == ("tcp", None)
    page = my_page(alice_portal)
    assert page.xpath("//select[@name='qr_transport']/option[@selected]/@value") == ["tcp"]
    refused = alice_portal.post("/portal/app/choices", {"qr_transport": "udp", "qr_address": "moon"}, token_from=page)
    assert refused.status_code == 302
    assert "QR address one of external, internal" in my_page(alice_portal).text_content()
    assert (user(session, "alice").qr_transport, user(session, "alice").qr_address) == ("tcp", None)
    config = entries(client.get(qr_url(page).removeprefix(BASE), headers=LINPHONE).data)
    assert config["proxy_0"]["reg_proxy"] == "<sip:pbx.example.com:5063;transport=tcp>"
    assert user(session, "bob").qr_transport is None


def test_without_a_server_address_the_person_is_told_and_nothing_breaks(client, session, registry, alice_portal):
    registry.set(session, "external_address", "")
    session.commit()
    page = my_page(alice_portal)
    assert "No QR code: external_address is not set" in page.xpath("//*[@id='qr-problem']")[0].text_content()
    assert page.xpath("//form[@id='qr-refresh']") == []
    refused = alice_portal.post("/portal/app/qr", token_from=page)
    assert refused.status_code == 302 and "external_address is not set" in my_page(alice_portal).text_content()
    assert session.scalar(select(SignInLink.id)) is None


def test_a_console_on_a_listener_of_its_own_names_phone_base_url_not_its_own_address(
    database_url, engine, notifier, tmp_path, session, registry, world
):
    """With HOTDESK_ADMIN_BIND the console's address serves no /app/: a QR naming it would give an
    app nothing. Without phone_base_url the admin is told so; with it, the QR names it."""
    admin_only = create_app(
        Config(database_url=database_url, secret_key="test-secret-key", trusted_proxies=0, instance_path=tmp_path),
        notifier=notifier,
        faces="admin",
    )
    registry.set(session, "phone_base_url", "")
    session.commit()
    client = admin_only.test_client()
    console = Console(client)
    assert console.sign_in("root").status_code == 302
    page = extension_page(console)
    assert page.xpath("//*[@id='qr-url']") == []
    assert "phone_base_url is not set" in page.xpath("//*[@id='qr-problem']")[0].text_content()
    registry.set(session, "phone_base_url", "https://phones.example.com")
    session.commit()
    page = extension_page(console)
    assert qr_url(page).startswith("https://phones.example.com/app/qr/") and page.xpath("//*[@id='qr-warning']") == []

    # An https address that names an IP: Linphone refuses the certificate, so the admin is told.
    registry.set(session, "phone_base_url", "https://192.0.2.10:8443")
    session.commit()
    page = extension_page(console)
    assert qr_url(page).startswith("https://192.0.2.10:8443/app/qr/")
    assert "Linphone" in page.xpath("//*[@id='qr-warning']")[0].text_content()
    admin_only.extensions["hotdesk"].engine.dispose()


def test_the_cli_and_the_api_warn_of_an_https_address_that_names_an_ip(run, client, session, registry, world):
    registry.set(session, "phone_base_url", "https://[2001:db8::5]")
    session.commit()
    shown = client.get("/api/v1/extensions/1001/qr", headers=token(session, "read", "secrets"))
    assert shown.json["url"].startswith("https://[2001:db8::5]/app/qr/") and "IP address" in shown.json["warning"]
    url, warning = run("users", "qr", "alice").splitlines()  # the URL on stdout, the warning on stderr
    assert url.startswith("https://[2001:db8::5]/app/qr/")
    assert warning.startswith("warning: https://[2001:db8::5] names an IP address")
    registry.set(session, "phone_base_url", "http://192.0.2.10:8080")  # plain http: no certificate to refuse
    session.commit()
    assert "warning" not in run("users", "qr", "alice")

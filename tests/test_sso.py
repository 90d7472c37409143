"""Single sign-on against a real OpenID provider (Node's certified oidc-provider, on loopback, with
its own keys, client and accounts): an app is handed its account, the portal and the console land
signed in; a forged, expired, misaddressed or replayed answer, a stranger, a return address off the
list and a tampered state each get nothing, and each is in the tenant's history. The provider
rotating its keys does not stop anyone."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import select, update

from hotdesk import sso
from hotdesk.app import create_app
from hotdesk.config import Config
from hotdesk.models import Event, EventKind, SsoSignIn, Tenant, utcnow
from tests import tools
from tests.oidc_provider import OpenIDProvider, new_key

SECRET = "Str0ng-Secret-1001"
CLIENT_SECRET = "the-client-secret-of-hotdesk-at-the-provider"
APP_URI = "com.example.softphone:/sso"
HOTDESK = "http://localhost"  # the Flask test client's address: hotdesk's base URL here
CLIENT = {
    "client_id": "hotdesk",
    "client_secret": CLIENT_SECRET,
    "redirect_uris": [f"{HOTDESK}/sso/callback"],
    "response_types": ["code"],
    "grant_types": ["authorization_code"],
}
ACCOUNTS = {
    "alice": {"email": "Alice.Martin@acme.example", "email_verified": True, "preferred_username": "alice"},
    "mallory": {"email": "mallory@elsewhere.example", "email_verified": True},
    "carol": {"email": "carol@acme.example", "email_verified": True},
}


@pytest.fixture(scope="module")
def provider_process(tmp_path_factory):
    provider = OpenIDProvider(tmp_path_factory.mktemp("oidc"), [CLIENT], ACCOUNTS).start()
    yield provider
    provider.stop()


@pytest.fixture
def provider(provider_process):
    sso.forget_providers()
    provider_process.tamper("none")
    yield provider_process
    provider_process.tamper("none")


def set_up_acme(run, issuer: str) -> None:
    """Tenant acme, Alice's extension and account, and single sign-on at `issuer`."""
    run("tenants", "add", "acme", "--sip-domain", "acme.example")
    run("extensions", "add", "1001", "--name", "Alice Martin", "--secret", SECRET, "--username", "alice",
        "--email", "alice.martin@acme.example", "--tenant", "acme")  # fmt: skip
    run("settings", "set", "external_address", "pbx.acme.example", "--tenant", "acme")
    for name, value in [
        ("oidc_issuer", issuer),
        ("oidc_client_id", "hotdesk"),
        ("oidc_client_secret", CLIENT_SECRET),
        ("app_redirect_uris", f"https://app.example.com/sso {APP_URI}"),
    ]:
        run("settings", "set", name, value, "--tenant", "acme")


@pytest.fixture
def acme(run, provider):
    set_up_acme(run, provider.issuer)
    return provider


def start_app_sign_in(client, redirect_uri=APP_URI, tenant="acme"):
    return client.get(f"/sso/start?tenant={tenant}&redirect_uri={quote(redirect_uri, safe='')}")


def at_provider(client, provider, login, start):
    """The browser began at hotdesk (`start`), signs in at the provider as `login`, comes back."""
    assert start.status_code == 302, start.data
    assert start.headers["Location"].startswith(provider.issuer + "/auth?")
    back = provider.sign_in(start.headers["Location"], login, HOTDESK + "/")
    return client.get(back.removeprefix(HOTDESK))


def code_of(answer) -> str:
    assert answer.status_code == 302, answer.data
    location = answer.headers["Location"]
    assert location.startswith(APP_URI + "?code="), location
    return parse_qs(urlsplit(location).query)["code"][0]


def history(session, *kinds):
    session.expire_all()
    return list(session.scalars(select(Event).where(Event.kind.in_([k.value for k in kinds])).order_by(Event.id)))


def failures(session):
    return [event.detail for event in history(session, EventKind.SSO_FAILED)]


def acme_id(session):
    return session.scalar(select(Tenant.id).where(Tenant.name == "acme"))


def test_the_app_signs_in_and_receives_its_account(acme, app, session):
    client = app.test_client()
    found = client.post("/app/v1/discover", json={"sip_domain": "acme.example", "server": "pbx.acme.example"})
    assert found.status_code == 200
    methods = found.get_json()["methods"]
    assert methods == [{"type": "password"}, {"type": "oidc", "start_url": f"{HOTDESK}/sso/start?tenant=acme"}]
    start = client.get(f"{methods[1]['start_url']}&redirect_uri={quote(APP_URI, safe='')}")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] and query["nonce"]
    assert query["redirect_uri"] == [f"{HOTDESK}/sso/callback"] and query["client_id"] == ["hotdesk"]

    back = at_provider(client, acme, "alice", start)
    assert back.status_code == 302, failures(session)
    assert client.get_cookie("hotdesk_sso") is None  # the state is done with: the browser forgets it
    code = code_of(back)
    answer = client.post("/app/v1/sign-in/sso", json={"code": code}, headers={"User-Agent": "Softphone/1.0"})
    assert answer.status_code == 200, answer.data
    account = answer.get_json()["account"]
    assert account["username"] == "1001" and account["password"] == SECRET
    assert account["sip_domain"] == "acme.example" and account["server"] == "pbx.acme.example"
    assert account["login"] == "alice@acme.example"
    provisioning = account["provisioning_url"]
    assert provisioning.startswith(f"{HOTDESK}/app/config/")
    config = client.get(provisioning.removeprefix(HOTDESK), headers={"Accept": "application/json"})
    assert config.status_code == 200 and config.get_json()["account"]["password"] == SECRET

    signed_in = history(session, EventKind.SSO_SIGNIN, EventKind.APP_SIGNIN)
    assert [(e.kind, e.tenant_id, e.extension) for e in signed_in] == [
        ("sso_signin", acme_id(session), "1001"),
        ("app_signin", acme_id(session), "1001"),
    ]
    assert "alice.martin@acme.example" in signed_in[0].detail.lower()
    every_detail = " ".join(str(e.detail) for e in history(session, *EventKind))
    assert code not in every_detail and "code=" not in every_detail


def test_a_hotdesk_code_works_once_and_for_two_minutes(acme, app, session):
    client = app.test_client()
    code = code_of(at_provider(client, acme, "alice", start_app_sign_in(client)))
    assert client.post("/app/v1/sign-in/sso", json={"code": code}).status_code == 200
    replayed = client.post("/app/v1/sign-in/sso", json={"code": code})
    assert replayed.status_code == 401 and replayed.get_json() == {"error": "invalid_code"}
    assert "account" not in replayed.get_json()

    late = code_of(at_provider(client, acme, "alice", start_app_sign_in(client)))
    session.execute(update(SsoSignIn).values(code_expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert client.post("/app/v1/sign-in/sso", json={"code": late}).status_code == 401
    assert client.post("/app/v1/sign-in/sso", json={"code": "forged-" + late[7:]}).status_code == 401
    assert client.post("/app/v1/sign-in/sso", data="code").status_code == 400
    assert failures(session) == [
        "app: sign-in code used already or expired",
        "app: sign-in code used already or expired",
        "app: unknown sign-in code",
    ]


def test_a_return_address_off_the_list_is_refused_before_the_provider(acme, app, session):
    client = app.test_client()
    for uri in ("https://evil.example/sso", "com.example.softphone:/sso/../x", "https://app.example.com/sso?x=1", ""):
        answer = start_app_sign_in(client, uri)
        assert answer.status_code == 400 and "Location" not in answer.headers
        assert "hotdesk_sso" not in answer.headers.get("Set-Cookie", "")
    assert session.scalar(select(SsoSignIn.id)) is None  # nothing begun
    assert failures(session)[0] == "app: redirect URI 'https://evil.example/sso' is not in app_redirect_uris"
    assert {e.tenant_id for e in history(session, EventKind.SSO_FAILED)} == {acme_id(session)}
    assert start_app_sign_in(client, "https://app.example.com/sso").status_code == 302  # on the list


def test_an_unknown_person_gets_no_account(acme, run, app, session):
    # Mallory is a person of another tenant: acme's provider does not speak for globex.
    run("tenants", "add", "globex", "--sip-domain", "globex.example")
    run("extensions", "add", "2001", "--name", "Mallory", "--secret", SECRET, "--username", "mallory",
        "--email", "mallory@elsewhere.example", "--tenant", "globex")  # fmt: skip
    client = app.test_client()
    answer = at_provider(client, acme, "mallory", start_app_sign_in(client))
    assert answer.status_code == 403 and b"no account here" in answer.data
    assert "Location" not in answer.headers
    assert failures(session) == ["app: no person in the tenant with email 'mallory@elsewhere.example'"]
    assert history(session, EventKind.SSO_FAILED)[0].tenant_id == acme_id(session)


@pytest.mark.parametrize(
    "mode, reason",
    [
        ("wrong_audience", "app: ID token refused: invalid_claim (aud)"),
        ("expired", "app: ID token refused: expired_token (exp)"),
        ("foreign_key", "app: ID token refused: bad_signature"),
        ("unknown_kid", "app: ID token refused: signed with a key the provider does not publish"),
    ],
)
def test_a_forged_or_expired_id_token_is_refused(acme, app, session, mode, reason):
    acme.tamper(mode)
    client = app.test_client()
    answer = at_provider(client, acme, "alice", start_app_sign_in(client))
    assert answer.status_code == 403 and "Location" not in answer.headers
    assert failures(session) == [reason]
    assert history(session, EventKind.SSO_SIGNIN) == []


def test_replayed_callbacks_and_provider_codes_are_refused(acme, app, session):
    client = app.test_client()
    start = start_app_sign_in(client)
    back = acme.sign_in(start.headers["Location"], "alice", HOTDESK + "/")
    assert client.get(back.removeprefix(HOTDESK)).status_code == 302
    # The same answer again, the state's cookie put back: its state is used up.
    client.set_cookie("hotdesk_sso", parse_qs(urlsplit(back).query)["state"][0], domain="localhost")
    assert client.get(back.removeprefix(HOTDESK)).status_code == 400
    # The provider's code under a fresh state of this browser: the provider refuses it the second time.
    fresh = start_app_sign_in(client)
    state = parse_qs(urlsplit(fresh.headers["Location"]).query)["state"][0]
    provider_code = parse_qs(urlsplit(back).query)["code"][0]
    again = client.get(f"/sso/callback?state={state}&code={quote(provider_code)}")
    assert again.status_code == 403
    assert failures(session) == [
        "app: state used already or expired",
        "app: the provider refused the code (invalid_grant)",
    ]
    every_detail = " ".join(str(e.detail) for e in history(session, *EventKind))
    assert provider_code not in every_detail and state not in every_detail


def test_a_tampered_state_or_another_browser_gets_nothing(acme, app, session):
    client = app.test_client()
    start = start_app_sign_in(client)
    back = acme.sign_in(start.headers["Location"], "alice", HOTDESK + "/")
    state = parse_qs(urlsplit(back).query)["state"][0]
    tampered = back.replace(f"state={state}", f"state={state[:-2]}xy")
    assert client.get(tampered.removeprefix(HOTDESK)).status_code == 400
    # The genuine answer in a browser that did not begin (no hotdesk_sso cookie): refused, not used up.
    assert app.test_client().get(back.removeprefix(HOTDESK)).status_code == 400
    assert failures(session) == [
        "callback: unknown state",
        "app: the callback came to another browser than the one that began",
    ]
    assert code_of(client.get(back.removeprefix(HOTDESK)))  # the browser that began still can


def test_the_providers_new_keys_are_fetched(run, app, session, tmp_path):
    provider = OpenIDProvider(tmp_path, [CLIENT], ACCOUNTS).start()
    try:
        set_up_acme(run, provider.issuer)
        sso.forget_providers()
        client = app.test_client()
        assert code_of(at_provider(client, provider, "alice", start_app_sign_in(client)))  # JWKS cached: "first"

        provider.rotate_keys(new_key("second"))  # "first" is gone; hotdesk's cached JWKS knows only it
        code = code_of(at_provider(client, provider, "alice", start_app_sign_in(client)))
        assert client.post("/app/v1/sign-in/sso", json={"code": code}).status_code == 200
        assert failures(session) == []
        assert len(history(session, EventKind.SSO_SIGNIN)) == 2
    finally:
        provider.stop()


def test_a_provider_that_takes_the_secret_only_in_the_form(run, app, session, tmp_path):
    client = CLIENT | {"token_endpoint_auth_method": "client_secret_post"}
    provider = OpenIDProvider(tmp_path, [client], ACCOUNTS, client_auth_methods=["client_secret_post"]).start()
    try:
        set_up_acme(run, provider.issuer)
        sso.forget_providers()
        at_hotdesk = app.test_client()
        code = code_of(at_provider(at_hotdesk, provider, "alice", start_app_sign_in(at_hotdesk)))
        assert at_hotdesk.post("/app/v1/sign-in/sso", json={"code": code}).status_code == 200
    finally:
        provider.stop()


def test_the_portal_lands_signed_in(acme, app, session):
    client = app.test_client()
    page = client.get("/portal/sign-in")
    assert b"single sign-on" in page.data  # a tenant has it: the portal asks for the person's domain
    page = client.get("/portal/sign-in?tenant=alice%40acme.example").get_data(as_text=True)
    assert "Sign in with single sign-on" in page
    start_link = page.split('class="button" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert start_link == "/sso/start?tenant=acme&face=portal"

    back = at_provider(client, acme, "alice", client.get(start_link))
    assert back.status_code == 302 and back.headers["Location"].startswith(f"{HOTDESK}/portal/sign-in/sso?code=")
    landing = back.headers["Location"]
    home = client.get(landing)
    assert home.status_code == 302 and home.headers["Location"] == "/portal/"  # no password change first
    landing = landing.removeprefix(HOTDESK)
    mine = client.get("/portal/")
    assert mine.status_code == 200 and b"alice@acme.example" in mine.data
    assert b"Signed in here with single sign-on" in mine.data  # the person's own history

    # The landing works once, and only in the browser that began.
    assert app.test_client().get(landing).status_code == 400
    assert client.get(landing).status_code == 400
    assert history(session, EventKind.SSO_SIGNIN)[0].detail.startswith("portal: email ")


def test_a_tenant_manager_lands_in_the_console(acme, run, app, session):
    run("admins", "add", "carol@acme.example", "--tenant", "acme", "--password-stdin", stdin="a-long-password-1\n")
    client = app.test_client()
    page = client.get("/admin/sign-in?tenant=acme.example").get_data(as_text=True)
    start_link = page.split('class="button" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    back = at_provider(client, acme, "carol", client.get(start_link))
    assert back.headers["Location"].startswith(f"{HOTDESK}/admin/sign-in/sso?code=")
    assert client.get(back.headers["Location"]).headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200

    # A person of the tenant is no manager of it.
    other = app.test_client()
    refused = at_provider(other, acme, "alice", other.get(start_link))
    assert refused.status_code == 403
    assert failures(session) == ["console: no manager of the tenant named 'Alice.Martin@acme.example' (email)"]


def test_discovery_offers_single_sign_on_only_where_configured(acme, run, app):
    from flask import url_for

    from hotdesk.web.sso import LANDING, discover_method

    run("tenants", "add", "globex", "--sip-domain", "globex.example")
    with app.test_request_context("/app/v1/discover", base_url="https://hotdesk.example.com"):
        from hotdesk.web import db

        acme_tenant = db().scalar(select(Tenant).where(Tenant.name == "acme"))
        globex = db().scalar(select(Tenant).where(Tenant.name == "globex"))
        assert discover_method(acme_tenant) == {
            "type": "oidc",
            "start_url": "https://hotdesk.example.com/sso/start?tenant=acme",
        }
        assert discover_method(globex) is None
        # Where the callback sends the portal's and console's people is where those faces take them.
        assert {
            sso.Face.PORTAL: url_for("portal.sso_landing"),
            sso.Face.CONSOLE: url_for("admin.sso_landing"),
        } == LANDING


def test_the_settings_refuse_what_would_open_a_hole(run, acme):
    run("settings", "set", "app_redirect_uris", "http://evil.example/sso", "--tenant", "acme", code=1)
    run("settings", "set", "app_redirect_uris", "https://app.example.com/sso#x", "--tenant", "acme", code=1)
    run("settings", "set", "oidc_issuer", "http://login.example.com", "--tenant", "acme", code=1)
    listed = run("settings", "list", "--tenant", "acme")
    assert "oidc_client_secret" in listed and CLIENT_SECRET not in listed
    assert run("settings", "get", "oidc_client_secret", "--tenant", "acme").strip() == CLIENT_SECRET
    assert run("settings", "get", "oidc_user_claim", "--tenant", "acme").strip() == "email"


def test_the_portal_on_its_own_listener_gets_the_person_back(acme, run, database_url, notifier, tmp_path):
    """HOTDESK_ADMIN_BIND: the console and portal on :8081, phones (and /sso/callback, at
    phone_base_url) on :80. A browser keeps one cookie jar per host name, whatever the port: the
    callback sees the state's cookie, and sends the person back to the portal's own listener."""
    run("settings", "set", "phone_base_url", HOTDESK, "--tenant", "acme")
    config = Config(database_url=database_url, secret_key="test-secret-key", trusted_proxies=0, instance_path=tmp_path)
    phones = create_app(config, notifier=notifier, faces="phones")
    console = create_app(config, notifier=notifier, faces="admin")
    at_console = console.test_client()
    at_phones = phones.test_client()
    start = at_console.get("/sso/start?tenant=acme&face=portal", base_url="http://localhost:8081")
    assert start.status_code == 302
    at_phones.set_cookie("hotdesk_sso", at_console.get_cookie("hotdesk_sso").value, domain="localhost")
    back = at_provider(at_phones, acme, "alice", start)
    landing = back.headers["Location"]
    assert landing.startswith("http://localhost:8081/portal/sign-in/sso?code=")
    assert at_console.get(landing).headers["Location"] == "/portal/"
    assert at_console.get("/portal/", base_url="http://localhost:8081").status_code == 200
    for app in (phones, console):
        app.extensions["hotdesk"].engine.dispose()


def test_the_portal_in_a_real_browser(run, live_server, tmp_path):
    """Chromium (Playwright): the portal's sign-in page, the provider's login form, back in the
    portal signed in; the console's and portal's Content-Security-Policy and the SameSite cookie hold."""
    from tests.test_console_browser import CHROMIUM, CHROMIUM_ARGS, WAIT

    if CHROMIUM is None:
        tools.missing("chromium")
    playwright_api = pytest.importorskip("playwright.sync_api")
    client = CLIENT | {"redirect_uris": [live_server.url("/sso/callback")]}
    provider = OpenIDProvider(tmp_path, [client], ACCOUNTS).start()
    try:
        set_up_acme(run, provider.issuer)
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(WAIT)
            page.goto(live_server.url("/portal/sign-in"))
            page.get_by_label("Single sign-on: your login or company domain").fill("alice@acme.example")
            page.get_by_role("button", name="Continue with single sign-on").click()
            page.get_by_role("link", name="Sign in with single sign-on").click()
            page.get_by_label("Login").fill("alice")  # the provider's own page
            page.get_by_role("button", name="Sign in").click()
            playwright_api.expect(page).to_have_url(live_server.url("/portal/"))
            playwright_api.expect(page.get_by_text("alice@acme.example").first).to_be_visible()
            browser.close()
    finally:
        provider.stop()


def test_an_app_with_its_own_pkce_needs_its_verifier(acme, app, session):
    """RFC 8252: another app registered for the same scheme may catch the redirect; the code alone
    is then worthless, the verifier stays in the app that began."""
    verifier = "a-verifier-only-the-app-that-began-knows-0123456789"
    challenge = create_s256_code_challenge(verifier)
    client = app.test_client()
    start = client.get(
        f"/sso/start?tenant=acme&redirect_uri={quote(APP_URI)}&code_challenge={challenge}&code_challenge_method=S256"
    )
    code = code_of(at_provider(client, acme, "alice", start))
    assert client.post("/app/v1/sign-in/sso", json={"code": code}).status_code == 401
    wrong = client.post("/app/v1/sign-in/sso", json={"code": code, "code_verifier": verifier.upper()})
    assert wrong.status_code == 401
    right = client.post("/app/v1/sign-in/sso", json={"code": code, "code_verifier": verifier})
    assert right.status_code == 200 and right.get_json()["account"]["username"] == "1001"
    assert failures(session) == ["app: the code_verifier does not answer the app's code_challenge"] * 2

    plain = client.get(f"/sso/start?tenant=acme&redirect_uri={quote(APP_URI)}&code_challenge={verifier}")
    assert plain.status_code == 400 and "Location" not in plain.headers

"""The console in a real browser (Debian's Chromium driven by Playwright) against a live server.

An admin signs in, imports a CSV with a bad row (refused, nothing written), fixes it, adds a
template and makes it the default, watches the live table change when a phone logs in, and
forces the phone out. The phone is driven through the test client on the same database.
"""

import io

import pytest
import requests
import zxingcpp
from lxml import etree
from PIL import Image
from sqlalchemy import select

from hotdesk import people, policy, settings_registry
from hotdesk.admin import accounts
from hotdesk.admin import extensions as admin_extensions
from hotdesk.directory import ExtensionData
from hotdesk.models import AppDevice, Event, Extension, Mapping, Setting, Template, Tenant, User
from tests import tools
from tests.phones import YealinkPhone

CHROMIUM = tools.which("chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MAC = "001565aabb01"
WAIT = 20_000  # ms a page may take to show what the test waits for (the live table polls every 2 s)

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def browser_page(tmp_path):
    if CHROMIUM is None:
        tools.missing("chromium")
    with playwright_api.sync_playwright() as playwright:
        # A new, empty profile: launch_persistent_context is Playwright's way to pass --user-data-dir.
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context.set_default_timeout(WAIT)
        page = context.new_page()
        yield page
        context.close()


def sign_in(page):
    """On the sign-in page: as ann, to the dashboard."""
    page.get_by_label("Name").fill("ann")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    playwright_api.expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def preview(page, csv, *links):
    """Through the links (the first in the menu) to an import's page, and the file previewed there."""
    page.get_by_role("link", name=links[0], exact=True).click()
    for link in links[1:]:
        page.get_by_role("link", name=link).click()
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Preview").click()


def test_admin_imports_sets_default_watches_and_forces_out(live_server, browser_page, client, session, tmp_path):
    accounts.add_admin(session, "ann", "correct horse battery", "test")
    session.commit()
    expect = playwright_api.expect
    page = browser_page

    page.goto(live_server.url("/admin/"))
    expect(page).to_have_url(live_server.url("/admin/sign-in?next=/admin/"))
    sign_in(page)

    # A CSV with a bad row: every problem listed, nothing written.
    bad = tmp_path / "users.csv"
    bad.write_text("extension,name,secret,voicemail_pin\n1001,Alice Martin,alice-SIP-1,4321\n1002,,bob-SIP-2,\n")
    preview(page, bad, "Extensions", "Import CSV")
    expect(page.locator("#import-errors")).to_contain_text("users.csv, line 3: name")
    expect(page.get_by_role("button", name="Import")).to_have_count(0)
    assert session.scalars(select(Extension)).all() == []

    # Fixed: previewed, then imported.
    bad.write_text("extension,name,secret,voicemail_pin\n1001,Alice Martin,alice-SIP-1,4321\n1002,Bob,bob-SIP-2,\n")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Preview").click()
    # From a PBX: 1001's PIN is a sequence. Imported all the same, and the admin is told.
    expect(page.locator("#import-warning")).to_contain_text("1 PIN(s) are outside pin_length or trivial to guess")
    page.get_by_role("button", name="Import 2 extension(s)").click()
    expect(page.get_by_role("status").filter(has_text="imported:")).to_contain_text("2 extension(s) imported")
    expect(page.get_by_role("link", name="1002")).to_be_visible()
    session.expire_all()
    assert sorted(e.number for e in session.scalars(select(Extension))) == ["1001", "1002"]

    # A new Yealink template, checked before saving, then made the default.
    page.get_by_role("link", name="Templates", exact=True).click()
    page.get_by_role("link", name="New Yealink template").click()
    page.get_by_label("Name", exact=True).fill("lobby")
    body = page.locator("textarea[name=body]")
    stock = body.input_value()
    body.fill(stock + "{% if line %}\n")
    page.get_by_role("button", name="Check and save").click()
    expect(page.get_by_role("alert")).to_contain_text("not saved")
    page.locator("textarea[name=body]").fill(stock.replace("account.1.label = Guest", "account.1.label = Lobby guest"))
    page.get_by_role("button", name="Check and save").click()
    row = page.locator("tr[data-template='yealink/lobby']")
    row.get_by_role("button", name="Make default").click()
    expect(page.locator("tr[data-template='yealink/lobby'] .default")).to_have_text("default")
    expect(
        page.locator("tr[data-template='yealink/default']").get_by_role("button", name="Make default")
    ).to_be_visible()
    session.expire_all()
    assert [
        t.name for t in session.scalars(select(Template).where(Template.brand == "yealink", Template.is_default))
    ] == ["lobby"]

    # The live table shows the phone as soon as it logs in, without a reload.
    page.get_by_role("link", name="Who is where", exact=True).click()
    expect(page.locator("#seats")).to_contain_text("Nobody is logged in")
    phone = YealinkPhone(client, MAC)
    assert phone.boot()["account.1.label"] == "Lobby guest"  # the new default template is what guests get
    phone.login("1001", "4321")
    seat = page.locator(f"#seats tr[data-mac='{MAC}']")
    expect(seat).to_contain_text("Alice Martin")
    expect(seat).to_contain_text("yealink/lobby")

    # Forced out: the phone is back to guest, the history says who did it.
    page.once("dialog", lambda dialog: dialog.accept())
    seat.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text(f"1001 logged out of {MAC}")
    expect(page.locator("#seats")).to_contain_text("Nobody is logged in")
    session.expire_all()
    assert session.scalars(select(Mapping)).all() == []
    assert phone.boot()["account.1.enable"] == "0"
    logout = session.scalar(select(Event).where(Event.kind == "logout"))
    assert (logout.extension, logout.mac, logout.actor) == ("1001", MAC, "ann")


def test_admin_imports_macs_reads_weak_pins_and_shows_a_secret_setting(live_server, browser_page, session, tmp_path):
    """What the console lacked beside the CLI and API: importing MACs, weak PINs, a secret's value."""
    accounts.add_admin(session, "ann", "correct horse battery", "test")
    session.add(Extension(number="2001", name="Weak", secret="weak-SIP-1", voicemail_pin="1111"))
    session.commit()
    expect = playwright_api.expect
    page = browser_page
    page.goto(live_server.url("/admin/sign-in"))
    sign_in(page)

    macs = tmp_path / "macs.csv"
    macs.write_text("mac,address\n001565000071,10.0.0.71\nnot-a-mac,\n")
    preview(page, macs, "Phones", "Import MACs (CSV)")
    expect(page.locator("#import-errors")).to_contain_text("macs.csv, line 3, mac")
    expect(page.get_by_role("button", name="Add or admit")).to_have_count(0)
    macs.write_text("mac,address\n001565000071,10.0.0.71\n001565000072,\n")
    page.get_by_label("CSV file").set_input_files(str(macs))
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Add or admit 2 phone(s)").click()
    expect(page.get_by_role("status")).to_contain_text("2 phone(s) added or admitted")
    expect(page.locator("#devices tr[data-mac='001565000072']")).to_be_visible()

    page.get_by_role("link", name="Extensions", exact=True).click()
    page.get_by_role("link", name="Weak secrets and PINs").click()
    expect(page.get_by_role("row", name="2001 one digit repeated")).to_be_visible()

    # Enter in a field still saves the form: the Show buttons belong to forms of their own.
    password = session.scalar(select(Setting.value).where(Setting.name == "provisioning_password"))
    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_text(password)).to_have_count(0)
    field = page.locator("input[name=max_login_minutes]")
    field.fill("90")
    field.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("1 setting(s) changed")
    page.locator("label", has=page.locator("input[name=provisioning_password]")).get_by_role(
        "button", name="Show"
    ).click()
    expect(page.locator("output[for=provisioning_password]")).to_have_text(password)
    session.expire_all()
    assert session.scalar(select(Setting.value).where(Setting.name == "max_login_minutes")) == "90"


def test_weak_secret_refused_then_the_key_button_fills_a_strong_one(live_server, browser_page, session):
    """The spec's story: a weak secret typed in the console is refused with every broken rule named;
    the key button next to the field fills one that meets the policy, made by the server."""
    accounts.add_admin(session, "ann", "correct horse battery", "test")
    session.commit()
    expect = playwright_api.expect
    page = browser_page
    page.goto(live_server.url("/admin/extensions/new"))
    page.get_by_label("Name").fill("ann")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_label("Extension", exact=True).fill("2001")
    page.get_by_label("Name", exact=True).fill("Carol")
    page.get_by_label("SIP secret").fill("carol")
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert")
    for rule in ("at least 8 characters", "an upper-case letter", "a digit", "one of ! % * _ -"):
        expect(alert).to_contain_text(rule)
    expect(alert).not_to_contain_text("a lower-case letter")  # "carol" has those
    assert session.scalar(select(Extension)) is None

    key = page.get_by_role("button", name="Generate a strong secret")
    key.click()
    secret_field = page.get_by_label("SIP secret")
    expect(secret_field).to_have_attribute("type", "text")  # shown, so the admin can read it
    expect(secret_field).not_to_have_value("")
    generated = secret_field.input_value()
    assert policy.secret_problems(generated) == []
    key.click()
    expect(secret_field).not_to_have_value(generated)  # a new one each press
    generated = secret_field.input_value()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Extension 2001 added")
    session.expire_all()
    assert session.scalar(select(Extension.secret).where(Extension.number == "2001")) == generated


def test_a_system_admin_switches_tenants_and_adds_one(live_server, browser_page, session):
    """The header's tenant switch and the Tenants page, as a system admin uses them."""
    accounts.add_admin(session, "root", "correct horse battery", "test")
    session.commit()
    expect = playwright_api.expect
    page = browser_page
    page.goto(live_server.url("/admin/sign-in"))
    page.get_by_label("Name").fill("root")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Tenants").click()
    page.get_by_label("Name").fill("acme")
    page.get_by_label("SIP domain").fill("acme.example.com")
    page.get_by_role("button", name="Add tenant").click()
    expect(page.locator("#new-tenant")).to_contain_text("hotdesk-acme")
    acme = session.scalar(select(Tenant).where(Tenant.name == "acme"))
    admin_extensions.create(
        session,
        ExtensionData("1001", "Ann Acme", "Acme-Secret-1"),
        "test",
        settings_registry().values(session, acme.id),
        tenant_id=acme.id,
    )
    session.commit()

    page.locator("#tenant-switch select").select_option("acme")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("status")).to_contain_text("Acting for tenant acme")
    page.get_by_role("link", name="Extensions", exact=True).click()
    expect(page.get_by_role("link", name="1001")).to_be_visible()
    expect(page.get_by_text("Ann Acme")).to_be_visible()


def test_the_manager_sees_the_generated_user_password_until_the_person_changes_it(live_server, browser_page, session):
    """Seed 003's story in the console: a new extension's user account has a generated password,
    shown on its page; "Generate new password" (confirmed) replaces it; once the person changed
    it, the page shows no password at all."""
    accounts.add_admin(session, "ann", "correct horse battery", "test")
    session.commit()
    expect = playwright_api.expect
    page = browser_page
    page.goto(live_server.url("/admin/extensions/new"))
    page.get_by_label("Name").fill("ann")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_label("Extension", exact=True).fill("2001")
    page.get_by_label("Name", exact=True).fill("Carol Jones")
    page.get_by_label("SIP secret").fill("Carol-Secret-1")
    page.get_by_label("Cell number").fill("+44 7700 900123")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("with the user account carol.jones")
    pending = page.locator("#pending-password")
    expect(pending).not_to_have_text("")
    first = pending.inner_text()
    session.expire_all()
    carol = session.scalar(select(User).where(User.username == "carol.jones"))
    assert people.verify(carol, first) and carol.cell == "+44 7700 900123"

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Generate new password").click()
    expect(page.get_by_role("status")).to_contain_text("A new password was generated for carol.jones")
    expect(pending).not_to_have_text(first)
    second = pending.inner_text()

    session.expire_all()
    people.change_own_password(session, session.get(User, carol.id), second, "Carol's own passphrase")
    session.commit()
    page.reload()
    expect(page.locator("#user-account")).to_contain_text("chosen by the user")
    expect(pending).to_have_count(0)
    assert second not in page.content()


# Softphone apps: what Linphone sends when it fetches a URL (tests/test_softphone.py)
LINPHONE = {"User-Agent": "Linphone-Desktop/5.1.65 (Debian) LinphoneSDK/5.1.65", "Accept": "*/*"}
LPCONFIG = {"lp": "http://www.linphone.org/xsds/lpconfig.xsd"}


def answers_checked(page, *secrets: str) -> list[str]:
    """Every answer the browser gets passes here first, and none may carry one of `secrets`: the
    URLs checked, to show the net caught something."""
    checked = []

    def check(route):
        response = route.fetch(max_redirects=0)
        body = response.body()
        assert not any(secret.encode() in body for secret in secrets), route.request.url
        checked.append(route.request.url)
        route.fulfill(response=response)

    page.route("**/*", check)
    return checked


def linphone_config(url: str) -> dict[str, dict[str, str]]:
    """What an app fetching `url` over HTTP is given: its lpconfig sections, or {} for a 404."""
    answer = requests.get(url, headers=LINPHONE, timeout=30)
    if answer.status_code == 404:
        return {}
    assert answer.status_code == 200, answer.text
    root = etree.fromstring(answer.content)
    return {
        section.get("name"): {entry.get("name"): entry.text or "" for entry in section.findall("lp:entry", LPCONFIG)}
        for section in root.findall("lp:section", LPCONFIG)
    }


def qr_shown(page) -> tuple[str, str]:
    """The QR code on the page, read from its image as a camera would, and the URL written beside it."""
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(page.locator("#qr-refresh svg").screenshot())))
    return code.text, page.locator("#qr-url").get_attribute("href") or ""


def revoke_and_stop(page, config_uri: str, session) -> None:
    """The app's row (or card) Revoke button pressed: its configuration URL now stops it."""
    page.get_by_role("button", name="Revoke").click()
    playwright_api.expect(page.get_by_role("status")).to_contain_text("revoked")
    playwright_api.expect(page.get_by_role("button", name="Revoke")).to_have_count(0)
    stop = linphone_config(config_uri)
    assert stop["proxy_0"]["reg_sendregister"] == "0" and stop["auth_info_0"]["passwd"] == ""
    session.expire_all()
    assert session.scalar(select(AppDevice.revoked_at)) is not None


def test_admin_clicks_the_qr_code_to_refresh_it_and_revokes_the_app(live_server, browser_page, session):
    """The seeds' "To refresh the QR code, click on it", on the extension's page: the image changes,
    the old code gives an app nothing, the new one the account; the app is then revoked. No answer
    the browser gets carries the SIP secret."""
    registry = settings_registry()
    registry.set(session, "external_address", "pbx.example.com")
    secret = "Alice-SIP-secret-4f1"
    admin_extensions.create(
        session, ExtensionData("1001", "Alice Martin", secret, username="alice"), "test", registry.values(session, 1)
    )
    accounts.add_admin(session, "ann", "correct horse battery", "test")
    session.commit()
    expect = playwright_api.expect
    page = browser_page
    checked = answers_checked(page, secret)

    page.goto(live_server.url("/admin/extensions/1001"))
    page.get_by_label("Name").fill("ann")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Softphone app")).to_be_visible()
    old, written = qr_shown(page)
    assert old == written and old.startswith(live_server.url("/app/qr/"))
    expect(page.locator("#softphone")).to_contain_text("stops working at")

    page.get_by_role("button", name="Refresh the QR code").click()
    expect(page.get_by_role("status")).to_contain_text("New QR code for alice")
    new, written = qr_shown(page)
    assert new == written and new != old
    assert linphone_config(old) == {}  # dead at once
    account = linphone_config(new)
    assert (
        account["auth_info_0"]["passwd"] == secret and "sip:1001@pbx.example.com" in account["proxy_0"]["reg_identity"]
    )
    assert linphone_config(new) == {}  # used

    page.reload()
    row = page.locator("#apps tr[data-app]")
    expect(row).to_contain_text("Linphone-Desktop/5.1.65")
    expect(row).to_contain_text("active")
    page.once("dialog", lambda dialog: dialog.accept())
    revoke_and_stop(page, account["misc"]["config-uri"], session)
    expect(row).to_contain_text("revoked")
    assert any("/admin/extensions/1001" in url for url in checked)

"""The user portal in a real browser (Debian's Chromium driven by Playwright) the size of a phone.

A person signs in with the password the administrator's command generated, is made to choose
their own, sees the desk phone they are logged in on and logs out there. The phone is driven
through the test client on the same database.
"""

import pytest
from sqlalchemy import select

from hotdesk import people, settings_registry
from hotdesk.models import Event, Extension, Mapping, User
from tests import tools
from tests.phones import YealinkPhone
from tests.test_console_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WAIT,
    answers_checked,
    linphone_config,
    qr_shown,
    revoke_and_stop,
)

MAC = "001565aabb01"
PHONE_SIZED = {"width": 390, "height": 844}

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def phone_sized_page(tmp_path):
    if CHROMIUM is None:
        tools.missing("chromium")
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=PHONE_SIZED,
            is_mobile=True,
            has_touch=True,
            device_scale_factor=2,
        )
        context.set_default_timeout(WAIT)
        page = context.new_page()
        yield page
        context.close()


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_person_signs_in_changes_the_password_and_logs_out_of_their_desk_phone(
    live_server, phone_sized_page, client, session, extensions
):
    extension = session.scalar(select(Extension).where(Extension.number == "1001"))
    generated = people.create(session, extension, "alice").password
    session.commit()
    phone = YealinkPhone(client, MAC, ip="10.20.0.41")
    assert phone.login("1001", "4321").findtext("Title") == "Logged in"
    expect = playwright_api.expect
    page = phone_sized_page

    page.goto(live_server.url("/portal/"))
    expect(page).to_have_url(live_server.url("/portal/sign-in"))
    assert fits_the_screen(page)
    page.get_by_label("Login").fill("alice")
    page.get_by_label("Password").fill(generated)
    page.get_by_role("button", name="Sign in").click()

    # The generated password opens nothing but its own change.
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    assert fits_the_screen(page)
    page.goto(live_server.url("/portal/"))
    expect(page).to_have_url(live_server.url("/portal/password"))
    page.get_by_label("Current password").fill(generated)
    page.get_by_label("New password", exact=True).fill("my own long passphrase")
    page.get_by_label("New password again").fill("my own long passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Password changed")
    session.expire_all()
    assert session.scalar(select(User.initial_password)) is None

    # Where am I logged in: the desk phone, and a button to log out there.
    desk = page.locator(f"article[data-mac='{MAC}']")
    expect(desk).to_contain_text("Yealink T46S")
    expect(desk).to_contain_text("10.20.0.41")
    assert fits_the_screen(page)
    button = desk.get_by_role("button", name="Log out there")
    box = button.bounding_box()
    assert box is not None and box["height"] >= 40  # a thumb can hit it
    button.tap()
    expect(page.get_by_role("status")).to_contain_text(f"Logged out of the Yealink T46S ({MAC})")
    expect(page.locator("#no-phones")).to_contain_text("You are not logged in on any desk phone")

    session.expire_all()
    assert session.scalars(select(Mapping)).all() == []
    assert phone.boot()["account.1.enable"] == "0"
    logout = session.scalar(select(Event).where(Event.kind == "logout"))
    assert (logout.extension, logout.mac, logout.actor) == ("1001", MAC, "alice")
    recent = page.locator("#recent")
    page.reload()
    expect(recent).to_contain_text(f"Logged out of the Yealink T46S ({MAC}) by alice")
    expect(recent).to_contain_text("Password changed")


def test_a_person_taps_their_qr_code_to_refresh_it_and_revokes_their_app(
    live_server, phone_sized_page, session, extensions
):
    """My softphone app: tapping the QR makes a new one (the old one dead for an app at once), the
    app signed in with it is listed and revoked. No answer the browser gets carries the SIP secret."""
    registry = settings_registry()
    registry.set(session, "external_address", "pbx.example.com")
    extension = session.scalar(select(Extension).where(Extension.number == "1001"))
    people.set_password(
        session, people.create(session, extension, "alice").user, "my own long passphrase", temporary=False
    )
    session.commit()
    expect = playwright_api.expect
    page = phone_sized_page
    checked = answers_checked(page, extension.secret)

    page.goto(live_server.url("/portal/"))
    page.get_by_label("Login").fill("alice")
    page.get_by_label("Password").fill("my own long passphrase")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="My softphone app").click()
    expect(page.get_by_role("heading", name="My QR code")).to_be_visible()
    assert fits_the_screen(page)
    old, written = qr_shown(page)
    assert old == written
    expect(page.get_by_role("link", name="Open in Linphone")).to_have_attribute("href", f"linphone-config:{old}")

    page.get_by_role("button", name="Refresh the QR code").tap()
    expect(page.get_by_role("status")).to_contain_text("New QR code")
    new, written = qr_shown(page)
    assert new == written and new != old
    assert linphone_config(old) == {}
    account = linphone_config(new)
    assert account["auth_info_0"]["passwd"] == extension.secret

    page.reload()
    card = page.locator("article[data-app]")
    expect(card).to_contain_text("Linphone-Desktop/5.1.65")
    assert fits_the_screen(page)
    revoke_and_stop(page, account["misc"]["config-uri"], session)
    expect(card).to_contain_text("revoked")
    page.get_by_role("link", name="Back to my phones").click()
    expect(page.locator("#recent")).to_contain_text("An app revoked by alice")
    assert any(url.endswith("/portal/app") for url in checked)

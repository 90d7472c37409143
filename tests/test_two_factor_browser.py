"""Two-factor sign-in in a real browser (Debian's Chromium driven by Playwright): the password, the
Access code page, the code from a real mailbox (aiosmtpd), signed in; at the portal the size of a
phone (with Resend code), and at the console for an admin with --two-factor."""

import pytest

from tests.test_access_codes import code_in
from tests.test_console_browser import browser_page  # noqa: F401 (fixture)
from tests.test_mail import add_alice, inbox, sender, smtp  # noqa: F401 (fixtures)
from tests.test_portal_browser import fits_the_screen, phone_sized_page  # noqa: F401 (fixture)
from tests.test_two_factor import CHOSEN, a_minute_later

playwright_api = pytest.importorskip("playwright.sync_api")


def test_a_person_types_the_code_from_the_mail_and_resends_it(
    live_server, phone_sized_page, run, smtp, sender, session
):
    add_alice(run)
    run("users", "set-password", "alice", "--password-stdin", stdin=CHOSEN + "\n")
    run("settings", "set", "two_factor", "email")
    smtp.wait_for(1)  # the account mail
    expect = playwright_api.expect
    page = phone_sized_page

    page.goto(live_server.url("/portal/sign-in"))
    page.get_by_label("Login").fill("alice")
    page.get_by_label("Password").fill(CHOSEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Access code")).to_be_visible()
    expect(page.locator("#sent-to")).to_have_text("a…@example.org")
    assert fits_the_screen(page)
    first = code_in(smtp.wait_for(2)[1])

    page.get_by_role("button", name="Resend code").click()
    expect(page.get_by_role("alert")).to_contain_text("second(s)")  # too soon
    a_minute_later(session)
    page.get_by_role("button", name="Resend code").click()
    expect(page.get_by_role("status")).to_contain_text("the one before no longer works")
    second = code_in(smtp.wait_for(3)[2])
    if first != second:
        page.get_by_label("Access code").fill(first)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("Wrong access code. 4 attempt(s) left.")
    page.get_by_label("Access code").fill(second)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Alice Martin")).to_be_visible()
    expect(page.locator("#recent")).to_contain_text("A new access code was mailed to you for a sign-in here")


def test_an_admin_with_two_factor_signs_in_with_the_code(live_server, browser_page, run, smtp, sender):
    run("admins", "add", "bea", "--email", "bea@example.org", "--two-factor", "--password-stdin",
        stdin="correct horse battery\n")  # fmt: skip
    expect = playwright_api.expect
    page = browser_page

    page.goto(live_server.url("/admin/"))
    page.get_by_label("Name").fill("bea")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Access code")).to_be_visible()
    expect(page.locator("#sent-to")).to_have_text("b…@example.org")
    page.get_by_label("Access code").fill(code_in(smtp.wait_for(1)[0]))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

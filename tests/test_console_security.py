"""The console against a hostile browser: where sign-in sends it, what a copied cookie is worth
after sign-out, and how far password guessing gets (also while the real admin signs in)."""

from urllib.parse import urlencode

import pytest

from hotdesk.admin import accounts
from tests.test_console import PASSWORD, Console, text


@pytest.fixture(autouse=True)
def _push_request_context():
    """As in test_console: each request its own `g`."""


@pytest.fixture
def admin(session):
    return accounts.add_admin(session, "ann", PASSWORD, "test")


@pytest.mark.parametrize(
    "next_url",
    [
        "https:/admin.evil.test/",  # a browser reads "https:///admin.evil.test/" as that host
        "//admin.evil.test/admin/",
        "/\\admin.evil.test/admin/",
        "https://admin.evil.test/admin/",
        "http://localhost/admin/",  # absolute, even naming this host: only paths
        "javascript:alert(1)//admin/",
        "/admin/\r\nSet-Cookie: hotdesk_admin=stolen",
        "/admin/\x00",
        "/\t/admin.evil.test/admin/",
        "/admin.evil.test/",
    ],
)
def test_sign_in_sends_the_browser_only_to_a_console_path(client, admin, next_url):
    console = Console(client)
    page = console.get("/admin/sign-in?" + urlencode({"next": next_url}))
    assert page.status_code in (200, 400)
    token = Console(client).page("/admin/sign-in")
    response = console.post("/admin/sign-in", {"name": "ann", "password": PASSWORD, "next": next_url}, token_from=token)
    assert response.status_code in (302, 400), response.data[:300]
    if response.status_code == 302:
        assert response.headers["Location"] == "/admin/"


def test_sign_in_goes_on_to_the_page_asked_for(client, admin):
    console = Console(client)
    response = console.post(
        "/admin/sign-in",
        {"name": "ann", "password": PASSWORD, "next": "/admin/extensions?q=10"},
        token_from=console.page("/admin/sign-in"),
    )
    assert response.headers["Location"] == "/admin/extensions?q=10"


@pytest.mark.parametrize("referer", ["https:/evil.test/admin/", "http://evil.test/admin/", "//evil.test/admin/"])
def test_a_refused_action_returns_only_to_this_console(client, admin, referer):
    console = Console(client)
    console.sign_in()
    refused = console.submit(
        "/admin/pins", {"extension": "9999", "template": "yealink/default"}, headers={"Referer": referer}
    )
    assert refused.status_code == 302 and refused.headers["Location"] == "/admin/"
    assert "no extension 9999" in text(console.get("/admin/"))


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=0001-01-01T00:00:00%2B01:00", "since=soon"])
def test_history_with_an_impossible_date_is_a_400_naming_it(client, admin, query):
    console = Console(client)
    console.sign_in()
    page = console.get(f"/admin/history?{query}")
    field = query.partition("=")[0]
    assert page.status_code == 400 and f"{field}: '" in text(page)
    export = console.get(f"/admin/history/export.csv?{query}")
    assert export.status_code == 400 and f"{field}: '" in text(export)

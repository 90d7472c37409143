"""The web console through HTTP: sign-in, CSRF on every form, and what each page lets an admin do."""

import io

import pytest
from lxml import html
from sqlalchemy import select

from hotdesk.admin import accounts
from hotdesk.models import Event, Extension, Setting, Template
from tests.conftest import PROVISIONING
from tests.phones import YealinkPhone

PASSWORD = "correct horse battery"
MAC = "001565aabb01"


@pytest.fixture(autouse=True)
def _push_request_context():
    """Replaces pytest-flask's: its context, pushed for the whole test, would make every request of
    the test share one `g` (and Flask-WTF's cached CSRF token) where a real server gives each its own."""


@pytest.fixture
def admin(session):
    made = accounts.add_admin(session, "ann", PASSWORD, "test")
    session.commit()  # the caller commits: admin functions only flush
    return made


class Console:
    """A browser without JavaScript: follows forms, sends their CSRF token, reads the page."""

    def __init__(self, client):
        self.client = client

    def get(self, path, **kwargs):
        return self.client.get(path, environ_base={"REMOTE_ADDR": "192.0.2.7"}, **kwargs)

    def page(self, path):
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code, response.data[:300])
        return html.fromstring(response.data)

    def post(self, path, data=None, token_from=None, **kwargs):
        data = dict(data or {})
        if token_from is not None:
            data["csrf_token"] = token_from.xpath("//input[@name='csrf_token']/@value")[0]
        return self.client.post(path, data=data, environ_base={"REMOTE_ADDR": "192.0.2.7"}, **kwargs)

    def submit(self, path, data=None, **kwargs):
        """POST to `path` with a CSRF token taken from the dashboard."""
        return self.post(path, data, token_from=self.page("/admin/"), **kwargs)

    def upload(self, path, filename, content: bytes, token_from):
        """An import's first step: the file, for its preview."""
        return self.post(
            path, {"file": (io.BytesIO(content), filename)}, token_from=token_from, content_type="multipart/form-data"
        )

    def confirm(self, path, preview):
        """An import's second step: the preview's confirm form, as sent."""
        form = html.fromstring(preview.data).xpath("//form[.//input[@name='confirm']]")[0]
        fields = {i.get("name"): i.get("value") for i in form.xpath(".//input")}
        return self.post(path, fields | {"csv": form.xpath(".//textarea")[0].text})

    def sign_in(self, name="ann", password=PASSWORD):
        return self.post("/admin/sign-in", {"name": name, "password": password}, token_from=self.page("/admin/sign-in"))


@pytest.fixture
def console(client, admin):
    console = Console(client)
    assert console.sign_in().status_code == 302
    return console


def text(response):
    return " ".join(html.fromstring(response.data).text_content().split())


def session_cookie(response):
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("hotdesk_admin="))


def rows(response, table_id):
    """Each row of the table as the list of its cells' texts."""
    table = html.fromstring(response.data).get_element_by_id(table_id)
    return [[" ".join(td.text_content().split()) for td in tr.xpath("td")] for tr in table.xpath("tbody/tr")]


def test_every_page_needs_a_signed_in_admin(client, admin):
    console = Console(client)
    for path in (
        "/admin/",
        "/admin/extensions",
        "/admin/templates",
        "/admin/mappings",
        "/admin/devices",
        "/admin/history",
        "/admin/settings",
        "/admin/extensions/export.csv",
    ):
        response = console.get(path)
        assert response.status_code == 302 and "/admin/sign-in" in response.headers["Location"], path
    assert console.get("/").headers["Location"].endswith("/admin/")


def test_sign_in_wrong_password_then_throttled(client, admin):
    console = Console(client)
    assert "hotdesk admins add" not in text(console.get("/admin/sign-in"))
    for _ in range(accounts.FAILURES_PER_NAME):
        refused = console.sign_in(password="not the password")
        assert refused.status_code == 401 and "Wrong name or password" in text(refused)
    throttled = console.sign_in()
    assert throttled.status_code == 429 and "Too many failed sign-ins" in text(throttled)
    assert console.get("/admin/").status_code == 302


def test_session_cookie_flags_and_sign_out(client, admin):
    console = Console(client)
    response = console.sign_in()
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain HTTP here
    secure = client.post(
        "/admin/sign-in",
        data={"name": "ann", "password": PASSWORD, "csrf_token": "x"},
        base_url="https://console.example.com",
    )
    assert secure.status_code == 400  # a token from another page is refused
    assert console.get("/admin/").status_code == 200
    assert console.submit("/admin/sign-out").status_code == 302
    assert console.get("/admin/").status_code == 302


def test_secure_flag_over_https(client, admin):
    page = client.get("/admin/sign-in", base_url="https://console.example.com")
    token = html.fromstring(page.data).xpath("//input[@name='csrf_token']/@value")[0]
    response = client.post(
        "/admin/sign-in",
        data={"name": "ann", "password": PASSWORD, "csrf_token": token},
        base_url="https://console.example.com",
        headers={"Referer": "https://console.example.com/admin/sign-in"},
    )
    assert response.status_code == 302 and "Secure" in session_cookie(response)


def test_forms_without_the_csrf_token_are_refused(console, session):
    response = console.post("/admin/extensions/new", {"number": "1001", "name": "Alice", "secret": "s"})
    assert response.status_code == 400 and "expired" in text(response)
    assert session.scalars(select(Extension)).all() == []


def test_a_password_change_ends_open_sessions(console, session):
    accounts.set_password(session, "ann", "a brand new password", "test")
    session.commit()
    assert console.get("/admin/").status_code == 302


def test_add_search_edit_delete_extension(console, session):
    form = console.page("/admin/extensions/new")
    response = console.post(
        "/admin/extensions/new",
        {"number": "1001", "name": "Alice", "secret": "alice-SIP-secret-9f3", "voicemail_pin": "4321"},
        token_from=form,
    )
    assert response.status_code == 302
    refused = console.post(
        "/admin/extensions/new",
        {"number": "1002", "name": "Bob", "secret": "s", "voicemail_pin": "12ab"},
        token_from=form,
    )
    assert refused.status_code == 422 and "voicemail_pin" in text(refused)

    listing = console.get("/admin/extensions?q=ali")
    assert "1001" in text(listing) and b"alice-SIP-secret-9f3" not in listing.data
    edit = console.page("/admin/extensions/1001")
    assert b"alice-SIP-secret-9f3" not in html.tostring(edit) and b"4321" not in html.tostring(edit)
    assert (
        console.post(
            "/admin/extensions/1001", {"name": "Alice Martin", "voicemail_pin": "", "secret": ""}, token_from=edit
        ).status_code
        == 302
    )
    session.expire_all()
    alice = session.scalar(select(Extension))
    assert (alice.name, alice.secret, alice.voicemail_pin) == ("Alice Martin", "alice-SIP-secret-9f3", "4321")
    assert (
        console.post("/admin/extensions/1001", {"name": "Alice Martin", "remove_pin": "1"}, token_from=edit).status_code
        == 302
    )
    session.expire_all()
    assert session.scalar(select(Extension)).voicemail_pin is None

    assert console.post("/admin/extensions/1001/delete", token_from=edit).status_code == 302
    assert session.scalars(select(Extension)).all() == []
    assert [e.actor for e in session.scalars(select(Event).where(Event.kind == "admin").order_by(Event.id))] == [
        "test",
        "ann",  # extension 1001 added
        "ann",  # user alice created for it
        "ann",
        "ann",
        "ann",
    ]


def test_import_preview_then_confirm(console, session):
    page = console.page("/admin/extensions/import")
    bad = b"extension,name,secret\n1001,Alice,s1\n1002,,s2\n1003,Carol,s3 x\n"
    preview = console.upload("/admin/extensions/import", "users.csv", bad, page)
    assert preview.status_code == 422
    errors = html.fromstring(preview.data).xpath("//*[@id='import-errors']//li/text()")
    assert [e.split(":")[0] for e in errors] == ["users.csv, line 3", "users.csv, line 4"]
    assert not html.fromstring(preview.data).xpath("//input[@name='confirm']")
    assert session.scalars(select(Extension)).all() == []

    good = b"extension,name,secret\n1001,Alice,s1\n1002,Bob,s2\n"
    preview = console.upload("/admin/extensions/import", "users.csv", good, page)
    assert preview.status_code == 200 and "Import 2 extension(s)" in text(preview)
    assert session.scalars(select(Extension)).all() == []
    assert console.confirm("/admin/extensions/import", preview).status_code == 302
    assert sorted(e.number for e in session.scalars(select(Extension))) == ["1001", "1002"]
    assert console.get("/admin/extensions/export.csv").data.decode().splitlines()[1] == "1001,Alice,s1,,,,,alice"


def test_template_edit_is_checked_and_default_is_one_per_brand(console, session):
    edit = console.page("/admin/templates/yealink/default")
    stock = edit.xpath("//textarea[@name='body']")[0].text
    refused = console.post("/admin/templates/yealink/default", {"body": "{{ line.secret }"}, token_from=edit)
    assert refused.status_code == 422 and "not saved" in text(refused)
    session.expire_all()
    assert session.scalar(select(Template).where(Template.name == "default", Template.brand == "yealink")).body == stock

    new = console.page("/admin/templates/new?brand=yealink")
    assert (
        console.post(
            "/admin/templates/new", {"brand": "yealink", "name": "lobby", "body": stock}, token_from=new
        ).status_code
        == 302
    )
    assert console.submit("/admin/templates/yealink/lobby/default").status_code == 302
    session.expire_all()
    assert [
        t.name for t in session.scalars(select(Template).where(Template.brand == "yealink", Template.is_default))
    ] == ["lobby"]
    page = console.page("/admin/templates")
    assert page.xpath("//tr[@data-template='yealink/lobby']//strong[@class='default']")


def test_live_table_and_force_logout(console, client, extensions, notifier):
    page = console.page("/admin/mappings")
    marker = page.xpath("//table[@id='seats']/@data-marker")[0]
    assert console.get(f"/admin/mappings/live?marker={marker}").status_code == 204

    phone = YealinkPhone(client, MAC)
    phone.login("1001", "4321")
    live = console.get(f"/admin/mappings/live?marker={marker}")
    assert live.status_code == 200
    [row] = rows(live, "seats")
    assert row[:6] == ["1001", "Alice Martin", MAC, "yealink T46S", "yealink/default", "external"]

    sent = len(notifier.sent)
    assert console.submit(f"/admin/mappings/{MAC}/logout").status_code == 302
    assert notifier.sent[sent].mac == MAC
    assert "Nobody is logged in" in text(console.get("/admin/mappings/live"))
    assert phone.boot()["account.1.enable"] == "0"


def test_phones_page_lists_devices_logs_out_and_resets_credentials(console, client, extensions, session, notifier):
    phone = YealinkPhone(client, MAC)
    phone.login("1001", "4321")
    YealinkPhone(client, "001565aabb02").boot()
    [first, second] = rows(console.get("/admin/devices"), "devices")
    assert (
        first[:4] == [MAC, "yealink", "T46S", "66.86.0.15"]
        and first[5:7] == ["10.20.0.31", "1001"]
        and first[7].startswith("since ")
    )
    assert second[0] == "001565aabb02" and second[6] == ""
    assert [row[0] for row in rows(console.get("/admin/devices?q=00:15:65:aa:bb:02"), "devices")] == ["001565aabb02"]

    logged_out = console.submit(f"/admin/mappings/{MAC}/logout", {"next": "/admin/devices?q=001565aabb01"})
    assert logged_out.status_code == 302 and logged_out.headers["Location"].endswith("/admin/devices?q=001565aabb01")
    assert rows(console.get("/admin/devices?q=001565aabb01"), "devices")[0][6] == ""
    assert (
        console.submit(f"/admin/mappings/{MAC}/logout", {"next": "https://evil.example/"})
        .headers["Location"]
        .endswith("/admin/mappings")
    )

    old = phone.credentials
    assert console.submit(f"/admin/devices/{MAC}/reset-credentials").status_code == 302
    assert rows(console.get("/admin/devices"), "devices")[0][7] == "no"
    assert "credentials of 001565aabb01 withdrawn" in text(console.get("/admin/history"))
    assert phone.fetch(f"{MAC}.cfg").status_code == 401  # the old ones open nothing
    phone.credentials = PROVISIONING
    phone.boot()
    assert phone.credentials not in (old, PROVISIONING)  # issued new ones
    refused = console.submit(
        "/admin/devices/00156/reset-credentials", headers={"Referer": "http://localhost/admin/devices"}
    )
    assert refused.status_code == 302 and "is not a MAC address" in text(console.get("/admin/devices"))


def test_pin_and_unpin_from_the_console(console, extensions, session):
    assert console.submit("/admin/pins", {"extension": "1001", "template": "yealink/default"}).status_code == 302
    assert [row[:3] for row in rows(console.get("/admin/mappings"), "pins")] == [["1001", "yealink", "default"]]
    refused = console.submit(
        "/admin/pins",
        {"extension": "9999", "template": "yealink/default"},
        headers={"Referer": "http://localhost/admin/mappings"},
    )
    assert refused.status_code == 302 and "no extension 9999" in text(console.get("/admin/mappings"))
    assert console.submit("/admin/pins/1001/yealink/delete").status_code == 302
    assert "No pins" in text(console.get("/admin/mappings"))


def test_history_filters_and_export(console, client, extensions):
    YealinkPhone(client, MAC).login("1001", "4321")
    YealinkPhone(client, "001565aabb02").login("1002", "wrong")
    shown = rows(console.get("/admin/history?extension=1001&kind=login"), "events")
    assert [row[1:4] for row in shown] == [["login", "1001", "001565aabb01 (yealink T46S)"]]
    exported = console.get("/admin/history/export.csv?mac=00:15:65:aa:bb:02&kind=").data.decode().splitlines()
    assert [line.split(",")[2:5] for line in exported[1:]] == [["login_failed", "1002", "001565aabb02"]]
    assert "since: 'soon'" in text(console.get("/admin/history?since=soon", follow_redirects=True))


def test_settings_all_or_nothing_and_secrets_not_shown(console, session):
    page = console.page("/admin/settings")
    assert page.xpath("//input[@name='user_password']/@value") == []
    refused = console.post(
        "/admin/settings", {"external_address": "pbx9.example.com", "phone_sip_port": "99999"}, token_from=page
    )
    assert refused.status_code == 422 and "not a port number" in text(refused)
    session.expire_all()
    assert session.get(Setting, "external_address").value == "pbx.example.com:5080"

    changed = console.post(
        "/admin/settings", {"external_address": "pbx9.example.com", "user_password": ""}, token_from=page
    )
    assert changed.status_code == 302
    session.expire_all()
    assert session.get(Setting, "external_address").value == "pbx9.example.com"
    assert session.get(Setting, "user_password").value == "55667788"


@pytest.mark.parametrize(
    "faces, served, absent",
    [
        ("phones", "/provision/y000000000066.cfg", "/admin/sign-in"),
        ("admin", "/admin/sign-in", "/provision/y000000000066.cfg"),
    ],
)
def test_console_and_phones_on_separate_faces(database_url, engine, notifier, tmp_path, faces, served, absent):
    from hotdesk import create_app
    from hotdesk.config import Config

    app = create_app(
        Config(database_url=database_url, secret_key="k", trusted_proxies=0, instance_path=tmp_path),
        notifier=notifier,
        faces=faces,
    )
    client = app.test_client()
    assert client.get(served).status_code in (200, 401)
    assert client.get(absent).status_code == 404
    app.extensions["hotdesk"].engine.dispose()
    with pytest.raises(ValueError, match="faces"):
        create_app(
            Config(database_url=database_url, secret_key="k", trusted_proxies=0, instance_path=tmp_path), faces="kiosk"
        )


def test_admins_and_api_tokens_are_managed_from_the_console_too(console, client, session):
    """What `hotdesk admins` and `hotdesk tokens` do, through the same admin functions."""
    page = console.page("/admin/access")
    assert page.xpath("//table[@id='admin-list']//tr/@data-name") == ["ann"]
    assert (
        console.post(
            "/admin/access/admins", {"name": "bob", "password": "bobs long password"}, token_from=page
        ).status_code
        == 302
    )
    refused = console.post("/admin/access/admins", {"name": "carl", "password": "short"}, token_from=page)
    assert refused.status_code == 302
    assert "needs at least" in text(console.get(refused.headers["Location"]))

    created = console.post(
        "/admin/access/tokens", {"name": "billing", "scope": ["read"], "expires": "30"}, token_from=page
    )
    assert created.status_code == 200
    secret = html.fromstring(created.data).xpath("//p[@id='new-token']/code/text()")[0]
    assert secret.startswith("hdk_") and secret not in " ".join(created.headers.getlist("Set-Cookie"))
    assert client.get("/api/v1/extensions", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = console.page("/admin/access")
    assert listed.xpath("//table[@id='token-list']//tr/@data-name") == ["billing"]
    assert secret not in html.tostring(listed).decode()  # shown once

    assert console.post("/admin/access/tokens/billing/revoke", token_from=listed).status_code == 302
    assert client.get("/api/v1/extensions", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert console.post("/admin/access/admins/bob/remove", token_from=listed).status_code == 302
    session.rollback()
    details = [e.detail for e in session.scalars(select(Event).where(Event.actor == "ann", Event.kind == "admin"))]
    assert [d.split(" (")[0] for d in details] == [
        "admin bob added",
        "API token billing created",
        "API token billing revoked",
        "admin bob removed",
    ]
    assert details[1].startswith("API token billing created (read, until ")

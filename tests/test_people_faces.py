"""People's user accounts in the console and the REST API: username, cell and e-mail on the
extension, "Generate new password", and the generated password readable by the tenant's manager
(console page; API with the secrets scope) until the person's first change, never afterwards."""

import io

import pytest
from lxml import html
from sqlalchemy import select

from hotdesk import people
from hotdesk.admin import accounts
from hotdesk.models import Event, Extension, User
from tests.test_console import Console, _push_request_context, text  # noqa: F401 (its fixture: a request context per request)

PASSWORD = "correct horse battery"
SECRET = "alice-SIP-Secret-9f3"


@pytest.fixture
def console(client, session):
    accounts.add_admin(session, "ann", PASSWORD, "test")
    session.commit()
    console = Console(client)
    assert console.sign_in("ann", PASSWORD).status_code == 302
    return console


def alice(session) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.username == "alice.martin"))


def add_in_console(console, **fields):
    form = console.page("/admin/extensions/new")
    data = {"number": "1001", "name": "Alice Martin", "secret": SECRET, "email": "alice@example.com"} | fields
    return console.post("/admin/extensions/new", data, token_from=form)


def test_console_shows_the_generated_password_until_the_person_changes_it(console, session):
    added = add_in_console(console, cell="+44 7700 900123")
    assert added.status_code == 302 and added.headers["Location"].endswith("/admin/extensions/1001")
    page = console.page("/admin/extensions/1001")
    generated = page.xpath("//*[@id='pending-password']/text()")[0]
    assert people.verify(alice(session), generated)
    assert page.xpath("//input[@name='username']/@value") == ["alice.martin"]
    assert page.xpath("//input[@name='cell']/@value") == ["+44 7700 900123"]
    assert "alice.martin" in page.xpath("//*[@id='user-account']")[0].text_content()

    # Generate new password: the old one stops working, the new one is shown.
    console.post("/admin/extensions/1001/user-password", token_from=page)
    page = console.page("/admin/extensions/1001")
    renewed = page.xpath("//*[@id='pending-password']/text()")[0]
    assert renewed != generated and people.verify(alice(session), renewed)
    assert not people.verify(alice(session), generated)

    # The person changes it (at the first sign-in): from then on the page shows no password.
    people.change_own_password(session, alice(session), renewed, "my own passphrase")
    session.commit()
    page = console.get("/admin/extensions/1001")
    assert renewed.encode() not in page.data and b"my own passphrase" not in page.data
    assert not html.fromstring(page.data).xpath("//*[@id='pending-password']")
    assert "chosen by the user" in text(page)

    details = [e.detail for e in session.scalars(select(Event).where(Event.kind == "admin"))]
    assert "password of user alice.martin generated (to be changed at the next sign-in)" in details
    assert not any(p in (d or "") for p in (generated, renewed) for d in details)


def test_console_renames_and_refuses_a_taken_username(console, session):
    add_in_console(console)
    add_in_console(console, number="1002", name="Bob", username="bob")
    edit = console.page("/admin/extensions/1001")
    refused = console.post("/admin/extensions/1001", {"name": "Alice Martin", "username": "Bob"}, token_from=edit)
    assert refused.status_code == 422 and "'bob' is taken in this tenant" in text(refused)
    assert alice(session) is not None
    saved = console.post("/admin/extensions/1001", {"name": "Alice M", "username": "alice"}, token_from=edit)
    assert saved.status_code == 302
    session.expire_all()
    assert session.scalar(select(User).where(User.username == "alice")).extension.name == "Alice M"


def test_console_opens_an_account_for_an_extension_from_before_accounts(console, session):
    session.add(Extension(number="1001", name="Alice Martin", secret=SECRET))
    session.commit()
    page = console.page("/admin/extensions/1001")
    assert "No user account yet" in page.text_content()
    console.post("/admin/extensions/1001", {"name": "Alice Martin"}, token_from=page)
    assert alice(session).must_change_password
    assert console.page("/admin/extensions/1001").xpath("//*[@id='pending-password']")


def test_console_import_opens_accounts(console, session):
    page = console.page("/admin/extensions/import")
    csv_text = "extension,name,secret,username\n1001,Alice Martin,s1,\n1002,Bob,s2,bobby\n"
    preview = console.post(
        "/admin/extensions/import",
        {"file": (io.BytesIO(csv_text.encode()), "users.csv")},
        token_from=page,
        content_type="multipart/form-data",
    )
    confirm = html.fromstring(preview.data).xpath("//form[.//input[@name='confirm']]")[0]
    fields = {i.get("name"): i.get("value") for i in confirm.xpath(".//input")} | {
        "csv": confirm.xpath(".//textarea")[0].text
    }
    done = console.post("/admin/extensions/import", fields, follow_redirects=True)
    assert "2 user account(s) opened with a generated password" in text(done)
    session.expire_all()
    assert sorted(session.scalars(select(User.username))) == ["alice.martin", "bobby"]


# the REST API


@pytest.fixture
def tokens(session):
    full = accounts.create_token(session, "manager", "test", scopes=accounts.SCOPES).secret
    plain = accounts.create_token(session, "sync", "test", scopes=("read", "write")).secret
    session.commit()
    return {"full": full, "plain": plain}


@pytest.fixture
def api(client, tokens):
    def call(method, path, token="full", **kwargs):
        headers = {"Authorization": f"Bearer {tokens[token]}"}
        return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)

    return call


def test_api_account_fields_and_the_pending_password_with_the_secrets_scope(api, session):
    created = api("post", "/extensions", json={"number": "1001", "name": "Alice Martin", "secret": SECRET})
    assert created.status_code == 201
    assert (created.json["username"], created.json["cell"], created.json["must_change_password"]) == (
        "alice.martin",
        None,
        True,
    )
    refused = api("get", "/extensions/1001/user-password", token="plain")
    assert refused.status_code == 403 and "secrets scope" in refused.json["error"]
    shown = api("get", "/extensions/1001/user-password").json
    assert shown["login"] == "alice.martin" and people.verify(alice(session), shown["user_password"])

    # Generate a new one: answered once, then readable until the person changes it.
    renewed = api("post", "/extensions/1001/user-password").json
    assert renewed["user_password"] != shown["user_password"] and renewed["must_change_password"] is True
    assert api("get", "/extensions/1001/user-password").json["user_password"] == renewed["user_password"]
    people.change_own_password(session, alice(session), renewed["user_password"], "my own passphrase")
    session.commit()
    after = api("get", "/extensions/1001/user-password")
    assert after.json["user_password"] is None and after.json["must_change_password"] is False
    for response in (
        after,
        api("get", "/extensions/1001"),
        api("get", "/extensions"),
        api("get", "/extensions/export"),
    ):
        assert renewed["user_password"].encode() not in response.data and b"$argon2" not in response.data


def test_api_sets_a_chosen_password_never_the_sip_secret(api, session):
    api("post", "/extensions", json={"number": "1001", "name": "Alice Martin", "secret": SECRET})
    same = api("post", "/extensions/1001/user-password", json={"password": SECRET})
    assert same.status_code == 422 and "SIP secret" in same.json["error"]
    assert api("post", "/extensions/1001/user-password", json={"temporary": "yes"}).status_code == 400
    chosen = api("post", "/extensions/1001/user-password", json={"password": PASSWORD, "temporary": False})
    assert chosen.status_code == 200 and chosen.json["user_password"] is None
    assert chosen.json["must_change_password"] is False and people.verify(alice(session), PASSWORD)
    assert api("post", "/extensions/1001/user-password", token="plain").status_code == 403


def test_api_create_with_account_fields_rename_and_cell(api, session):
    created = api(
        "post",
        "/extensions",
        json={
            "number": "1001",
            "name": "Alice",
            "secret": SECRET,
            "username": "Alice.Martin",
            "user_password": PASSWORD,
            "cell": "+44 7700 900123",
        },
    )
    assert created.status_code == 201 and created.json["username"] == "alice.martin"
    assert api("get", "/extensions/1001/user-password").json["user_password"] is None  # chosen: never readable
    assert people.verify(alice(session), PASSWORD)

    taken = api(
        "post", "/extensions", json={"number": "1002", "name": "B", "secret": SECRET, "username": "alice.martin"}
    )
    assert taken.status_code == 422 and "taken" in taken.json["error"]
    assert api("get", "/extensions/1002").status_code == 404

    renamed = api("patch", "/extensions/1001", json={"username": "alice", "cell": None})
    assert (renamed.json["username"], renamed.json["cell"]) == ("alice", None)
    assert api("patch", "/extensions/1001", json={"username": "1001"}).status_code == 422
    assert api("delete", "/extensions/1001").status_code == 204
    session.expire_all()
    assert session.scalars(select(User)).all() == []


def test_api_import_hands_generated_passwords_to_a_secrets_token_only(api, session):
    body = "extension,name,secret\n1001,Alice Martin,s1\n"
    plain = api("post", "/extensions/import", token="plain", data=body, content_type="text/csv")
    assert plain.status_code == 200 and "user_passwords" not in plain.json
    full = api("post", "/extensions/import", data="extension,name,secret\n1002,Bob Jones,s2\n", content_type="text/csv")
    [made] = full.json["user_passwords"]
    assert (made["extension"], made["username"]) == ("1002", "bob.jones")
    session.expire_all()
    bob = session.scalar(select(User).where(User.username == "bob.jones"))
    assert people.verify(bob, made["user_password"])


def test_console_add_with_a_chosen_user_password_never_shows_it(console, session):
    refused = add_in_console(console, user_password=SECRET)
    assert refused.status_code == 422 and "must not be the extension's SIP secret" in text(refused)
    assert session.scalars(select(Extension)).all() == []
    assert add_in_console(console, user_password=PASSWORD).status_code == 302
    assert people.verify(alice(session), PASSWORD) and alice(session).must_change_password
    page = console.get("/admin/extensions/1001")
    assert PASSWORD.encode() not in page.data and "set by an admin" in text(page)

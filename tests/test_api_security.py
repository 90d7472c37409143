"""The REST API against hostile input and narrow tokens: no 500 for deep JSON or impossible
dates, scopes (read, write, secrets) and expiry enforced on every route."""

import csv
import io
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import delete, select, text, update

from hotdesk import schema
from hotdesk.admin import AdminError, accounts
from hotdesk.db import make_engine
from hotdesk.models import ApiToken, Extension, utcnow
from hotdesk.web import openapi
from tests.conftest import ADMIN_PASSWORD, PROVISIONING, USER_PASSWORD
from tests.phones import YealinkPhone
from tests.test_api import assert_json_error


class Api:
    """The API as one token's holder calls it."""

    def __init__(self, client, secret: str):
        self.client, self.secret = client, secret

    def __getattr__(self, method):
        def call(path, **kwargs):
            headers = {"Authorization": f"Bearer {self.secret}", **kwargs.pop("headers", {})}
            return getattr(self.client, method)(f"/api/v1{path}", headers=headers, **kwargs)

        return call


@pytest.fixture
def api(client, session):
    secret = accounts.create_token(session, "full", "test", scopes=accounts.SCOPES).secret
    session.commit()  # the caller commits: admin functions only flush
    return Api(client, secret)


DEEP = "[" * 50_000 + "]" * 50_000
EXAMPLE = {
    "{number}": "1001",
    "{brand}": "yealink",
    "/settings/{name}": "/settings/external_address",
    "{name}": "default",
    "{mac}": "001565aabb01",
}


def _example(path: str) -> str:
    for placeholder, value in EXAMPLE.items():
        path = path.replace(placeholder, value)
    return path


JSON_ROUTES = [
    (method, _example(path))
    for path, item in openapi.document()["paths"].items()
    for method, operation in item.items()
    if method != "parameters" and "application/json" in operation.get("requestBody", {}).get("content", {})
]


def test_every_json_route_is_known():
    assert len(JSON_ROUTES) == 11  # a new one is tested here too: it must go through api._body


@pytest.mark.parametrize("method, path", JSON_ROUTES, ids=[f"{m.upper()} {p}" for m, p in JSON_ROUTES])
@pytest.mark.parametrize("body", [DEEP, '{"name": ' + DEEP + "}"], ids=["array", "in-object"])
def test_json_nested_50000_deep_is_a_400(api, extensions, method, path, body):
    response = getattr(api, method)(path.removeprefix("/api/v1"), data=body, content_type="application/json")
    assert_json_error(response, 400)


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("until=9999-12-31", "until: '9999-12-31' is out of range"),
        ("since=0001-01-01T00:00:00%2B01:00", "since: '0001-01-01T00:00:00+01:00' is out of range"),
        ("since=yesterday", "since: 'yesterday' is not a date"),
        ("until=2026-02-30", "until: '2026-02-30' is not a date"),
    ],
)
@pytest.mark.parametrize("route", ["/history", "/history/export"])
def test_history_dates_out_of_range_or_garbled_are_a_400(api, route, query, fragment):
    assert_json_error(api.get(f"{route}?{query}"), 400, fragment)


def test_history_through_the_last_day_it_can_name(api):
    assert api.get("/history?until=9998-12-31").status_code == 200


# token scopes and expiry

SECRET = "alice-SIP-secret-9f3"


@pytest.fixture
def narrow(client, session):
    """A token of the given scopes (read, write, secrets), as its holder calls the API."""

    def make(*scopes, expires_at=None):
        name = "-".join(scopes) or "none"
        secret = accounts.create_token(session, name, "test", scopes=scopes, expires_at=expires_at).secret
        session.commit()
        return Api(client, secret)

    return make


def assert_lacks(response, scope):
    assert_json_error(response, 403, f"lacks the {scope} scope")
    assert f'scope="{scope}"' in response.headers["WWW-Authenticate"]


def test_a_read_token_reads_and_changes_nothing(narrow, extensions, session):
    reader = narrow("read")
    assert reader.get("/extensions").status_code == 200
    assert_lacks(reader.post("/extensions", json={"number": "1003", "name": "C", "secret": "c-secret"}), "write")
    assert_lacks(reader.patch("/extensions/1001", json={"name": "Mallory"}), "write")
    assert_lacks(reader.delete("/extensions/1001"), "write")
    assert_lacks(reader.put("/settings/external_address", json={"value": "evil.example.com"}), "write")
    assert_lacks(reader.post("/devices/001565aabb01/logout"), "write")
    session.expire_all()
    assert session.scalar(select(Extension.name).where(Extension.number == "1001")) == "Alice Martin"


def test_secrets_only_with_the_secrets_scope(narrow, extensions):
    for holder in (narrow("read"), narrow("read", "write")):
        assert_lacks(holder.get("/extensions/export"), "secrets")
        assert_lacks(holder.get("/settings/provisioning_password"), "secrets")
        assert holder.get("/settings/external_address").json["value"] == "pbx.example.com:5080"
    keeper = narrow("secrets")  # brings read: it widens what reading shows
    assert SECRET in keeper.get("/extensions/export").get_data(as_text=True)
    assert keeper.get("/settings/provisioning_password").json["value"] == PROVISIONING[1]
    assert_lacks(keeper.post("/extensions", json={"number": "1003", "name": "C", "secret": "c-secret"}), "write")


def test_no_get_answers_a_secret_without_the_secrets_scope(narrow, extensions, client):
    YealinkPhone(client, "001565aabb01").login("1001", "4321")  # a seat, a device with its own credentials
    holder = narrow("read", "write")
    for path, item in openapi.document()["paths"].items():
        if "get" not in item:
            continue
        response = holder.get(_example(path).replace("{mac}", "001565aabb01"))
        body = response.get_data(as_text=True)
        assert response.status_code in (200, 403, 404), (path, response.status_code, body[:200])
        for secret in (SECRET, "4321", PROVISIONING[1], USER_PASSWORD, ADMIN_PASSWORD):
            assert secret not in body, (path, secret)


def test_a_write_token_writes_a_secret_it_cannot_read_back(narrow, extensions):
    writer = narrow("write")
    assert writer.patch("/extensions/1001", json={"secret": "new-SIP-secret-2"}).status_code == 200
    assert_lacks(writer.get("/extensions/1001"), "read")


def test_an_expired_token_is_refused(narrow, session):
    soon = narrow("read", expires_at=utcnow() + timedelta(minutes=1))
    assert soon.get("/extensions").status_code == 200
    session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    response = soon.get("/extensions")
    assert_json_error(response, 401, "API token read expired")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_tokens_refuse_unknown_scopes_and_past_expiry(session):
    with pytest.raises(AdminError, match="'admin' is not one of read, write, secrets"):
        accounts.create_token(session, "x", "test", scopes=("read", "admin"))
    with pytest.raises(AdminError, match="not in the future"):
        accounts.create_token(session, "x", "test", expires_at=utcnow() - timedelta(days=1))
    assert accounts.create_token(session, "x", "test").token.scopes == "read write"
    session.commit()


def test_tokens_made_before_scopes_keep_every_scope(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = schema.alembic_config(engine)
    command.upgrade(config, "0004")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO api_tokens (name, token_hash, created_at) VALUES ('backup', 'h', '2026-01-01')")
        )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT scopes, expires_at FROM api_tokens")).one() == (
            "read write secrets",
            None,
        )
    engine.dispose()


# CSV formula injection

TRICKY = [  # number, name, secret, voicemail_pin, email, auth_name
    ("+4930123", '=HYPERLINK("http://evil.test","x")', "+secret-1", "1234", "-a@example.com", "@bob"),
    ("-7", "-Reception-", "=1+1", None, None, "-auth"),
    ("1001", "'=already quoted", "'+quoted-secret", None, None, None),
    ("1002", "'Tis a name", "@at-secret", None, None, None),
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def tricky_extensions(session):
    session.add_all(
        Extension(number=n, name=name, secret=s, voicemail_pin=p, email=e, auth_name=a)
        for n, name, s, p, e, a in TRICKY
    )
    session.commit()


def assert_formula_safe(csv_text):
    cells = [cell for row in csv.reader(io.StringIO(csv_text)) for cell in row]
    assert cells and not [cell for cell in cells if cell.startswith(FORMULA_START)]


def stored(session):
    session.expire_all()
    return sorted(
        (e.number, e.name, e.secret, e.voicemail_pin, e.email, e.auth_name) for e in session.scalars(select(Extension))
    )


def test_the_extensions_export_runs_no_formula_and_imports_back_unchanged(api, session):
    tricky_extensions(session)
    before = stored(session)
    exported = api.get("/extensions/export").get_data(as_text=True)
    assert_formula_safe(exported)
    assert "'+4930123,\"'=HYPERLINK(" in exported and "'-Reception-" in exported and "'Tis a name" in exported
    session.execute(delete(Extension))
    session.commit()
    imported = api.post("/extensions/import", data=exported, content_type="text/csv")
    assert imported.status_code == 200, imported.json
    assert stored(session) == before


def test_the_history_export_runs_no_formula(api, session):
    with pytest.raises(accounts.SignInRefused):  # a sign-in's name goes into the history as typed
        accounts.sign_in(session, '=HYPERLINK("http://evil.test","x")', "guess", "192.0.2.66")
    assert_formula_safe(api.get("/history/export").get_data(as_text=True))


def test_options_needs_only_read(narrow):
    assert narrow("read").options("/extensions").status_code == 200

"""The REST API through HTTP: bearer tokens, JSON in and out, a JSON 4xx for every bad request."""

import pytest
from sqlalchemy import select

from hotdesk.admin import accounts
from hotdesk.models import Event, Extension, Template
from tests.phones import YealinkPhone

MAC = "001565aabb01"


@pytest.fixture
def token(session):
    made = accounts.create_token(session, "billing-sync", "test", scopes=accounts.SCOPES).secret
    session.commit()  # the caller commits: admin functions only flush
    return made


@pytest.fixture
def api(client, token):
    class Api:
        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
                return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)

            return call

    return Api()


def assert_json_error(response, status, fragment=""):
    assert response.status_code == status, (response.status_code, response.data)
    assert response.is_json and fragment in response.json["error"], response.json


def test_without_a_valid_token_nothing_is_answered(client, token, session):
    for headers in ({}, {"Authorization": "Bearer hdk_forged"}, {"Authorization": f"Basic {token}"}):
        response = client.get("/api/v1/extensions", headers=headers)
        assert_json_error(response, 401, "API token")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    accounts.revoke_token(session, "billing-sync", "test")
    session.commit()
    assert_json_error(client.get("/api/v1/extensions", headers={"Authorization": f"Bearer {token}"}), 401)


def test_every_bad_request_gets_a_json_error(api):
    assert_json_error(api.get("/nothing-here"), 404)
    assert_json_error(api.put("/extensions"), 405)
    assert_json_error(
        api.post("/extensions", data="{not json", content_type="application/json"), 400, "not a JSON object"
    )
    assert_json_error(api.post("/extensions", data="number=1", content_type="application/x-www-form-urlencoded"), 415)
    assert_json_error(api.post("/extensions", json=["1001"]), 400)
    assert_json_error(api.post("/extensions", json={"number": "1001", "name": "A"}), 400, "secret: required")
    assert_json_error(
        api.post("/extensions", json={"number": "1001", "name": "A", "secret": 5}), 400, "secret: must be a string"
    )
    assert_json_error(
        api.post("/extensions", json={"number": "1001", "name": "A", "secret": "s", "colour": "red"}), 400, "colour"
    )
    assert_json_error(api.post("/extensions", json={"number": "10 01", "name": "A", "secret": "s"}), 422, "extension:")
    assert_json_error(api.get("/extensions?limit=9999"), 422, "limit")
    assert_json_error(api.get("/extensions?page=2"), 400, "'page': unknown query parameter")
    assert_json_error(api.get("/extensions/9999"), 404, "no extension 9999")
    assert_json_error(api.get("/history?since=yesterday"), 400, "since:")
    assert_json_error(api.get("/settings/colour"), 404)


def test_extensions_crud_never_shows_secrets(api, session):
    created = api.post(
        "/extensions",
        json={"number": "1001", "name": "Alice", "secret": "alice-SIP-secret-9f3", "voicemail_pin": "4321"},
    )
    assert created.status_code == 201 and created.headers["Location"].endswith("/api/v1/extensions/1001")
    assert created.json == {
        "number": "1001",
        "name": "Alice",
        "auth_name": None,
        "email": None,
        "has_voicemail_pin": True,
        "pins": [],
        "username": "alice",
        "cell": None,
        "must_change_password": True,
        "qr_transport": None,
        "qr_address": None,
    }
    assert_json_error(api.post("/extensions", json={"number": "1001", "name": "Again", "secret": "s"}), 409)

    changed = api.patch(
        "/extensions/1001", json={"name": "Alice Martin", "voicemail_pin": None, "template": "yealink/default"}
    )
    assert changed.json["name"] == "Alice Martin" and changed.json["has_voicemail_pin"] is False
    assert changed.json["pins"] == [{"brand": "yealink", "template": "default"}]
    listed = api.get("/extensions?search=alice").json
    assert [e["number"] for e in listed["items"]] == ["1001"] and listed["next"] is None
    for response in (created, changed, api.get("/extensions"), api.get("/extensions/1001")):
        assert b"alice-SIP-secret-9f3" not in response.data

    assert api.delete("/extensions/1001").status_code == 204
    assert_json_error(api.get("/extensions/1001"), 404)
    actors = {e.actor for e in session.scalars(select(Event).where(Event.kind == "admin", Event.extension == "1001"))}
    assert actors == {"api:billing-sync"}


def test_extensions_are_paged_by_cursor(api, session):
    session.add_all(Extension(number=f"{3000 + i}", name=f"User {i}", secret="s") for i in range(7))
    session.commit()
    first = api.get("/extensions?limit=5").json
    second = api.get(f"/extensions?limit=5&after={first['next']}").json
    assert [e["number"] for e in first["items"] + second["items"]] == [f"{3000 + i}" for i in range(7)]
    assert second["next"] is None


def test_import_dry_run_lists_every_bad_row_and_writes_nothing(api, session):
    bad = "extension,name,secret\n1001,Alice,s1\n1002,,s2\n10 03,Carol,s3\n"
    refused = api.post("/extensions/import", data=bad, content_type="text/csv")
    assert_json_error(refused, 422, "line 3: name")
    assert [e.split(":")[0] for e in refused.json["errors"]] == ["upload, line 3", "upload, line 4"]
    assert session.scalars(select(Extension)).all() == []

    good = "extension,name,secret\n1001,Alice,s1\n1002,Bob,s2\n"
    dry = api.post("/extensions/import?dry_run=true", data=good, content_type="text/csv").json
    assert dry == {
        "dry_run": True,
        "errors": [],
        "rows": [{"line": 2, "extension": "1001", "action": "add"}, {"line": 3, "extension": "1002", "action": "add"}],
        "weak_secrets": ["1001", "1002"],  # imported all the same, from the PBX they come from
        "weak_pins": [],
    }
    assert session.scalars(select(Extension)).all() == []
    assert api.post("/extensions/import", data=good, content_type="text/csv").json["dry_run"] is False
    exported = api.get("/extensions/export")
    assert exported.content_type == "text/csv; charset=utf-8"
    assert exported.data.decode().splitlines()[1:] == ["1001,Alice,s1,,,,,alice", "1002,Bob,s2,,,,,bob"]


def test_templates_checked_before_saving_and_one_default(api, session):
    stock = api.get("/templates/yealink/default").json["body"]
    created = api.put("/templates/yealink/lobby", json={"body": stock.replace("External", "Outside")})
    assert created.status_code == 201 and created.json["is_default"] is False
    assert api.put("/templates/yealink/lobby", json={"body": stock}).status_code == 200

    broken = api.put("/templates/yealink/lobby", json={"body": stock + "{% if line %}\n"})
    assert_json_error(broken, 422, "template line")
    assert api.get("/templates/yealink/lobby").json["body"] == stock

    assert api.post("/templates/yealink/lobby/default").json["is_default"] is True
    defaults = [t["name"] for t in api.get("/templates?brand=yealink").json["items"] if t["is_default"]]
    assert defaults == ["lobby"]
    assert_json_error(api.delete("/templates/yealink/lobby"), 409, "default")
    assert_json_error(api.put("/templates/nokia/x", json={"body": "a"}), 404, "no brand")


def test_pins_and_who_is_where_and_force_logout(api, client, session, extensions, notifier):
    assert api.put("/pins/1001/yealink", json={"template": "default"}).json == {
        "extension": "1001",
        "brand": "yealink",
        "template": "default",
    }
    assert_json_error(api.put("/pins/1001/yealink", json={"template": "nope"}), 422, "no template")
    assert api.get("/pins").json["items"] == [{"extension": "1001", "brand": "yealink", "template": "default"}]

    phone = YealinkPhone(client, MAC)
    phone.login("1001", "4321")
    [seat] = api.get("/mappings").json["items"]
    assert (seat["extension"], seat["mac"], seat["template"], seat["model"], seat["address"]) == (
        "1001",
        MAC,
        "yealink/default",
        "T46S",
        "external",
    )
    assert api.get(f"/devices/{MAC}").json["logged_in"] == "1001"

    sent = len(notifier.sent)
    assert api.post("/devices/00:15:65:AA:BB:01/logout").json == {"mac": MAC, "logged_out": "1001"}
    assert notifier.sent[sent].host == phone.ip and notifier.sent[sent].mac == MAC
    assert api.get("/mappings").json["items"] == []
    assert phone.boot()["account.1.enable"] == "0"
    assert api.post(f"/devices/{MAC}/logout").json["logged_out"] is None

    assert [d["mac"] for d in api.get("/devices?search=00:15:65:aa:bb").json["items"]] == [MAC]
    assert api.get("/devices?search=0004f2").json["items"] == []
    assert api.get(f"/devices/{MAC}").json["own_credentials"] is True
    assert api.post(f"/devices/{MAC}/reset-credentials").json["own_credentials"] is False
    assert_json_error(api.post("/devices/xyz/reset-credentials"), 422, "not a MAC address")
    assert_json_error(api.post("/devices/0004f2000000/reset-credentials"), 404, "has contacted hotdesk")

    history = api.get(f"/history?mac={MAC}&kind=logout").json["items"]
    assert [(e["extension"], e["actor"]) for e in history] == [("1001", "api:billing-sync")]
    assert api.delete("/pins/1001/yealink").status_code == 204


def test_settings(api, session):
    secret = api.get("/settings").json["items"]
    assert {s["name"]: s["value"] for s in secret}["user_password"] is None
    assert (
        api.put("/settings/external_address", json={"value": "pbx2.example.com:5080"}).json["value"]
        == "pbx2.example.com:5080"
    )
    assert_json_error(api.put("/settings/external_address", json={"value": "not an address!"}), 422)
    assert api.get("/settings/external_address").json["value"] == "pbx2.example.com:5080"
    assert api.put("/settings/user_password", json={"value": "24682468"}).json["value"] is None


def test_openapi_document_is_served_without_a_token(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert {"/extensions", "/templates/{brand}/{name}", "/devices/{mac}/logout", "/history"} <= set(document["paths"])


def test_template_rows_untouched_by_refused_requests(api, session):
    before = {(t.brand, t.name, t.body) for t in session.scalars(select(Template))}
    api.put("/templates/yealink/bad name", json={"body": "x"})
    api.put("/templates/yealink/default", json={"body": "{{ 1/0 }}"})
    session.expire_all()
    assert {(t.brand, t.name, t.body) for t in session.scalars(select(Template))} == before

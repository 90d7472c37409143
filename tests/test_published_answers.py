"""A phone fetching its own file again from /provision/ is answered from the copy published last
time (hotdesk.web.published_answers): no database work, and never a copy that went stale."""

from __future__ import annotations

import hashlib
import os
import stat
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import event, select, update
from werkzeug.datastructures import WWWAuthenticate

from hotdesk import brands, hotdesking
from hotdesk.brands import BRANDS, FileKind
from hotdesk.models import Address, Device, Extension, Template
from tests.brands import EMULATORS
from tests.conftest import PROVISIONING
from tests.phones import YealinkPhone

SECRET = "alice-SIP-secret-9f3"
CREDENTIAL_BRANDS = sorted(brand for brand, emulator in EMULATORS.items() if emulator.credential_settings)


@pytest.fixture
def app(publishing_app):
    return publishing_app


@contextmanager
def statements(app):
    """The SQL statements the app (or an Engine, or the Engine class: every engine) sends meanwhile."""
    sent: list[str] = []
    engine = app.extensions["hotdesk"].engine if isinstance(app, Flask) else app

    def count(_conn, _cursor, statement, *_args):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def from_provision(phone):
    """The phone as its admin set it up: fetching from /provision/ (Yealink would otherwise
    follow the nginx fast path it is handed, which tests/test_fast_path.py covers)."""
    if hasattr(phone, "server_url"):
        phone.server_url = "/provision/"
    return phone


def device_files(phone) -> list[str]:
    brand = BRANDS[phone.brand]
    return [name for name in phone.provisioning_files() if brand.requested_file(name).kind is FileKind.DEVICE]


def line_file(phone) -> str:
    """The Snom phone's file with its settings (the line, when someone is logged in)."""
    return next(
        name
        for name in device_files(phone)
        if phone.files[name].lstrip().startswith(b"<?xml") and b"<settings" in phone.files[name]
    )


@pytest.fixture
def phone(client, extensions):
    phone = EMULATORS["snom"](client, "000413a1b2c3")
    phone.boot()  # the global credentials: it gets its own
    return phone


@pytest.mark.parametrize("brand", CREDENTIAL_BRANDS)
def test_every_brand_fetching_its_file_again_gets_the_same_bytes_without_a_database_query(
    client, extensions, app, brand
):
    phone = EMULATORS[brand](client, "0004f2a1b2c3")
    phone.apply_reload(phone.login("1001", "4321"))
    from_provision(phone).boot()  # its own credentials: rendered, and published
    assert phone.line()["secret"] == SECRET
    rendered = dict(phone.files)

    for name in device_files(phone):
        with statements(app) as sent:
            response = phone.get(f"/provision/{name}", auth=phone.credentials)
        assert response.status_code == 200, (name, response.data[:200])
        assert response.data == rendered[name]
        assert response.content_type == BRANDS[brand].config_content_type
        assert response.headers["Cache-Control"] == "no-store"
        assert sent == [], name


def test_a_login_and_a_logout_are_in_the_very_next_fetch(phone):
    name = line_file(phone)
    guest = phone.fetch(name).data
    assert phone.fetch(name).data == guest and SECRET.encode() not in guest  # the guest copy

    phone.apply_reload(phone.login("1001", "4321"))
    assert phone.line()["secret"] == SECRET  # not the guest copy
    assert phone.fetch(name).data == phone.files[name]  # the user's, answered again

    answer = phone.choose(phone.press("Logout"), "Logout")
    assert "Logged out" in phone.text(answer)
    phone.boot()
    assert phone.line() is None or phone.line()["secret"] != SECRET
    assert SECRET.encode() not in phone.fetch(name).data


@pytest.fixture
def app_session(app):
    """A session of the app's own (whose commits withdraw what they make stale), as the console,
    the API or the CLI change things."""
    with app.extensions["hotdesk"].sessions() as session:
        yield session


def test_an_extension_changed_by_the_admin_is_in_the_next_fetch(phone, app_session):
    phone.apply_reload(phone.login("1001", "4321"))
    name = line_file(phone)
    phone.fetch(name)
    app_session.execute(update(Extension).where(Extension.number == "1001").values(secret="rotated-secret-51b"))
    app_session.commit()
    body = phone.fetch(name).data
    assert b"rotated-secret-51b" in body and SECRET.encode() not in body


def test_a_template_edit_is_in_the_next_fetch(phone, app_session):
    name = line_file(phone)
    assert phone.fetch(name).data == phone.fetch(name).data  # published, then answered from the copy
    template = app_session.scalar(select(Template).where(Template.brand == "snom", Template.is_default))
    assert "</settings>" in template.body
    template.body = template.body.replace("</settings>", "<!-- edited by the admin --></settings>")
    app_session.commit()
    assert b"edited by the admin" in phone.fetch(name).data


def test_wrong_or_global_credentials_never_get_the_copy(phone, client, app):
    phone.apply_reload(phone.login("1001", "4321"))
    name = line_file(phone)
    assert SECRET.encode() in phone.fetch(name).data  # published, with the user's secret

    user, password = phone.credentials
    wrong = password[:-1] + ("y" if password.endswith("x") else "x")  # one random password in 64 ends with x
    assert phone.get(f"/provision/{name}", auth=(user, wrong)).status_code == 401
    assert phone.get(f"/provision/{name}", auth=("someone", password)).status_code == 401
    global_answer = phone.get(f"/provision/{name}", auth=PROVISIONING)
    assert global_answer.status_code == 200 and SECRET.encode() not in global_answer.data
    other = client.get(
        f"/provision/{name}",
        headers={"User-Agent": EMULATORS["snom"](client, "000413ffffff").user_agent},
        auth=phone.credentials,
    )
    assert other.status_code in (401, 404) and SECRET.encode() not in other.data


def test_new_firmware_is_recorded_and_gets_its_own_rendering(phone, session, app):
    name = line_file(phone)
    phone.fetch(name)
    phone.user_agent = phone.user_agent.replace("8.7.5.35", "8.9.3.80")
    with statements(app) as sent:
        assert phone.fetch(name).status_code == 200
    assert sent, "another User-Agent is rendered, not answered from the copy"
    assert session.scalar(select(Device.firmware)) == "8.9.3.80"


def test_digest_credentials_get_the_copy(phone, client, app):
    name = line_file(phone)
    rendered = phone.fetch(name).data
    user, password = phone.credentials
    uri = f"/provision/{name}"
    challenge = client.get(uri, headers={"User-Agent": phone.user_agent})
    assert challenge.status_code == 401
    digest = next(h for h in challenge.headers.getlist("WWW-Authenticate") if h.startswith("Digest"))
    nonce = WWWAuthenticate.from_header(digest).parameters["nonce"]

    def md5(text):
        return hashlib.md5(text.encode()).hexdigest()

    def header(pw):
        answer = md5(f"{md5(f'{user}:hotdesk:{pw}')}:{nonce}:00000001:c0ffee:auth:{md5(f'GET:{uri}')}")
        return (
            f'Digest username="{user}", realm="hotdesk", nonce="{nonce}", uri="{uri}", qop=auth, nc=00000001, '
            f'cnonce="c0ffee", response="{answer}", algorithm=MD5'
        )

    with statements(app) as sent:
        response = client.get(uri, headers={"User-Agent": phone.user_agent, "Authorization": header(password)})
    assert response.status_code == 200 and response.data == rendered and sent == []
    wrong = client.get(uri, headers={"User-Agent": phone.user_agent, "Authorization": header("not-it")})
    assert wrong.status_code == 401


def test_fetches_answered_from_the_copy_still_record_where_the_phone_is(phone, session, app):
    name = line_file(phone)
    phone.fetch(name)
    phone.ip = "10.20.9.99"  # moved desks
    assert phone.fetch(name).status_code == 200
    app.extensions["hotdesk"].sightings.flush()
    session.expire_all()
    assert session.scalar(select(Device.last_ip)) == "10.20.9.99"


def test_who_may_read_a_copy_is_kept_where_nginx_does_not_serve_and_holds_no_password(phone, published):
    phone.fetch(line_file(phone))
    readers = published / "readers"
    record = readers / phone.mac
    assert stat.S_IMODE(os.stat(readers).st_mode) == 0o700 and stat.S_IMODE(os.stat(record).st_mode) == 0o600
    assert phone.credentials[1] not in record.read_text()
    assert not (published / "current" / "readers").exists()  # /fast/ is current/: nothing of this under it


def test_a_common_file_is_answered_from_the_copy_too_when_the_user_agent_names_the_phone(client, extensions, app):
    phone = YealinkPhone(client, "001565aabb01")
    phone.boot()
    common = phone.provisioning_files()[0]
    rendered = phone.get(f"/provision/{common}", auth=phone.credentials).data  # published
    with statements(app) as sent:
        again = phone.get(f"/provision/{common}", auth=phone.credentials)
    assert again.status_code == 200 and again.data == rendered and sent == []
    assert (
        phone.get(f"/provision/{common}", auth=PROVISIONING).status_code == 200
    )  # the global credentials still get it


def test_a_copy_that_cannot_be_written_costs_the_copy_not_the_file(phone, app, caplog, monkeypatch):
    files = app.extensions["hotdesk"].published

    def full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "write", full)
    name = line_file(phone)
    answers = [phone.fetch(name) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200] and answers[0].data == answers[1].data
    assert b"<settings>" in answers[0].data
    assert caplog.text.count("answered but not published: [Errno 28] No space left on device") == 1


def test_a_yealink_phone_without_nginx_in_front_follows_its_fast_path_to_hotdesk(client, extensions, app):
    phone = YealinkPhone(client, "001565aabb01")
    phone.boot()  # the global credentials: its own, and its fast path
    assert phone.server_url.startswith("http://localhost/fast/001565aabb01/")
    phone.boot()  # from /fast/ (hotdesk answers it when nginx does not): rendered and published
    with statements(app) as sent:
        again = phone.fetch("001565aabb01.cfg")
    assert again.status_code == 200 and again.data == phone.files["001565aabb01.cfg"] and sent == []

    phone.login("1001", "4321")
    phone.boot()  # the NOTIFY's reload
    assert phone.line()["secret"] == SECRET
    assert phone.fetch(f"{phone.mac}.cfg").data == phone.files[f"{phone.mac}.cfg"]
    assert client.get(
        phone.server_url.replace("/fast/001565aabb01/", "/fast/001565aabb02/") + "001565aabb01.cfg"
    ).status_code in (401, 404)


def test_a_login_between_a_fetchs_reads_and_its_copy_never_leaves_the_guest_copy(phone, app, monkeypatch):
    """The login commits (and withdraws the phone's copies) after the fetch read the device and
    before it publishes: the fetch must read again, or the guest copy would outlive the login."""
    hotdesk = app.extensions["hotdesk"]
    record_device = hotdesking.record_device
    name = line_file(phone)

    def meanwhile(session, **kwargs):
        device = record_device(session, **kwargs)
        with hotdesk.sessions() as other:  # the user logs in from the phone app, on another worker
            target = hotdesking.find_device(other, mac=kwargs["mac"])
            made = hotdesking.login(other, hotdesk.settings.values(other), target, "1001", "4321", Address.EXTERNAL)
            other.commit()
            assert isinstance(made, hotdesking.LoggedIn)
        return device

    monkeypatch.setattr(hotdesking, "record_device", meanwhile)
    phone.fetch(name)
    monkeypatch.setattr(hotdesking, "record_device", record_device)
    assert SECRET.encode() in phone.fetch(name).data  # whether answered from a copy or rendered: the user's line


def test_which_phone_a_request_is_about_is_worked_out_once(phone, app, monkeypatch):
    # The middleware, the limiter and the provisioning view all ask; the User-Agent is matched
    # against the brands once (web/named_phone.py), also when the copy cannot answer.
    name = line_file(phone)
    calls = []
    recognise = brands.recognise
    monkeypatch.setattr(brands, "recognise", lambda *args: calls.append(args) or recognise(*args))
    assert phone.fetch(name).status_code == 200  # answered from the copy
    assert phone.get(f"/provision/{name}", auth=PROVISIONING).status_code == 200  # shared credentials: Flask's
    assert len(calls) == 2

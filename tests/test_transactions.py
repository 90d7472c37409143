"""Transactions at the edge: an admin's action is one transaction, committed once by the request
(or CLI command) that made it, or not at all; phones are told only after the commit."""

import threading

import pytest
from sqlalchemy import event, func, select

from hotdesk import settings_registry
from hotdesk.admin import extensions as admin_extensions
from hotdesk.admin import settings as admin_settings
from hotdesk.models import Event, Extension, Mapping, Setting
from tests.phones import YealinkPhone
from tests.test_api import api, token  # noqa: F401 (fixtures)
from tests.test_cli import run  # noqa: F401 (fixture)
from tests.test_console import _push_request_context, admin, console  # noqa: F401 (fixtures)

PHONES = ("001565aabb01", "001565aabb02")


@pytest.fixture
def timeline(app, notifier):
    """What happens, in order, in the test's own thread: each commit of the app's sessions, each
    NOTIFY handed to the sender. (The sightings writer commits on its own thread: not counted.)"""
    happened = []
    sessions = app.extensions["hotdesk"].sessions
    here = threading.get_ident()

    def committed(_session):
        if threading.get_ident() == here:
            happened.append("commit")

    event.listen(sessions, "after_commit", committed)
    submit = notifier.submit
    notifier.submit = lambda request: (happened.append(f"notify {request.mac}"), submit(request))[1]
    yield happened
    event.remove(sessions, "after_commit", committed)


@pytest.fixture
def alice_on_two_phones(client, extensions, session):
    settings_registry().set(session, "multiple_login", "allow")
    session.commit()
    for mac in PHONES:
        YealinkPhone(client, mac, ip="10.0.0.9").login("1001", "4321")
    session.rollback()
    assert sorted(session.scalars(select(Mapping.device_id))) and _logged_in(session) == 2


def _logged_in(session) -> int:
    session.rollback()  # a fresh transaction: what is committed now
    return session.scalar(select(func.count()).select_from(Mapping)) or 0


def _events(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Event)) or 0


def test_deleting_an_extension_is_one_commit_and_tells_the_phones_after_it(
    api, alice_on_two_phones, session, timeline, notifier
):
    notifier.sent.clear()
    before = _events(session)
    assert api.delete("/extensions/1001").status_code == 204
    # One commit for the logouts of both phones and the delete; the NOTIFYs only after it.
    assert timeline == ["commit", *(f"notify {mac}" for mac in PHONES)]
    assert _logged_in(session) == 0
    assert session.scalar(select(Extension).where(Extension.number == "1001")) is None
    kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.id).offset(before))]
    assert kinds == ["logout", "logout", "admin"]


def test_an_extension_delete_that_fails_half_way_changes_nothing(
    api, alice_on_two_phones, session, timeline, notifier, monkeypatch
):
    def broken(*args, **kwargs):  # the last step: the history line of the delete
        raise RuntimeError("the database went away")

    monkeypatch.setattr(admin_extensions, "record_change", broken)
    notifier.sent.clear()
    before = _events(session)
    with pytest.raises(RuntimeError):
        api.delete("/extensions/1001")
    assert "commit" not in timeline and notifier.sent == []
    assert session.scalar(select(Extension.name).where(Extension.number == "1001")) == "Alice Martin"
    assert _logged_in(session) == 2  # both phones still logged in
    assert _events(session) == before  # no logout, no admin event


def test_the_console_delete_is_one_commit_too(alice_on_two_phones, console, session, timeline, notifier):
    notifier.sent.clear()
    edit = console.page("/admin/extensions/1001")
    timeline.clear()
    answer = console.post("/admin/extensions/1001/delete", token_from=edit)
    assert answer.status_code == 302, answer.data[answer.data.find(b"<main") :][:900]
    assert timeline == ["commit", *(f"notify {mac}" for mac in PHONES)]
    assert _logged_in(session) == 0


SETTINGS_FORM = {"external_address": "pbx9.example.com", "internal_address": "10.1.1.1:5060", "lockout_attempts": "7"}


def _settings(session) -> dict[str, str]:
    session.rollback()
    return {name: session.get(Setting, name).value for name in SETTINGS_FORM}


def test_saving_the_settings_form_is_one_commit(console, session, timeline):
    page = console.page("/admin/settings")
    timeline.clear()
    assert console.post("/admin/settings", SETTINGS_FORM, token_from=page).status_code == 302
    assert timeline == ["commit"]
    assert _settings(session) == SETTINGS_FORM


def test_a_settings_form_that_fails_half_way_changes_nothing(console, session, timeline, monkeypatch):
    before = _settings(session)
    events_before = _events(session)
    change = admin_settings.change
    calls = []

    def fails_the_second_time(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return change(*args, **kwargs)

    monkeypatch.setattr(admin_settings, "change", fails_the_second_time)
    page = console.page("/admin/settings")
    timeline.clear()
    with pytest.raises(RuntimeError):
        console.post("/admin/settings", SETTINGS_FORM, token_from=page)
    assert len(calls) == 2 and timeline == []
    assert _settings(session) == before
    assert _events(session) == events_before


def test_the_cli_adds_and_updates_through_the_admin_functions(run, session):
    assert run("extensions", "add", "3001", "--name", "Carol", "--secret", "s3cret-Carol").exit_code == 0
    result = run("extensions", "add", "3001", "--name", "Carol B", "--secret", "s3cret-Carol", "--pin", "8642")
    assert result.exit_code == 0 and "extension 3001 saved" in result.output
    session.rollback()
    carol = session.scalar(select(Extension).where(Extension.number == "3001"))
    assert (carol.name, carol.voicemail_pin) == ("Carol B", "8642")
    history = [e.detail for e in session.scalars(select(Event).where(Event.actor == "cli").order_by(Event.id))]
    assert history == [
        "extension 3001 added",
        "user carol created for extension 3001, with a generated password",  # its user account
        "extension 3001 changed: name, voicemail_pin",
    ]
    refused = run("extensions", "add", "3002", "--name", "Dan", "--secret", "")
    assert refused.exit_code != 0 and len(refused.output.strip().splitlines()) == 1


def test_the_cli_deletes_an_extension_in_one_transaction_and_tells_its_phone(
    run, client, extensions, session, sipp_uas
):
    phone = YealinkPhone(client, PHONES[0], ip="127.0.0.1")
    phone.login("1001", "4321")
    peer = sipp_uas("check-sync;reboot=true")
    settings_registry().set(session, "phone_sip_port", str(peer.port))
    session.commit()

    result = run("extensions", "delete", "1001")

    assert result.exit_code == 0, result.output
    assert f"1001 logged out of {PHONES[0]}" in result.output
    assert f"NOTIFY to {PHONES[0]}: 200 OK" in result.output
    assert peer.wait() == 0, peer.diagnostics()
    assert phone.boot()["account.1.enable"] == "0"
    assert _logged_in(session) == 0
    assert session.scalar(select(Extension).where(Extension.number == "1001")) is None
    assert run("extensions", "delete", "1001").output.strip() == "Error: no extension 1001"


def test_the_cli_deletes_a_template(run):
    assert run("templates", "delete", "yealink", "default").exit_code != 0  # the default stays
    one_line = run("templates", "delete", "yealink", "missing")
    assert one_line.exit_code != 0 and "no template yealink/missing" in one_line.output

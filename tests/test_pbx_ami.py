"""notify_via ami: a phone is told to reload by Asterisk (Action: PJSIPNotify over the Manager
Interface), through one kept connection; refused, unreachable, dropped or slow, the history says so
and hotdesk sends the NOTIFY itself (unless notify_fallback is off). The PBX is tests/ami_peer.py,
which speaks AMI's wire protocol."""

import time

import pytest
from sqlalchemy import select

from hotdesk import settings_registry
from hotdesk.db import make_session_factory
from hotdesk.models import Event, EventKind
from hotdesk.notifications import DeviceNotify, notification_recorder, notify_through_pbx
from hotdesk.notify import NotifyDispatcher, NotifyOutcome, PbxRoute
from hotdesk.pbx import ami
from tests.ami_peer import AmiPeer
from tests.phones import YealinkPhone

DESK_A, DESK_B = "001565aabb01", "001565aabb02"


@pytest.fixture
def direct():
    """hotdesk's own UDP NOTIFY, as a stand-in that records and is answered 200."""
    sent = []

    def send(host, port, event, *, user=None, **extra):
        sent.append((host, port, event))
        return NotifyOutcome(True, 200, 1, "200 OK")

    send.sent = sent
    return send


@pytest.fixture
def notifier(engine, direct):
    """The real dispatcher, its outcomes into the history, through the PBX when asked."""
    dispatcher = NotifyDispatcher(
        on_outcome=notification_recorder(make_session_factory(engine)), sender=direct, via_pbx=notify_through_pbx
    )
    yield dispatcher
    dispatcher.shutdown()
    ami.close_all()


@pytest.fixture
def peer():
    peer = AmiPeer()
    yield peer
    peer.close()


@pytest.fixture
def via_ami(session, peer, extensions):
    registry = settings_registry()
    for name, value in {
        "notify_via": "ami",
        "ami_host": "127.0.0.1",
        "ami_port": str(peer.port),
        "ami_username": "hotdesk",
        "ami_secret": "Ami-Secret-9",
    }.items():
        registry.set(session, name, value)
    session.commit()
    return peer


def notify_history(session, count: int, timeout: float = 10.0) -> list[tuple[str, str]]:
    deadline = time.monotonic() + timeout
    while True:
        session.expire_all()
        rows = session.execute(select(Event.mac, Event.detail).where(Event.kind == EventKind.NOTIFY.value)).all()
        if len(rows) >= count or time.monotonic() > deadline:
            return sorted((mac, detail) for mac, detail in rows)
        time.sleep(0.05)


def test_a_displaced_phone_is_told_through_the_pbx(client, session, via_ami, direct):
    phone_a = YealinkPhone(client, DESK_A, ip="10.20.0.31")
    assert phone_a.login("1001", "4321").findtext("Title") == "Logged in"
    phone_b = YealinkPhone(client, DESK_B, ip="10.20.0.32")
    assert phone_b.login("1001", "4321").findtext("Title") == "Logged in"  # auto_logout: A is displaced

    notifies = via_ami.wait_for(3)
    targets = sorted((n.get("endpoint", [""])[0], n.get("uri", [""])[0], n["variable"][0]) for n in notifies)
    assert targets == [
        ("", "sip:10.20.0.31:5060", "Event=check-sync;reboot=true"),  # A's login: not registered as 1001 yet
        ("", "sip:10.20.0.32:5060", "Event=check-sync;reboot=true"),  # B's login
        ("1001", "", "Event=check-sync;reboot=true"),  # A, displaced: still registered as 1001
    ]
    assert all(n["actionid"][0].startswith("hotdesk-") for n in notifies)
    assert via_ami.connections == 1  # one connection kept for all of them
    assert direct.sent == []
    history = notify_history(session, 3)
    assert (
        DESK_A,
        "check-sync;reboot=true: delivered, sent by the PBX (AMI PJSIPNotify, endpoint 1001): NOTIFY"
        " sent (1001 logged in on 001565aabb02)",
    ) in history
    assert not any("Ami-Secret-9" in detail for _, detail in history)


def test_a_refused_login_falls_back_to_udp_and_the_history_says_so(client, session, via_ami, direct):
    via_ami.refuse_login = True
    phone = YealinkPhone(client, DESK_A, ip="10.20.0.31")
    assert phone.login("1001", "4321").findtext("Title") == "Logged in"
    [(mac, detail)] = notify_history(session, 1)
    assert mac == DESK_A
    assert detail == (
        f"check-sync;reboot=true: delivered, the PBX could not be asked (AMI): AMI 127.0.0.1:{via_ami.port} refused"
        " the login of 'hotdesk': Authentication failed; sent by hotdesk instead: 200 OK (logged in)"
    )
    assert direct.sent == [("10.20.0.31", 5060, "check-sync;reboot=true")]
    assert "Ami-Secret-9" not in detail


def test_with_notify_fallback_off_nothing_else_is_sent(client, session, via_ami, direct):
    via_ami.refuse_login = True
    settings_registry().set(session, "notify_fallback", "off")
    session.commit()
    assert YealinkPhone(client, DESK_A).login("1001", "4321").findtext("Title") == "Logged in"
    [(_, detail)] = notify_history(session, 1)
    assert detail.startswith("check-sync;reboot=true: not delivered, the PBX could not be asked (AMI)")
    assert direct.sent == []


def route(peer_port: int, **changes) -> PbxRoute:
    server = ami.AmiServer("127.0.0.1", peer_port, "hotdesk", "Ami-Secret-9")
    return PbxRoute(server, **({"endpoint": "1001"} | changes))


def tell(notifier, pbx: PbxRoute) -> NotifyOutcome:
    return notifier.submit(
        DeviceNotify(host="10.20.0.31", port=5060, event="check-sync", reason="test", mac=DESK_A, pbx=pbx)
    ).result(timeout=20)


def test_unreachable_then_refused_endpoint_fall_back(engine, notifier, direct, peer):
    with socket_closed() as port:
        outcome = tell(notifier, route(port))
    assert outcome.delivered and "the PBX could not be asked (AMI): AMI 127.0.0.1" in outcome.detail
    assert outcome.detail.endswith("sent by hotdesk instead: 200 OK")

    unknown = tell(notifier, route(peer.port, endpoint="9999"))
    assert unknown.detail == (
        "the PBX refused (AMI PJSIPNotify, endpoint 9999): Unable to retrieve endpoint 9999;"
        " sent by hotdesk instead: 200 OK"
    )
    assert len(direct.sent) == 2


def test_a_dropped_connection_is_made_again(notifier, direct, peer):
    peer.drop_after_actions = 1  # Asterisk restarted: the kept connection is dead at the second action
    assert tell(notifier, route(peer.port)).detail.startswith("sent by the PBX")
    second = tell(notifier, route(peer.port))
    assert second.detail == "sent by the PBX (AMI PJSIPNotify, endpoint 1001): NOTIFY sent"
    assert peer.connections == 2 and direct.sent == []


def test_a_slow_answer_gives_up_and_the_next_one_reconnects(notifier, direct, peer, monkeypatch):
    monkeypatch.setattr(ami, "ANSWER_TIMEOUT", 0.3)
    peer.delay = 1.0
    slow = tell(notifier, route(peer.port))
    assert slow.detail.startswith(f"the PBX could not be asked (AMI): no answer from AMI 127.0.0.1:{peer.port}")
    assert slow.detail.endswith("sent by hotdesk instead: 200 OK") and len(direct.sent) == 1
    peer.delay = 0.0
    assert tell(notifier, route(peer.port)).detail.startswith("sent by the PBX")
    assert peer.connections == 2


def test_a_header_cannot_be_injected_through_the_endpoint(notifier, direct, peer):
    outcome = tell(notifier, route(peer.port, endpoint="1001\r\nAction: Originate"))
    assert "sent by hotdesk instead" in outcome.detail
    assert [a["action"] for a in peer.actions if a["action"] != ["Login"]] == []


class socket_closed:
    """A port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.create_server(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        self._sock.close()
        return port

    def __exit__(self, *exc) -> None:
        pass


def test_as_a_freepbx_admin_tries_it(client, session, peer, database_url, tmp_path, monkeypatch, direct):
    """The issue's trial: hotdesk pointed at a copy of the PBX's /etc/asterisk; the sync imports
    every extension with its secret and name; a PIN changed in voicemail.conf works at the phone on
    the next try and the old one does not; the phone displaced by a login elsewhere is told through
    the PBX's AMI; a broken line is reported with its line number and nothing is imported."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from hotdesk.cli import main
    from hotdesk.models import Extension

    etc = tmp_path / "etc-asterisk"
    shutil.copytree(Path(__file__).parent / "fixtures" / "asterisk" / "freepbx", etc)
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))

    def hotdesk(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    for name, value in {
        "asterisk_config_dir": etc,
        "directory_source": "asterisk",
        "notify_via": "ami",
        "ami_host": "127.0.0.1",
        "ami_port": peer.port,
        "ami_username": "hotdesk",
        "ami_secret": "Ami-Secret-9",
    }.items():
        assert hotdesk("settings", "set", name, value).exit_code == 0, name
    synced = hotdesk("sync", "asterisk")
    assert synced.exit_code == 0 and "4 added" in synced.stdout

    desk_a = YealinkPhone(client, DESK_A, ip="10.20.0.31")
    assert desk_a.login("1001", "4321").findtext("Title") == "Logged in"
    line = desk_a.boot()
    assert (line["account.1.password"], line["account.1.display_name"]) == (
        "5f4dcc3b5aa765d61d8327deb882cf99",
        "Alice Martin",
    )

    vm = etc / "voicemail.conf"
    vm.write_text(vm.read_text().replace("1001 => 4321,", "1001 => 8024,"))  # changed from the voicemail menu
    desk_b = YealinkPhone(client, DESK_B, ip="10.20.0.32")
    assert desk_b.login("1001", "4321").findtext("Title") == "Login failed"
    assert desk_b.login("1001", "8024").findtext("Title") == "Logged in"
    told = [n for n in peer.wait_for(3) if n.get("endpoint") == ["1001"]]
    assert len(told) == 1 and told[0]["variable"] == ["Event=check-sync;reboot=true"]
    assert direct.sent == []  # every NOTIFY went through the PBX

    endpoints = etc / "pjsip.endpoint.conf"
    endpoints.write_text(endpoints.read_text().replace("[1002]\n", "[1002\n") + "[1005]\ntype=endpoint\n")
    broken = hotdesk("sync", "asterisk")
    assert broken.exit_code == 1
    assert (
        broken.output
        == "Error: pjsip.endpoint.conf:46: a [section] line without its closing ']' or with text after it\n"
    )
    session.expire_all()
    assert sorted(session.scalars(select(Extension.number))) == ["1001", "1002", "1003", "2001"]

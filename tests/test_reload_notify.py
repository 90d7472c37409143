"""After login and logout the phone is told to reload: a real SIP peer (sipp) receives the NOTIFY."""

from sqlalchemy import select

from hotdesk import create_app
from hotdesk.config import Config
from hotdesk.models import Event
from hotdesk.notifications import notification_recorder
from hotdesk.notify import NotifyDispatcher
from tests.phones import RecordingNotifier, YealinkPhone
from tests.sipp import received_requests


def real_app(database_url, engine, tmp_path):
    from hotdesk.db import make_session_factory

    dispatcher = NotifyDispatcher(on_outcome=notification_recorder(make_session_factory(engine)))
    app = create_app(Config(database_url, "test-secret-key", 0, tmp_path), notifier=dispatcher)
    return app, dispatcher


def test_login_sends_check_sync_to_the_phone(database_url, engine, session, extensions, sipp_uas, tmp_path):
    peer = sipp_uas("check-sync;reboot=true")
    from hotdesk import settings_registry

    settings_registry().set(session, "phone_sip_port", str(peer.port))
    session.commit()
    app, dispatcher = real_app(database_url, engine, tmp_path)
    phone = YealinkPhone(app.test_client(), "001565aabb01", ip="127.0.0.1")

    answer = phone.login("1001", "4321")
    dispatcher.shutdown(wait=True)

    assert answer.findtext("Title") == "Logged in"
    assert peer.wait() == 0, peer.diagnostics()
    [request] = received_requests(peer.messages)
    assert request.startswith("NOTIFY sip:127.0.0.1:")
    assert "Event: check-sync;reboot=true" in request
    session.expire_all()
    [event] = session.scalars(select(Event).where(Event.kind == "notify"))
    assert event.mac == "001565aabb01" and event.ip == "127.0.0.1"
    assert "delivered, 200 OK" in event.detail


def test_reboot_false_setting_asks_for_a_reload_only(database_url, engine, session, extensions, sipp_uas, tmp_path):
    peer = sipp_uas("check-sync;reboot=false")
    from hotdesk import settings_registry

    registry = settings_registry()
    registry.set(session, "phone_sip_port", str(peer.port))
    registry.set(session, "yealink_notify_reboot", "false")
    session.commit()
    app, dispatcher = real_app(database_url, engine, tmp_path)
    phone = YealinkPhone(app.test_client(), "001565aabb01", ip="127.0.0.1")

    phone.login("1001", "4321")
    dispatcher.shutdown(wait=True)

    assert peer.wait() == 0, peer.diagnostics()


def test_unanswered_notify_is_recorded_as_not_delivered(database_url, engine, session, extensions, tmp_path):
    from hotdesk import settings_registry
    from tests.sipp import free_udp_port

    settings_registry().set(session, "phone_sip_port", str(free_udp_port()))
    session.commit()
    from hotdesk.db import make_session_factory
    from hotdesk.notify import send_notify

    def quick(host, port, event, *, user=None):
        return send_notify(host, port, event, user=user, retry_delays=(0.05,))

    dispatcher = NotifyDispatcher(on_outcome=notification_recorder(make_session_factory(engine)), sender=quick)
    app = create_app(Config(database_url, "k", 0, tmp_path), notifier=dispatcher)
    phone = YealinkPhone(app.test_client(), "001565aabb01", ip="127.0.0.1")

    answer = phone.login("1001", "4321")
    dispatcher.shutdown(wait=True)

    assert answer.findtext("Title") == "Logged in"  # the phone's answer did not wait for the NOTIFY
    session.expire_all()
    [event] = session.scalars(select(Event).where(Event.kind == "notify"))
    assert "not delivered" in event.detail


def test_notify_after_a_logout_goes_to_the_phone_not_to_whoever_asked(
    database_url, engine, session, extensions, sipp_uas, tmp_path
):
    """The logout arrives from another address than the phone's (its browser behind a proxy, or a
    key that reached someone else): the NOTIFY still goes where the phone fetches its files."""
    peer = sipp_uas("check-sync;reboot=true")
    from hotdesk import settings_registry

    settings_registry().set(session, "phone_sip_port", str(peer.port))
    session.commit()
    quiet = create_app(Config(database_url, "test-secret-key", 0, tmp_path), notifier=RecordingNotifier())
    phone = YealinkPhone(quiet.test_client(), "001565aabb01", ip="127.0.0.1")
    phone.login("1001", "4321")  # its NOTIFY goes nowhere: sipp answers one only
    phone.boot()
    menu = phone.press("Logout")

    app, dispatcher = real_app(database_url, engine, tmp_path)
    phone.client, phone.ip = app.test_client(), "192.0.2.50"
    answer = phone.choose(menu, "Logout")
    dispatcher.shutdown(wait=True)

    assert answer.findtext("Title") == "Logged out"
    assert peer.wait() == 0, peer.diagnostics()
    [request] = received_requests(peer.messages)
    assert request.startswith("NOTIFY sip:127.0.0.1:")
    session.expire_all()
    [event] = session.scalars(select(Event).where(Event.kind == "notify"))
    assert event.ip == "127.0.0.1" and "delivered, 200 OK" in event.detail

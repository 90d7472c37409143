"""The rules themselves, called directly on a database session: no HTTP, no XML."""

import pytest
from sqlalchemy import select

from hotdesk import hotdesking, settings_registry, templates
from hotdesk.hotdesking import LoggedIn, LoginFailure, Refused
from hotdesk.models import Address, Device, Event, Extension, Mapping, Template
from hotdesk.settings import CORE_SETTINGS, SettingValues
from hotdesk.snapshot import SnapshotCache
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD


@pytest.fixture
def registry():
    return settings_registry()


@pytest.fixture
def device(session):
    return hotdesking.record_device(
        session, brand="yealink", mac="001565aabb01", model="T46S", firmware="66.86.0.15", ip="10.0.0.9"
    )


@pytest.fixture
def alice(session):
    extension = Extension(number="1001", name="Alice", secret="a-secret", voicemail_pin="4321")
    session.add(extension)
    session.commit()
    return extension


def values(**stored: str) -> SettingValues:
    return SettingValues(CORE_SETTINGS, {spec.name: spec.default() for spec in CORE_SETTINGS} | stored)


SETTINGS = values(admin_password=ADMIN_PASSWORD, user_password=USER_PASSWORD)


@pytest.mark.parametrize(
    "pin, password, accepted",
    [
        ("4321", "4321", True),
        ("4321", USER_PASSWORD, False),  # the user password is only for extensions without a PIN
        ("4321", ADMIN_PASSWORD, True),
        (None, USER_PASSWORD, True),
        (None, ADMIN_PASSWORD, True),
        (None, "", False),
        ("4321", "43210", False),
    ],
)
def test_password_rules(pin, password, accepted):
    extension = Extension(number="1", name="x", secret="s", voicemail_pin=pin)
    assert hotdesking.verify_password(extension, password, SETTINGS) is accepted


def test_an_empty_global_password_never_matches():
    extension = Extension(number="1", name="x", secret="s", voicemail_pin=None)
    assert not hotdesking.verify_password(extension, "", values(admin_password="", user_password=""))


def test_login_maps_the_extension_to_the_device(session, registry, device, alice):
    result = hotdesking.login(session, registry.values(session), device, " 1001 ", "4321", Address.INTERNAL, "10.0.0.9")
    session.commit()
    assert result == LoggedIn(alice, [], "10.0.0.9")  # the login address, for its reload
    mapping = session.scalar(select(Mapping))
    assert (mapping.device, mapping.extension, mapping.address) == (device, alice, Address.INTERNAL)


def test_failed_login_changes_nothing_but_the_history(session, registry, device, alice):
    result = hotdesking.login(session, registry.values(session), device, "1001", "1111", Address.EXTERNAL)
    session.commit()
    assert result == Refused(LoginFailure.WRONG_PASSWORD)
    assert session.scalar(select(Mapping)) is None
    assert [e.kind for e in session.scalars(select(Event))] == ["login_failed"]


def test_login_without_the_chosen_address_configured_is_refused(session, registry, device, alice):
    registry.set(session, "external_address", "")
    result = hotdesking.login(session, registry.values(session), device, "1001", "4321", Address.EXTERNAL)
    session.commit()
    assert result == Refused(LoginFailure.ADDRESS_NOT_CONFIGURED)
    assert session.scalar(select(Mapping)) is None


def test_second_login_of_the_same_extension_displaces_the_first_phone(session, registry, device, alice):
    other = hotdesking.record_device(
        session, brand="yealink", mac="001565aabb02", model="T46S", firmware=None, ip="10.0.0.10"
    )
    hotdesking.login(session, registry.values(session), device, "1001", "4321", Address.EXTERNAL)
    session.commit()
    result = hotdesking.login(session, registry.values(session), other, "1001", "4321", Address.EXTERNAL)
    session.commit()
    assert result == LoggedIn(alice, [device], None)
    assert [m.device.mac for m in session.scalars(select(Mapping))] == ["001565aabb02"]


def test_device_config_guest_has_no_line(session, registry, device):
    config = hotdesking.device_config(session, device, SnapshotCache(registry).get(session))
    assert config.line is None and config.template.is_default


def test_device_config_describes_the_users_line(session, registry, device, alice):
    hotdesking.login(session, registry.values(session), device, "1001", "4321", Address.EXTERNAL)
    session.commit()
    line = hotdesking.device_config(session, device, SnapshotCache(registry).get(session)).line
    assert (line.username, line.auth_name, line.secret, line.registrar_host, line.registrar_port) == (
        "1001",
        "1001",
        "a-secret",
        "pbx.example.com",
        5080,
    )


def test_logout_returns_who_was_logged_in(session, registry, device, alice):
    hotdesking.login(session, registry.values(session), device, "1001", "4321", Address.EXTERNAL)
    session.commit()
    assert hotdesking.logout(session, device, actor="admin") is alice
    session.commit()
    assert hotdesking.logout(session, device) is None
    session.commit()
    logout = session.scalar(select(Event).where(Event.kind == "logout"))
    assert logout.actor == "admin"


def test_exactly_one_default_template_per_brand(session):
    session.add(Template(brand="yealink", name="sales", body="x"))
    session.commit()
    templates.set_default(session, "yealink", "sales")
    session.commit()
    defaults = list(session.scalars(select(Template.name).where(Template.brand == "yealink", Template.is_default)))
    assert defaults == ["sales"]


def test_the_database_refuses_two_defaults_for_a_brand(session):
    from sqlalchemy.exc import IntegrityError

    session.add(Template(brand="yealink", name="second", body="x", is_default=True))
    with pytest.raises(IntegrityError):
        session.commit()


def test_record_device_does_not_write_on_every_fetch(session, device):
    seen = device.last_seen
    again = hotdesking.record_device(
        session, brand="yealink", mac=device.mac, model="T46S", firmware="66.86.0.15", ip="10.0.0.9"
    )
    assert again.last_seen == seen
    moved = hotdesking.record_device(
        session, brand="yealink", mac=device.mac, model="T46S", firmware="66.86.0.15", ip="10.0.0.99"
    )
    assert moved.last_ip == "10.0.0.99"


def test_record_device_keeps_known_model_when_a_request_lacks_it(session, device):
    again = hotdesking.record_device(session, brand="yealink", mac=device.mac, model=None, firmware=None, ip="10.0.0.9")
    session.commit()
    assert (again.model, again.firmware) == ("T46S", "66.86.0.15")
    assert session.scalar(select(Device).where(Device.mac == device.mac)).model == "T46S"

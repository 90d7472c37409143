"""The phone app acts only for the device that proves itself (issue 11, M1).

The shared provisioning credentials are in every phone. With them, anyone on the LAN can fetch any
phone's guest file and take the phone-app token written in it. That token must not let them see
who sits at the phone, log them out, or log in over them; and a NOTIFY goes to the phone's known
address, never to whoever asked for the reload.
"""

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotdesk import settings_registry
from hotdesk.cli import main
from hotdesk.models import Event, Mapping
from tests.brands.aastra_phone import AastraPhone
from tests.brands.cisco_phone import CiscoSipPhone, CiscoSpaPhone
from tests.conftest import PROVISIONING
from tests.phones import YealinkPhone

VICTIM_MAC = "001565aabb01"
VICTIM_IP = "10.20.0.31"
ATTACKER_IP = "10.20.0.66"
NOT_OWN = "This key is not this phone's own"
IN_USE = "Someone is logged in on this phone from another address"


def token_of(url: str) -> str:
    return re.search(r"/phone/([^/]+)/", url).group(1)


def stolen_token(client, phone_class, mac: str, **kwargs) -> tuple:
    """What an attacker holding the shared credentials gets: the victim's guest file, fetched with the
    victim's own User-Agent and file names from the attacker's address, and the token in its keys."""
    attacker = phone_class(client, mac, ip=ATTACKER_IP, credentials=PROVISIONING, **kwargs)
    attacker.files = {name: attacker.fetch(name).data for name in attacker.provisioning_files()}
    attacker.config = attacker.read_config(attacker.files)
    return attacker, token_of(attacker.keys()["External"])


def logged_in(session) -> list[tuple[str, str]]:
    session.expire_all()
    return [(m.device.mac, m.extension.number) for m in session.scalars(select(Mapping))]


def logouts(session) -> int:
    session.expire_all()
    return len(list(session.scalars(select(Event).where(Event.kind == "logout"))))


# --- a phone with credentials of its own (Yealink) --------------------------------------------


def test_a_token_from_the_shared_credentials_cannot_see_log_out_or_log_in_over_the_user(client, session, extensions):
    victim = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    victim.apply_reload(victim.login("1001", "4321"))
    victim.boot()
    assert logged_in(session) == [(VICTIM_MAC, "1001")]

    attacker, token = stolen_token(client, YealinkPhone, VICTIM_MAC)
    assert attacker.line() is None  # the guest file: no secret, and a token that is not the phone's own

    menu = attacker.get(f"/phone/{token}/menu", browser=True)
    assert menu.status_code == 403 and NOT_OWN in attacker.text(attacker.parse_screen(menu.data))
    assert b"1001" not in menu.data and b"Alice" not in menu.data
    form = attacker.get(f"/phone/{token}/login/external", browser=True)
    assert form.status_code == 403 and NOT_OWN in attacker.text(attacker.parse_screen(form.data))

    # The victim's own menu hands out a logout URL with a valid screen state; with the shared token
    # in it (or a neutral User-Agent), it does nothing.
    own_menu = victim.press("Logout")
    logout_url = victim.menu_items(own_menu)["Logout"]
    for user_agent in (attacker.user_agent, "curl/8.0"):
        response = client.get(
            logout_url.replace(token_of(logout_url), token),
            headers={"User-Agent": user_agent},
            environ_base={"REMOTE_ADDR": ATTACKER_IP},
        )
        assert response.status_code == 403, response.data
    assert logged_in(session) == [(VICTIM_MAC, "1001")] and logouts(session) == 0

    # The phone's own keys still work, from its own address.
    answer = victim.choose(victim.press("Logout"), "Logout")
    assert "Goodbye" in victim.text(answer)
    assert logged_in(session) == []


def test_the_shared_token_of_a_phone_with_its_own_credentials_cannot_log_in_either(client, session, extensions):
    victim = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    victim.boot()  # a guest phone, with its own credentials
    attacker, token = stolen_token(client, YealinkPhone, VICTIM_MAC)
    form = attacker.get(f"/phone/{token}/login/external", browser=True)
    assert form.status_code == 403 and NOT_OWN in attacker.text(attacker.parse_screen(form.data))
    assert b"<YealinkIPPhoneInputScreen" not in form.data
    assert logged_in(session) == []
    victim.submit(victim.press("External"), extension="1001", password="4321")
    assert logged_in(session) == [(VICTIM_MAC, "1001")]


def test_old_tokens_die_with_the_credentials_they_were_issued_under(
    client, session, extensions, database_url, tmp_path, monkeypatch
):
    phone = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    phone.apply_reload(phone.login("1001", "4321"))
    phone.boot()
    old_logout_key = phone.keys()["Logout"]
    assert "Alice" in phone.text(phone.open(old_logout_key))

    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["devices", "reset-credentials", VICTIM_MAC])
    assert result.exit_code == 0, result.output

    response = phone.get(old_logout_key, browser=True)
    assert response.status_code == 403
    screen = phone.parse_screen(response.data)
    assert NOT_OWN in phone.text(screen) and "restart the phone" in phone.text(screen)
    assert b"Alice" not in response.data

    # After its factory reset the phone comes back with the shared credentials, is issued new ones,
    # and its new keys work; the old ones stay dead.
    phone.credentials = PROVISIONING
    phone.boot()
    phone.boot()
    new_logout_key = phone.keys()["Logout"]
    assert token_of(new_logout_key) != token_of(old_logout_key)
    assert "Alice" in phone.text(phone.open(new_logout_key))
    assert phone.get(old_logout_key, browser=True).status_code == 403
    phone.choose(phone.open(new_logout_key), "Logout")
    assert logged_in(session) == []


def test_every_app_url_of_a_phone_with_own_credentials_fits_in_a_cisco_url_field(client, session, extensions):
    """Own tokens are longer than shared ones: CiscoIPPhone URL fields still hold them (256 characters)."""
    registry = settings_registry()
    registry.set(session, "multiple_login", "deny")
    session.commit()
    far = "hotdesk-provisioning.branch-office-0042.example.com:8080"

    class FarSpa(CiscoSpaPhone):
        def fetch(self, filename):
            return self.get(f"http://{far}/provision/{filename}", auth=self.credentials)

    phone = FarSpa(client, "0004f2a1b2c3")
    other = FarSpa(client, "0004f2d4e5f6", ip="10.20.0.99")
    other.login("1001", "4321")
    menu = phone.login("1001", "4321")
    form = phone.choose(menu, "Log in here anyway")
    urls = [form.findtext("URL"), *phone.menu_items(menu).values(), *phone.keys().values()]
    assert all(url.startswith(f"http://{far}/phone/") for url in urls)
    assert max(len(url) for url in urls) <= 256, max(urls, key=len)


# --- phones without credentials of their own: the login's address -----------------------------


@pytest.mark.parametrize("phone_class", [AastraPhone, CiscoSipPhone], ids=["aastra", "cisco_sip"])
def test_without_own_credentials_only_the_login_address_touches_the_logged_in_user(
    client, session, extensions, notifier, phone_class
):
    phone = phone_class(client, "0004f2a1b2c3", ip=VICTIM_IP)
    phone.apply_reload(phone.login("1001", "4321"))
    phone.boot()
    assert phone.line()["secret"] == "alice-SIP-secret-9f3"
    notified = len(notifier.sent)

    attacker, token = stolen_token(client, phone_class, "0004f2a1b2c3")
    assert attacker.line() is None  # provisioning withholds the line from another address
    for path in (f"/phone/{token}/menu", f"/phone/{token}/login/external", f"/phone/{token}/reloaded"):
        response = attacker.get(path, browser=True)
        assert response.status_code == 403, (path, response.data)
        assert IN_USE in attacker.text(attacker.parse_screen(response.data))
        assert b"Alice" not in response.data and b"1001" not in response.data

    # A logout URL taken from the phone's own screen, replayed from elsewhere: refused.
    logout_url = phone.menu_items(phone.press("Logout"))["Logout"]
    response = attacker.get(logout_url, browser=True)
    assert response.status_code == 403 and IN_USE in attacker.text(attacker.parse_screen(response.data))
    assert logged_in(session) == [("0004f2a1b2c3", "1001")] and logouts(session) == 0
    assert len(notifier.sent) == notified  # and nobody was told to reload

    # From the address the login came from, the phone logs its user out.
    phone.apply_reload(phone.choose(phone.press("Logout"), "Logout"))
    assert logged_in(session) == []
    if phone_class is CiscoSipPhone:
        assert notifier.sent[-1].host == VICTIM_IP

    # A guest phone again: its token (anyone's) may log someone in on it.
    attacker.submit(attacker.press("External"), extension="1002", password="55667788")
    assert logged_in(session) == [("0004f2a1b2c3", "1002")]


def test_aastra_configuration_pages_carrying_the_secret_go_only_to_the_login_address(client, session, extensions):
    phone = AastraPhone(client, "00085d1a9870", ip=VICTIM_IP)
    answer = phone.login("1001", "4321")
    pages = [item.get("URI") for item in answer.iter("ExecuteItem") if "/configuration/" in item.get("URI")]
    attacker = AastraPhone(client, "00085d1a9870", ip=ATTACKER_IP)
    for page in pages:
        response = attacker.get(page, browser=True)
        assert response.status_code == 403 and b"alice-SIP-secret-9f3" not in response.data
    assert any(b"alice-SIP-secret-9f3" in phone.get(page, browser=True).data for page in pages)


# --- NOTIFY goes to the phone's known address ---------------------------------------------------


def test_notify_after_a_logout_goes_to_the_phone_not_to_the_requester(client, session, extensions, notifier):
    phone = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    phone.apply_reload(phone.login("1001", "4321"))
    phone.boot()
    menu = phone.press("Logout")
    # The phone's own key, arriving from another address (its browser behind a proxy, say): the
    # reload still goes where the phone fetches its files.
    phone.ip = ATTACKER_IP
    phone.choose(menu, "Logout")
    assert logged_in(session) == []
    assert notifier.sent[-1].host == VICTIM_IP


def test_a_displaced_phone_without_own_credentials_is_told_at_its_login_address(
    app, client, session, extensions, notifier
):
    first = CiscoSipPhone(client, "0004f2a1b2c3", ip=VICTIM_IP)
    first.login("1001", "4321")
    stolen_token(client, CiscoSipPhone, "0004f2a1b2c3")  # its file, fetched from elsewhere
    app.extensions["hotdesk"].sightings.flush()
    second = YealinkPhone(client, VICTIM_MAC, ip="10.20.0.32")
    second.login("1001", "4321")  # auto_logout: the Cisco is logged out, and told
    hosts = {request.mac: request.host for request in notifier.sent[-2:]}
    assert hosts == {"0004f2a1b2c3": VICTIM_IP, VICTIM_MAC: "10.20.0.32"}


def test_a_stolen_shared_token_cannot_use_up_the_phones_own_rate_limit(client, session, extensions):
    victim = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    victim.boot()
    attacker, token = stolen_token(client, YealinkPhone, VICTIM_MAC)
    statuses = [attacker.get(f"/phone/{token}/login/external", browser=True).status_code for _ in range(130)]
    assert statuses[-1] == 429
    victim.submit(victim.press("External"), extension="1001", password="4321")
    assert victim.last_response.status_code == 200
    assert logged_in(session) == [(VICTIM_MAC, "1001")]

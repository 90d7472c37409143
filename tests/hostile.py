"""The office a hostile neighbour attacks, and what must still hold after any attack.

`office`: one phone of every brand, each booted by its emulator from its own address with its user
logged in. `assert_unharmed(office, answers)`: nothing of any victim in the attacker's answers, in
any encoding; every victim still logged in, on the brand and model its phone declared, with the
provisioning credentials it was issued; no NOTIFY to the attacker; every victim's phone still gets
its line, and every victim can still log in at their own phone.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets as random_secrets
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import select
from werkzeug.datastructures import WWWAuthenticate

from hotdesk import hotdesking, published, settings_registry
from hotdesk.models import Address, Device, Extension
from tests.brands import EMULATORS
from tests.brands.test_digium import DigiumPhone
from tests.phones import Phone, YealinkPhone

ATTACKER = "10.66.6.6"
NEUTRAL_AGENT = "curl/8.5.0"
SECRET_KEY = "test-secret-key"  # tests/conftest.py's running_app
ATTACKER_EXTENSION, ATTACKER_PIN = "2000", "86420975"

# Brands that hold credentials of their own first, then the two that cannot.
VICTIM_BRANDS = ["yealink", "polycom", "cisco_spa", "snom", "grandstream", "fanvil", "digium", "aastra", "cisco_sip"]
PHONES: dict[str, type[Phone]] = EMULATORS | {"digium": DigiumPhone}


@dataclass
class Victim:
    brand: str
    phone: Phone
    number: str
    pin: str
    name: str
    secret: str
    described: tuple[str, str | None, str | None] = ("", None, None)  # brand, model, firmware its phone declared
    provisioning: tuple[str | None, str | None] = (None, None)

    @property
    def mac(self) -> str:
        return self.phone.mac

    @property
    def provisioning_username(self) -> str | None:
        return self.provisioning[0]


@dataclass
class Office:
    app: object
    notifier: object
    victims: list[Victim] = field(default_factory=list)

    @property
    def by_mac(self) -> dict[str, Victim]:
        return {v.mac: v for v in self.victims}


def victim(office: Office, brand: str) -> Victim:
    return next(v for v in office.victims if v.brand == brand)


def set_setting(session, name: str, value: str) -> bool:
    """Set a runtime setting if this version of hotdesk has it; whether it had."""
    registry = settings_registry()
    if name not in registry.specs:
        return False
    registry.set(session, name, value)
    session.commit()
    return True


def admit(app, mac: str, address: str) -> None:
    """What an admin does for a new phone that waits (device_admission approve): admit it, at the
    address its phone fetched from."""
    from hotdesk.admin import phones as admin_phones

    if not hasattr(admin_phones, "admit"):
        return  # a hotdesk without admission: every phone is served as under `open`
    with app.extensions["hotdesk"].sessions() as session:
        device = session.scalar(select(Device).where(Device.mac == mac))
        if device is not None and not device.admitted:
            admin_phones.admit(session, mac, "ann", address=address)
            session.commit()  # the edge commits (the console's request would)


def build_office(app, client, session, notifier, admission: str = "open") -> Office:
    """`admission`: the device_admission setting the office runs under (approve: an admin admits each phone)."""
    registry = settings_registry()
    set_setting(session, "device_admission", admission)
    office = Office(app, notifier)
    session.add(
        Extension(
            number=ATTACKER_EXTENSION, name="Mallory Neighbour", secret="mallory-own-secret", voicemail_pin=ATTACKER_PIN
        )
    )
    for index, brand in enumerate(VICTIM_BRANDS):
        number = f"31{index:02d}"
        pin = f"{58301947 + index * 7919}"
        secret = f"SipSecret{brand.replace('_', '')}{random_secrets.token_hex(8)}"
        session.add(
            Extension(number=number, name=f"Zora {brand.replace('_', '')} Victim", secret=secret, voicemail_pin=pin)
        )
        office.victims.append(
            Victim(
                brand,
                PHONES[brand](client, f"00a0b0c0d0{index + 0x11:02x}", ip=f"10.20.0.{11 + index}"),
                number,
                pin,
                f"Zora {brand.replace('_', '')} Victim",
                secret,
            )
        )
    session.commit()

    for v in office.victims:
        phone = v.phone
        phone.boot()
        admit(app, v.mac, phone.ip)
        if getattr(phone, "has_login_app", True):
            answer = phone.login(v.number, v.pin)
            assert "Welcome" in phone.text(answer), (v.brand, phone.text(answer))
            phone.apply_reload(answer)
        else:
            phone.boot()  # issued its credentials once admitted
            device = session.scalar(select(Device).where(Device.mac == v.mac))
            result = hotdesking.login(
                session, registry.values(session), device, v.number, v.pin, Address.EXTERNAL, phone.ip
            )
            assert isinstance(result, hotdesking.LoggedIn), result
            session.commit()
        phone.boot()
        assert phone.line() and phone.line()["secret"] == v.secret, v.brand
        session.expire_all()
        device = session.scalar(select(Device).where(Device.mac == v.mac))
        v.described = (device.brand, device.model, device.firmware)
        v.provisioning = (device.provisioning_username, device.provisioning_password)
        assert device.brand == v.brand
    assert (victim(office, "yealink").provisioning_username is not None) and (
        victim(office, "aastra").provisioning_username is None
    )
    return office


MINTED_PREFIX = "02bad0"


def mint_phone(client, index: int) -> YealinkPhone:
    """A phone the attacker makes up: a new MAC, the shared credentials, the attacker's address.
    Booted if hotdesk serves it (it may refuse, or rate-limit, new MACs from one address)."""
    phone = YealinkPhone(client, f"{MINTED_PREFIX}{index:06x}", ip=ATTACKER)
    for name in phone.provisioning_files():
        response = phone.fetch(name)
        if response.status_code != 200:
            return phone
        phone.files[name] = response.data
    phone.config = phone.read_config(phone.files)
    user, password = phone.credential_settings
    if user in phone.config:
        phone.credentials = (phone.config[user], phone.config[password])
        phone.server_url = phone.config.get("static.auto_provision.server.url", phone.server_url)
    return phone


def user_agents(client, mac: str) -> list[str]:
    """Every brand's User-Agents for this MAC (provisioning client and XML browser), and a neutral one."""
    agents = [NEUTRAL_AGENT, "", "Mozilla/5.0"]
    for emulator in PHONES.values():
        phone = emulator(client, mac)
        agents += [phone.user_agent, phone.browser_user_agent or phone.user_agent]
    dashed = "-".join(mac[i : i + 2] for i in range(0, 12, 2)).upper()
    agents += [
        f"Yealink SIP-T46S 66.86.0.15 {':'.join(mac[i : i + 2] for i in range(0, 12, 2)).upper()}",
        f"Mitel6867i MAC:{dashed} V:5.1.0.2048-SIP",
        f"Cisco-CP-8845-3PCC/11.3.1 ({mac.upper()})",
        "Cisco-CP7841/12.8.1",
        f"Grandstream GXP2160 (gxp2160fw.bin:1.0.11.3) DevId {mac}",
        "digium_D40_1_0_5_46476",
        f"Fanvil X6U 2.12.1 {mac}",
    ]
    return list(dict.fromkeys(agents))


def device_files(v: Victim) -> list[str]:
    """Every brand's names for the victim's own file(s), and the files its phone fetched."""
    m, M = v.mac, v.mac.upper()
    names = [
        f"{m}.cfg",
        f"{M}.cfg",
        f"{m}-user.cfg",
        f"{m}.xml",
        f"{M}.xml",
        f"SEP{M}.cnf.xml",
        f"SEP{m}.cnf.xml",
        f"snom710-{M}.htm",
        f"cfg{m}.xml",
        f"Digium/{m}.cfg",
    ]
    return list(dict.fromkeys(names + list(v.phone.files)))


def tokens_in(body: bytes) -> set[str]:
    return {token.decode() for token in re.findall(rb"/phone/([A-Za-z0-9_.\-]+)/", body)}


def encodings(secret: str) -> set[bytes]:
    """The secret as it could appear in an answer: plain, URL- or HTML-escaped, hex, base64 at any alignment."""
    raw = secret.encode()
    found = {raw, quote(secret, safe="").encode(), html.escape(secret).encode(), raw.hex().encode()}
    for shift in range(3):
        padded = b"\x00" * shift + raw
        for encoded in (base64.b64encode(padded), base64.urlsafe_b64encode(padded)):
            found.add(encoded.rstrip(b"=")[4 if shift else 0 : -4])  # drop the groups the prefix or the end touched
    return found


def secrets_of(v: Victim) -> dict[str, str]:
    found = {"SIP secret": v.secret}
    _, password = v.provisioning
    if password:
        found["own provisioning password"] = password
        found["fast-path signature"] = published.signature(SECRET_KEY, v.mac, password)
    return found


def assert_no_leak(office: Office, answers) -> None:
    for label, response in answers:
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items()).encode()
        text = response.data + b"\n" + headers
        for v in office.victims:
            for what, secret in secrets_of(v).items():
                leaked = secret.lower().encode() in text.lower() or any(form in text for form in encodings(secret))
                assert not leaked, f"{v.brand} victim's {what} in the answer to {label!r} ({response.status_code})"


def assert_unharmed(office: Office, answers) -> None:
    assert_no_leak(office, answers)
    assert_in_place(office)
    assert_not_locked_out(office)


def assert_in_place(office: Office) -> None:
    """Every victim still logged in where they were, on the brand and credentials their phone has;
    no NOTIFY went to the attacker; every victim's phone still gets its line."""
    sent_to_attacker = [r for r in office.notifier.sent if r.host == ATTACKER]
    assert not sent_to_attacker, f"NOTIFY sent to the attacker: {sent_to_attacker}"
    hotdesk = office.app.extensions["hotdesk"]
    hotdesk.sightings.flush()
    with hotdesk.sessions() as session:
        for v in office.victims:
            device = session.scalar(select(Device).where(Device.mac == v.mac))
            assert (device.brand, device.model, device.firmware) == v.described, f"{v.brand} victim re-branded"
            assert device.mapping is not None, f"{v.brand} victim logged out"
            assert device.mapping.extension.number == v.number, f"{v.brand} victim's login replaced"
            assert device.provisioning_username == v.provisioning_username, f"{v.brand} victim's credentials changed"
    for v in office.victims:
        v.phone.boot()
        assert v.phone.line() and v.phone.line()["secret"] == v.secret, f"{v.brand} victim's phone lost its line"


def assert_not_locked_out(office: Office, only: list[Victim] | None = None) -> None:
    """Each victim logs in again at their own phone, with their own PIN."""
    for v in only or office.victims:
        phone = v.phone
        if getattr(phone, "has_login_app", True):
            keys = phone.keys()
            if "Logout" in keys:
                menu = phone.press("Logout")
                _assert_answered(v, phone, menu)
                form = phone.choose(menu, "Login")
            else:
                form = phone.press("External")
            _assert_answered(v, phone, form)
            answer = phone.submit(form, extension=v.number, password=v.pin)
            assert "Welcome" in phone.text(answer), f"{v.brand} victim cannot log in: {phone.text(answer)}"
            phone.apply_reload(answer)
        else:
            hotdesk = office.app.extensions["hotdesk"]
            with hotdesk.sessions() as session:
                device = session.scalar(select(Device).where(Device.mac == v.mac))
                result = hotdesking.login(
                    session, hotdesk.settings.values(session), device, v.number, v.pin, Address.EXTERNAL, phone.ip
                )
                assert isinstance(result, hotdesking.LoggedIn), f"{v.brand} victim cannot log in: {result}"
                session.commit()
        phone.boot()
        assert phone.line()["secret"] == v.secret


def _assert_answered(v: Victim, phone: Phone, screen) -> None:
    status = phone.last_response.status_code
    assert status == 200, f"{v.brand} victim's own phone is refused ({status}): {phone.text(screen)}"


class Digest:
    """An HTTP Digest client (RFC 7616, MD5): one nonce from the first challenge, nc counting up."""

    def __init__(self, client, username: str, password: str, *, ip: str, qop: bool = True):
        self.client, self.username, self.password, self.ip, self.qop = client, username, password, ip, qop
        self.nonce = self.realm = None
        self.count = 0
        self.last_authorization = None

    def _get(self, path, agent, **headers):
        return self.client.get(path, headers={"User-Agent": agent, **headers}, environ_base={"REMOTE_ADDR": self.ip})

    def get(self, path: str, agent: str):
        if self.nonce is None:
            challenge = self._get(path, agent)
            offer = next(h for h in challenge.headers.getlist("WWW-Authenticate") if h.startswith("Digest"))
            parameters = WWWAuthenticate.from_header(offer).parameters
            self.nonce, self.realm = parameters["nonce"], parameters["realm"]
        self.count += 1
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"GET:{path}")
        common = f'Digest username="{self.username}", realm="{self.realm}", nonce="{self.nonce}", uri="{path}"'
        if self.qop:
            nc, cnonce = f"{self.count:08x}", random_secrets.token_hex(8)
            answer = _md5(f"{ha1}:{self.nonce}:{nc}:{cnonce}:auth:{ha2}")
            header = f'{common}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{answer}", algorithm=MD5'
        else:
            header = f'{common}, response="{_md5(f"{ha1}:{self.nonce}:{ha2}")}", algorithm=MD5'
        self.last_authorization = header
        return self._get(path, agent, Authorization=header)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

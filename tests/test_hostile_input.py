"""Hostile input on every phone-facing route: no 5xx, well-formed answers, nothing written, no leak."""

import random
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import func, select

from hotdesk import settings_registry
from hotdesk.models import Device, Extension, Mapping
from tests.brands import EMULATORS
from tests.conftest import ADMIN_PASSWORD, PROVISIONING, USER_PASSWORD
from tests.phones import YealinkPhone, parse_xml

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SECRETS = ("alice-SIP-secret-9f3", "bob-SIP-secret-77a", USER_PASSWORD, ADMIN_PASSWORD)
YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:01"

nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["<", "&", "]]>", "\"'", "../../etc/passwd", "%00", "\x00", "A" * 4096, "é€😀", "{{7*7}}", "{% raw %}"]
    ),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)
user_agents = st.one_of(
    st.just(YEALINK_UA),
    st.just("Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:02"),
    st.just("Aastra6739i MAC:00-08-5D-13-CA-05 V:3.2.1.1013-SIP"),
    st.text(max_size=80).filter(lambda t: "\n" not in t and "\r" not in t),
)


def counts(session):
    session.expire_all()
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Device, Extension, Mapping))


def assert_answer_is_sane(response):
    assert response.status_code < 500, response.data[:500]
    body = response.data
    for secret in SECRETS:
        assert secret.encode() not in body
    if response.content_type.startswith("text/xml"):
        parse_xml(body)  # well-formed, whatever was typed


@pytest.fixture(autouse=True)
def no_rate_limits(session):
    """Fuzzing sends far more than a phone would; tests/test_rate_limits.py covers the limits."""
    registry = settings_registry()
    for name in ("device_requests_per_minute", "anonymous_requests_per_minute"):
        registry.set(session, name, "0")
    session.commit()


@pytest.fixture
def known_phone(client, extensions, session):
    phone = YealinkPhone(client, "001565aabb01")
    phone.boot()
    return phone


@FUZZ
@given(
    segment=nasty_text,
    address=nasty_text,
    state=nasty_text,
    extension=nasty_text,
    password=nasty_text,
    agent=user_agents,
)
def test_phone_app_survives_anything(client, known_phone, session, segment, address, state, extension, password, agent):
    token = known_phone.keys()["External"].split("/phone/")[1].split("/")[0]
    before = counts(session)
    paths = [
        f"/phone/{quote(segment, safe='')}/login/external",
        f"/phone/{token}/login/{quote(address, safe='')}",
        f"/phone/{token}/login/external/submit/{quote(state, safe='')}",
        f"/phone/{token}/logout/{quote(state, safe='')}",
        f"/phone/{token}/login/external/override",
        f"/phone/{token}/menu",
    ]
    for path in paths:
        response = client.get(
            path,
            query_string={"extension": extension, "password": password, "number": extension},
            headers={"User-Agent": agent},
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        )
        assert_answer_is_sane(response)
    assert counts(session) == before


@FUZZ
@given(filename=nasty_text, agent=user_agents, with_credentials=st.booleans())
def test_provisioning_survives_anything(client, extensions, session, filename, agent, with_credentials):
    before = counts(session)
    response = client.get(
        "/provision/" + quote(filename, safe="/"),
        headers={"User-Agent": agent},
        auth=PROVISIONING if with_credentials else None,
    )
    assert_answer_is_sane(response)
    assert response.status_code in (200, 308, 401, 404, 429)
    assert counts(session)[1:] == before[1:]  # a known phone may be recorded; nothing else changes


@FUZZ
@given(raw=st.binary(min_size=1, max_size=200))
def test_non_utf8_query_values_are_answered_in_the_phones_dialect(client, known_phone, session, raw):
    form = known_phone.press("External")
    url = form.findtext("URL")
    response = client.get(f"{url}?extension={quote(raw)}&password=%ff%fe%c3%28", headers={"User-Agent": YEALINK_UA})
    assert_answer_is_sane(response)
    assert etree.fromstring(response.data).tag == "YealinkIPPhoneTextScreen", (
        response.status_code,
        response.data[:200],
    )
    assert counts(session)[2] == 0


def test_secret_leak_scan_over_thousands_of_mac_file_names(client, extensions, session):
    YealinkPhone(client, "001565aabb01").login("1001", "4321")
    YealinkPhone(client, "001565aabb02").login("1002", USER_PASSWORD)
    rng = random.Random(1234)
    macs = ["001565aabb01", "001565aabb02"] + [f"001565{rng.getrandbits(24):06x}" for _ in range(1500)]
    for mac in macs:
        spoofed_ua = f"Yealink SIP-T46S 66.86.0.15 {':'.join(mac[i : i + 2] for i in range(0, 12, 2))}"
        for auth in (None, PROVISIONING, ("phones", "guess"), ("hd000000000000", "x")):
            for agent in (spoofed_ua, YEALINK_UA, "curl/8"):
                response = client.get(f"/provision/{mac}.cfg", headers={"User-Agent": agent}, auth=auth)
                for secret in SECRETS:
                    assert secret.encode() not in response.data, (mac, auth, agent)


@pytest.mark.parametrize("brand", sorted(EMULATORS))
def test_leak_scan_across_brands(client, extensions, session, brand):
    """A logged-in phone of each brand; hundreds of other MACs' files, asked for by a phone that
    spoofs them in its User-Agent or not, with and without credentials: nobody's secret comes back."""
    owner = EMULATORS[brand](client, "0004f2a1b2c3")
    if getattr(owner, "has_login_app", True):
        owner.login("1001", "4321")
    owner.boot()
    rng = random.Random(brand)
    for _ in range(200):
        mac = f"{rng.getrandbits(48):012x}"
        # The owner's own file names, with the victim's MAC in place of the owner's.
        victim_files = [n.replace(owner.mac, mac).replace(owner.mac.upper(), mac.upper()) for n in owner.files]
        for asker in (EMULATORS[brand](client, mac), owner):
            for auth in (None, PROVISIONING, ("hd" + mac, "guess")):
                for name in victim_files:
                    response = asker.get(f"/provision/{name}", auth=auth)
                    assert response.status_code < 500
                    for secret in SECRETS:
                        assert secret.encode() not in response.data, (brand, name, auth)

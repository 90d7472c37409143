"""The hostile neighbour over real sockets: the victims' phones talk to a live server from 127.0.0.1,
the attacker from 127.0.0.2 — an address a header cannot fake (the server trusts no proxy)."""

from __future__ import annotations

import http.client

import pytest
from sqlalchemy import select

from hotdesk.models import Device, Extension
from tests.brands import EMULATORS
from tests.conftest import PROVISIONING
from tests.hostile import NEUTRAL_AGENT, tokens_in
from tests.live_http import LiveClient

ATTACKER = "127.0.0.2"


class AttackerClient(LiveClient):
    """A LiveClient whose connections leave from the attacker's address."""

    def _connect(self, scheme, netloc):
        connection = http.client.HTTPConnection(netloc, timeout=self.timeout, source_address=(ATTACKER, 0))
        self._connections[(scheme, netloc)] = connection
        return connection


@pytest.mark.parametrize("brand", ["aastra", "cisco_sip", "yealink"])
def test_a_victim_logged_in_from_its_own_address_keeps_its_line_from_another(live_server, session, brand):
    secret = f"live-SIP-secret-{brand}-5c1e"
    session.add(Extension(number="4100", name="Quinn Livevictim", secret=secret, voicemail_pin="61803398"))
    session.commit()
    url = live_server.url()
    phone = EMULATORS[brand](LiveClient(url), "00a0b0c0e0f1")
    answer = phone.login("4100", "61803398")
    phone.apply_reload(answer)
    phone.boot()
    assert phone.line()["secret"] == secret  # the phone itself, from 127.0.0.1

    attacker = AttackerClient(url)
    answers = []
    for name in phone.files:
        for headers in (
            {"User-Agent": phone.user_agent},
            {"User-Agent": phone.user_agent, "X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"},
        ):
            answers.append(attacker.get(f"/provision/{name}", headers=headers, auth=PROVISIONING))
    tokens = {t for response in answers if response.status_code == 200 for t in tokens_in(response.data)}
    for token in tokens:
        for agent in (NEUTRAL_AGENT, phone.browser_user_agent or phone.user_agent):
            menu = attacker.get(f"/phone/{token}/menu", headers={"User-Agent": agent})
            answers.append(menu)
            assert b"Livevictim" not in menu.data, "the attacker reads who sits there"
    for response in answers:
        assert secret.encode() not in response.data
    session.expire_all()
    device = session.scalar(select(Device).where(Device.mac == phone.mac))
    assert device.mapping is not None and device.brand == brand
    attacker.close()

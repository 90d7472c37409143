"""A real Linphone (linphonec) registers with the account a manual sign-in got from a real hotdesk
server (gunicorn): the person changes the generated password through /app/v1/, the app's
configuration URL is its config-uri, and kamailio checks the SIP secret; the SIP secret typed as
the password gets nothing."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from tests.test_linphone import IDENTITY, SECRET, alice, cli, registrar, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def post(server, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{server.url}/app/v1/{path}",
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "User-Agent": "Linphone-Desktop/5.1.65"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_a_manual_sign_in_gives_linphone_an_account_that_registers(cli, alice, registrar, server, linphones):
    generated = re.search(r"^user password: (\S+)$", cli("users", "set-password", alice), re.MULTILINE).group(1)
    domain = "127.0.0.1"  # the default tenant's: its external_address's host
    status, found = post(server, "discover", {"sip_domain": domain, "server": "127.0.0.1"})
    assert (status, found["tenant"]) == (200, "default")
    status, refused = post(server, "sign-in", {"sip_domain": domain, "username": alice, "password": SECRET})
    assert status == 401 and SECRET not in json.dumps(refused)

    body = {"sip_domain": domain, "username": alice, "password": generated, "new_password": "Alice's own passphrase"}
    status, answer = post(server, "change-password", body)
    assert status == 200
    account = answer["account"]
    assert account["password"] == SECRET and account["identity"] == IDENTITY

    app = linphones(account["provisioning_url"])

    assert app.registered_identity() == IDENTITY
    assert [(r.result, r.auth_name) for r in registrar.registers()] == [("ok", "1001")]
    assert "\tactive\t" in cli("users", "apps", alice)
    assert SECRET not in server.log() and generated not in server.log()

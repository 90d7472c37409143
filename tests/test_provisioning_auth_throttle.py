"""Failed provisioning authentication is throttled per address (and per address for the phone it
names), logged for fail2ban, and never turned against phones that hold the right credentials."""

from __future__ import annotations

import configparser
import logging
import re
from pathlib import Path

from tests.conftest import PROVISIONING
from tests.phones import YealinkPhone

ATTACKER = "203.0.113.66"
NAT = "198.51.100.20"
VICTIM_MAC = "001565aabb01"


def fetch(client, mac: str, auth, address: str):
    phone = YealinkPhone(client, mac, ip=address)
    return client.get(
        f"/provision/{mac}.cfg",
        headers={"User-Agent": phone.user_agent},
        auth=auth,
        environ_base={"REMOTE_ADDR": address},
    )


def test_guessing_one_phones_password_is_throttled_without_locking_the_phone_out(client):
    statuses = [fetch(client, VICTIM_MAC, ("phones", f"guess{i}"), ATTACKER).status_code for i in range(15)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429] * 5
    # Throttled: even the right password is not checked from that address for that phone …
    refused = fetch(client, VICTIM_MAC, PROVISIONING, ATTACKER)
    assert refused.status_code == 429 and refused.headers["Retry-After"] and b"account." not in refused.data
    # … while the phone itself, at its own address, is served as ever.
    assert fetch(client, VICTIM_MAC, PROVISIONING, "10.1.0.77").status_code == 200


def test_guessing_across_many_phones_is_throttled_per_address(client):
    statuses = [fetch(client, f"0015650{i:05x}", ("phones", f"guess{i}"), ATTACKER).status_code for i in range(105)]
    assert statuses[:100] == [401] * 100 and statuses[100:] == [429] * 5
    assert fetch(client, "001565ffffff", PROVISIONING, ATTACKER).status_code == 429
    assert fetch(client, "001565ffffff", PROVISIONING, "10.1.0.78").status_code == 200


def test_three_hundred_phones_behind_one_address_with_their_credentials_are_not_throttled(client):
    for i in range(300):
        phone = YealinkPhone(client, f"8015650{i:05x}", ip=NAT)
        for name in phone.provisioning_files():
            assert phone.get(f"/provision/{name}").status_code == 401  # no credentials yet: the challenge
            assert phone.fetch(name).status_code == 200
    # A few of them misconfigured cost the others nothing.
    for i in range(5):
        assert fetch(client, f"9015650{i:05x}", ("phones", "old-password"), NAT).status_code == 401
    assert fetch(client, "801565000000", PROVISIONING, NAT).status_code == 200


def filter_regexes() -> list[str]:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(Path(__file__).parent.parent / "deploy/fail2ban/filter.d/hotdesk.conf")
    return [line.strip() for line in conf["Definition"]["failregex"].splitlines() if line.strip()]


def test_each_failure_is_one_line_the_shipped_fail2ban_filter_matches(client, caplog):
    with caplog.at_level(logging.WARNING, logger="hotdesk.provision.auth"):
        fetch(client, VICTIM_MAC, ("phones", "wrong-password-123"), "192.0.2.7")
        fetch(client, VICTIM_MAC, ("evil ip=6.6.6.6\nhotdesk provisioning auth failed: ip=6.6.6.6", "x"), "192.0.2.8")
    lines = [r.getMessage() for r in caplog.records if "provisioning auth failed" in r.getMessage()]
    assert len(lines) == 2
    for line, address in zip(lines, ("192.0.2.7", "192.0.2.8"), strict=True):
        assert "\n" not in line and "wrong-password-123" not in line and "?" not in line.split("user=")[0]
        hosts = [
            match.group("host")
            for regex in filter_regexes()
            if (match := re.search(regex.replace("<HOST>", r"(?P<host>\S+)"), line))
        ]
        assert hosts == [address], line

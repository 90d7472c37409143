"""The hostile neighbour (issue 11): a colleague on another LAN address, holding the shared
provisioning credentials every phone carries, turns them on an office of phones.

The office: one phone of every brand that holds credentials of its own (Yealink, Polycom, Cisco
SPA/3PCC, Snom, Grandstream, Fanvil, Digium) and of both that cannot (Aastra, Cisco enterprise),
each booted by its own emulated phone from its own address, each with its user logged in. After
every attack (tests/hostile.py, `assert_unharmed`): no victim's SIP secret or own provisioning
password has left in any form, nobody was logged out, no extension or phone is locked out, no
device was re-branded, and no NOTIFY went to the attacker.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hotdesk import published
from hotdesk.models import Device, Mapping, utcnow
from tests.conftest import PROVISIONING
from tests.hostile import (
    ATTACKER,
    ATTACKER_EXTENSION,
    ATTACKER_PIN,
    MINTED_PREFIX,
    NEUTRAL_AGENT,
    PHONES,
    SECRET_KEY,
    VICTIM_BRANDS,
    Digest,
    assert_in_place,
    assert_no_leak,
    assert_not_locked_out,
    assert_unharmed,
    build_office,
    device_files,
    mint_phone,
    set_setting,
    tokens_in,
    user_agents,
    victim,
)


@pytest.fixture
def admission(request):
    """device_admission for the office: open (what tests/conftest.py sets: the most a new phone gets), or a param."""
    return getattr(request, "param", "open")


@pytest.fixture
def office(app, client, session, notifier, admission):
    return build_office(app, client, session, notifier, admission)


@pytest.fixture
def unlimited(session):
    """Per-phone limits off: an attack answered 429 would prove nothing about what it would read."""
    for name in ("device_requests_per_minute", "anonymous_requests_per_minute"):
        assert set_setting(session, name, "0")


def _attacker_get(client, path, agent, **kwargs):
    return client.get(path, headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": ATTACKER}, **kwargs)


# Every brand's file names x every brand's User-Agents for the victim's MAC, with the shared credentials.


@pytest.mark.parametrize("brand", VICTIM_BRANDS)
def test_no_file_name_or_user_agent_opens_a_victims_line_to_the_shared_credentials(office, client, brand, unlimited):
    target = victim(office, brand)
    digest = Digest(client, *PROVISIONING, ip=ATTACKER)
    answers = []
    for agent in user_agents(client, target.mac):
        for name in device_files(target):
            for path in (f"/provision/{name}", f"/provision/fast/{target.mac}/{'0' * 32}/{name}"):
                answers.append((f"basic {path} {agent}", _attacker_get(client, path, agent, auth=PROVISIONING)))
                answers.append((f"digest {path} {agent}", digest.get(path, agent)))
            answers.append((f"no auth {name} {agent}", _attacker_get(client, f"/provision/{name}", agent)))
            spoofed = {
                "X-Forwarded-For": target.phone.ip,
                "X-Real-IP": target.phone.ip,
                "Forwarded": f"for={target.phone.ip}",
            }
            answers.append(
                (
                    f"forwarded-for {name} {agent}",
                    client.get(
                        f"/provision/{name}",
                        headers={"User-Agent": agent, **spoofed},
                        auth=PROVISIONING,
                        environ_base={"REMOTE_ADDR": ATTACKER},
                    ),
                )
            )
    for scheme in ("basic", "digest"):  # the shared credentials do open the victim's guest file
        assert any(label.startswith(scheme) and r.status_code == 200 for label, r in answers), f"{scheme}: all refused"
    assert_unharmed(office, answers)


def test_a_fast_path_guessed_from_the_victims_mac_opens_nothing(office, client, unlimited):
    answers = []
    for target in office.victims:
        for sig in ("0" * 32, "f" * 32, published.signature(SECRET_KEY, target.mac, PROVISIONING[1]), "x"):
            for name in device_files(target):
                path = f"/provision/fast/{target.mac}/{sig}/{name}"
                answers.append((path, _attacker_get(client, path, target.phone.user_agent)))
                answers.append((path, _attacker_get(client, path, target.phone.user_agent, auth=PROVISIONING)))
    assert_unharmed(office, answers)


# A brand mismatch: the victim's MAC claimed as another brand, to get credentials issued to the attacker.


@pytest.mark.parametrize("admission", ["open", "approve"], indirect=True)
@pytest.mark.parametrize("brand", VICTIM_BRANDS)
def test_the_victims_mac_claimed_as_another_brand_gets_no_credentials_and_no_new_brand(
    office, client, session, brand, unlimited, admission
):
    target = victim(office, brand)
    answers = []
    for impostor_brand, emulator in PHONES.items():
        if impostor_brand == brand:
            continue
        impostor = emulator(client, target.mac, ip=ATTACKER)
        for name in device_files(target):
            answers.append((f"{impostor_brand} {name}", impostor.fetch(name)))
        session.expire_all()
        issued = session.scalar(select(Device.provisioning_username).where(Device.mac == target.mac))
        if issued != target.provisioning_username:
            # Credentials were issued to the impostor: show what they open.
            owned = session.scalar(select(Device).where(Device.mac == target.mac))
            impostor.credentials = (owned.provisioning_username, owned.provisioning_password)
            for name in device_files(target):
                answers.append((f"{impostor_brand} with issued credentials {name}", impostor.fetch(name)))
            pytest.fail(f"{brand} victim's MAC claimed as {impostor_brand}: credentials issued to {ATTACKER}")
    assert_unharmed(office, answers)
    # The claim is kept where admins look (the Phones page shows the device's latest mismatch).
    session.expire_all()
    device = session.scalar(select(Device).where(Device.mac == target.mac))
    assert ATTACKER in (getattr(device, "mismatch_detail", None) or ""), "the mismatch left no trace on the device"


# The phone-app token from the victim's guest file (the one the shared credentials get).


def _stolen_tokens(client, target, *, any_brand=False):
    """The phone-app tokens in the files the shared credentials get for the victim's MAC, asked for as
    its own brand (or, `any_brand`, as every brand)."""
    brands = PHONES if any_brand else [target.brand]
    answers = []
    for brand in brands:
        spy = PHONES[brand](client, target.mac, ip=ATTACKER)
        for name in device_files(target):
            answers.append((name, spy.fetch(name)))
    tokens = {token for _, response in answers if response.status_code == 200 for token in tokens_in(response.data)}
    return tokens, answers


def _app_agents(target):
    return [NEUTRAL_AGENT, target.phone.browser_user_agent or target.phone.user_agent]


@pytest.mark.parametrize("brand", VICTIM_BRANDS)
def test_a_token_from_the_guest_file_cannot_see_who_sits_there_or_log_them_out(office, client, brand):
    target = victim(office, brand)
    tokens, answers = _stolen_tokens(client, target, any_brand=True)
    if brand != "digium":  # Digium's files carry no keys; a token for it could come only from another brand's
        assert tokens, "the guest file carries no phone-app key: nothing to steal"
    for token in tokens:
        for agent in _app_agents(target):
            menu = _attacker_get(client, f"/phone/{token}/menu", agent)
            answers.append(("menu", menu))
            assert target.name.encode() not in menu.data, f"{brand}: the menu tells the attacker who sits there"
            reloaded = _attacker_get(client, f"/phone/{token}/reloaded", agent)
            answers.append(("reloaded", reloaded))
            assert target.name.encode() not in reloaded.data, f"{brand}: /reloaded tells the attacker who sits there"
            for url in re.findall(rb"/phone/[^\s\"'<>&]+/logout/[^\s\"'<>&]+", menu.data):
                answers.append(("logout", _attacker_get(client, url.decode(), agent)))
    assert_unharmed(office, answers)


@pytest.mark.parametrize("brand", VICTIM_BRANDS)
def test_a_token_from_the_guest_file_cannot_replace_the_login_on_the_victims_phone(office, client, brand):
    target = victim(office, brand)
    tokens, answers = _stolen_tokens(client, target, any_brand=brand == "digium")  # Digium has no keys of its own
    for token in tokens:
        for agent in _app_agents(target):
            for address in ("external", "internal"):
                form = _attacker_get(client, f"/phone/{token}/login/{address}", agent)
                answers.append(("login form", form))
                for url in _submit_urls(form.data):
                    answer = _attacker_get(
                        client, _fill(url, ATTACKER_EXTENSION, ATTACKER_PIN), agent
                    )  # the attacker's own, valid, extension and PIN
                    answers.append(("login submit", answer))
                    for page in re.findall(rb"/phone/[^\s\"'<>&]+/configuration/[^\s\"'<>&]+", answer.data):
                        answers.append(("configuration", _attacker_get(client, page.decode(), agent)))
                override = _attacker_get(
                    client, f"/phone/{token}/login/{address}/override?number={ATTACKER_EXTENSION}", agent
                )
                answers.append(("override form", override))
                for url in _submit_urls(override.data):
                    answers.append(
                        ("override", _attacker_get(client, _fill(url, ATTACKER_EXTENSION, ATTACKER_PIN), agent))
                    )
    assert_in_place(office)  # first: nobody logged out or replaced, no NOTIFY to the attacker
    assert_unharmed(office, answers)


@pytest.mark.parametrize("brand", ["aastra", "snom"])
def test_configuration_pages_of_a_victim_are_closed_to_a_stolen_token(office, client, brand):
    """The brands whose login answer pushes the configuration: its pages carry the user's line."""
    target = victim(office, brand)
    tokens, answers = _stolen_tokens(client, target)
    for token in tokens:
        for state in ("x", "0" * 40, token):
            for page in (1, 2):
                for agent in _app_agents(target):
                    answers.append(
                        ("page", _attacker_get(client, f"/phone/{token}/configuration/{state}/{page}", agent))
                    )
    assert_unharmed(office, answers)


def _submit_urls(body: bytes) -> list[str]:
    """The answer URLs of a login form, in any brand's dialect (with the placeholders Snom writes)."""
    return [
        u.decode().replace("&amp;", "&")
        for u in re.findall(rb"/phone/[^\s\"'<>]+/submit/[^\s\"'<>?]+[^\s\"'<>]*", body)
    ]


def _fill(url: str, extension: str, password: str) -> str:
    path = urlsplit(url).path
    return f"{path}?extension={extension}&password={password}"


# Minted phones: new MACs from one address.


@pytest.mark.parametrize("admission", ["open", "approve"], indirect=True)
def test_pin_spraying_across_minted_phones_is_bounded_per_extension(office, client, session, admission):
    target = victim(office, "yealink")
    wrong, checked, answers = 0, 0, []
    for index in range(12):
        minted = mint_phone(client, index)
        served_keys = minted.keys()
        if "External" not in served_keys:
            continue  # not served a login key at all: nothing to guess with
        form = minted.press("External")
        for guess in range(3):
            answer = minted.submit(form, extension=target.number, password=f"{9100 + index * 3 + guess}")
            answers.append(("guess", minted.last_response))
            wrong += 1
            if "Wrong password" in minted.text(answer):
                checked += 1
    assert checked <= 5, f"{checked} of {wrong} guesses at {target.number}'s PIN were checked"
    # The sprayer's next guess is the right PIN: it must not log in (the guesses are bounded, not just counted).
    last = mint_phone(client, 99)
    served_keys = last.keys()
    if "External" in served_keys:
        answer = last.submit(last.press("External"), extension=target.number, password=target.pin)
        answers.append(("right PIN", last.last_response))
        assert "Welcome" not in last.text(answer), "the sprayer logged in with the victim's PIN after bounded guesses"
    assert_no_leak(office, answers)
    assert_in_place(office)  # whether the real user may still log in meanwhile: the next test


def test_the_real_user_still_logs_in_at_their_own_phone_while_a_sprayer_is_locked_out(office, client):
    target = victim(office, "polycom")
    for index in range(4):
        minted = mint_phone(client, index)
        form = minted.press("External")
        for guess in range(3):
            minted.submit(form, extension=target.number, password=f"{7100 + guess}")
    assert_not_locked_out(office, only=[target])


def test_a_phone_locked_by_failures_on_it_does_not_lock_out_the_extensions_typed_on_it(office, client):
    minted = mint_phone(client, 0)
    form = minted.press("External")
    for guess in range(6):  # the minted phone locks itself
        minted.submit(form, extension="9999", password=f"{5500 + guess}")
    answers = []
    for target in office.victims:  # refused because the phone is locked: none of these may count against them
        for guess in range(6):
            minted.submit(form, extension=target.number, password=f"{6600 + guess}")
            answers.append(("locked phone", minted.last_response))
    assert_unharmed(office, answers)


def test_minting_phones_from_one_address_is_limited(client, session, office):
    set_setting(session, "new_devices_per_minute", "20")
    minted = [mint_phone(client, index) for index in range(30)]
    issued = [p.mac for p in minted if p.credentials != PROVISIONING]
    known = session.scalars(select(Device.mac).where(Device.mac.startswith(MINTED_PREFIX))).all()
    assert len(known) <= 20 and len(issued) <= 20, f"{len(known)} MACs made known, {len(issued)} issued credentials"
    assert_unharmed(office, [])


@pytest.mark.parametrize("admission", ["approve"], indirect=True)
def test_a_new_phone_fetched_first_from_elsewhere_is_not_claimed_by_the_attacker(office, client, app, admission):
    from hotdesk.admin import AdminError
    from hotdesk.admin import phones as admin_phones

    mac = "001565ace001"
    claimant, real = PHONES["yealink"](client, mac, ip=ATTACKER), PHONES["yealink"](client, mac, ip="10.20.0.77")
    answers = [(name, claimant.fetch(name)) for name in claimant.provisioning_files()]  # the attacker is first
    real.boot()
    answers += [(name, claimant.fetch(name)) for name in claimant.provisioning_files()]  # and last
    for name, response in answers:
        assert b"auto_provision.server.password" not in response.data, f"{name}: a waiting phone's credentials issued"
    with app.extensions["hotdesk"].sessions() as session:
        # The admin admits the phone on the Phones page; if hotdesk asks where, the admin says where the phone is.
        try:
            admin_phones.admit(session, mac, "ann")
        except AdminError:
            session.rollback()
            admin_phones.admit(session, mac, "ann", address=real.ip)
        session.commit()
    answers += [(name, claimant.fetch(name)) for name in claimant.provisioning_files()]
    real.boot()
    answers += [(name, claimant.fetch(name)) for name in claimant.provisioning_files()]
    for name, response in answers:
        assert b"auto_provision.server.password" not in response.data, f"{name}: credentials issued to the attacker"
    assert real.credentials != PROVISIONING, "the real phone was not issued its credentials once admitted"
    assert_unharmed(office, answers)


# Stolen and replayed Digest answers.


def test_a_captured_digest_answer_of_a_victims_phone_cannot_be_replayed(office, client, unlimited):
    target = victim(office, "yealink")
    name = f"{target.mac}.cfg"
    own = Digest(client, *target.phone.credentials, ip=target.phone.ip)
    first = own.get(f"/provision/{name}", target.phone.user_agent)
    assert first.status_code == 200 and target.secret.encode() in first.data  # the phone itself
    replay = client.get(
        f"/provision/{name}",
        headers={"User-Agent": target.phone.user_agent, "Authorization": own.last_authorization},
        environ_base={"REMOTE_ADDR": ATTACKER},
    )
    assert replay.status_code == 401, "a captured Digest answer was accepted a second time"
    assert_unharmed(office, [("replay", replay)])


def test_a_digest_answer_without_qop_is_refused(office, client):
    target = victim(office, "yealink")
    for credentials in (PROVISIONING, target.phone.credentials):
        digest = Digest(client, *credentials, ip=ATTACKER, qop=False)
        answer = digest.get(f"/provision/{target.mac}.cfg", target.phone.user_agent)
        assert answer.status_code == 401, f"a qop-less Digest answer for {credentials[0]} was accepted"
        assert_no_leak(office, [("qop-less", answer)])


# Reusing a phone-app answer URL after the login or logout it belonged to.


@pytest.mark.parametrize("brand", ["yealink", "cisco_sip", "aastra"])
def test_a_captured_login_answer_url_is_useless_after_the_login_and_the_logout(office, client, session, brand):
    target = victim(office, brand)
    phone = target.phone
    menu = phone.press("Logout")
    logout_url = phone.menu_items(menu)["Logout"]
    phone.apply_reload(phone.choose(menu, "Logout"))
    phone.boot()
    form = phone.press("External")
    submit = phone.submit_url(form, {"extension": target.number, "password": target.pin})
    phone.apply_reload(phone.open(submit))  # the user logs in; the attacker captured the URL (PIN and all)
    phone.boot()
    answers = []
    for agent in (NEUTRAL_AGENT, phone.browser_user_agent or phone.user_agent):
        answers.append(("replayed logout", _attacker_get(client, logout_url, agent)))
        answers.append(("replayed login", _attacker_get(client, submit, agent)))
    assert_unharmed(office, answers)

    phone.apply_reload(phone.choose(phone.press("Logout"), "Logout"))  # the user leaves
    for agent in (NEUTRAL_AGENT, phone.browser_user_agent or phone.user_agent):
        answer = _attacker_get(client, submit, agent)
        assert_no_leak(office, [("replayed login after logout", answer)])
    session.expire_all()
    device = session.scalar(select(Device).where(Device.mac == target.mac))
    assert device.mapping is None, "a replayed answer URL logged the user in again after they left"


# NOTIFY goes to the device's known address, never to whoever asked last.


@pytest.mark.parametrize("logout", ["by an admin", "timed"])
def test_a_logout_from_elsewhere_notifies_the_victims_phone_not_the_address_that_fetched_last(
    office, client, app, notifier, logout
):
    from hotdesk import scheduler
    from hotdesk.admin import phones as admin_phones

    hotdesk = app.extensions["hotdesk"]
    answers = []
    for target in office.victims:
        for name in device_files(target):
            answers.append(
                (name, _attacker_get(client, f"/provision/{name}", target.phone.user_agent, auth=PROVISIONING))
            )
    assert_no_leak(office, answers)
    hotdesk.sightings.flush()
    before = len(notifier.sent)
    with hotdesk.sessions() as session:
        if logout == "by an admin":
            for target in office.victims:
                admin_phones.force_logout(session, hotdesk.settings, hotdesk.notifier, target.mac, "ann")
            session.commit()  # the edge commits; the NOTIFYs go out after it
        else:
            for mapping in session.scalars(select(Mapping)):
                mapping.expires_at = utcnow() - timedelta(seconds=1)
            session.commit()
            assert scheduler.auto_logout(hotdesk.sessions, hotdesk.settings, hotdesk.notifier) == len(office.victims)
    sent = notifier.sent[before:]
    assert sent and all(r.host != ATTACKER for r in sent), [(r.brand, r.reason) for r in sent if r.host == ATTACKER]
    for request in sent:
        assert request.host == office.by_mac[request.mac].phone.ip


@pytest.mark.parametrize("brand", ["fanvil", "cisco_sip"])
def test_a_login_elsewhere_notifies_the_displaced_phone_not_the_attacker(office, client, notifier, brand):
    target = victim(office, brand)
    for name in device_files(target):  # the attacker fetched last, with the victim's User-Agent
        _attacker_get(client, f"/provision/{name}", target.phone.user_agent, auth=PROVISIONING)
    client.application.extensions["hotdesk"].sightings.flush()
    elsewhere = PHONES["yealink"](client, "001565ee0001", ip="10.20.9.9")
    before = len(notifier.sent)
    elsewhere.login(target.number, target.pin)  # auto_logout: the victim's own phone is told
    hosts = [request.host for request in notifier.sent[before:]]
    assert ATTACKER not in hosts and target.phone.ip in hosts, hosts


# Denial of service through the victim's name: the attacker's failures must not shut the victim's phone out.


def test_failed_provisioning_logins_naming_a_victim_do_not_shut_out_the_victims_phone(office, client):
    answers = []
    for target in office.victims:
        user = target.provisioning_username or PROVISIONING[0]
        for attempt in range(40):
            answers.append(
                (
                    "wrong password",
                    _attacker_get(
                        client,
                        f"/provision/{device_files(target)[attempt % 3]}",
                        target.phone.user_agent,
                        auth=(user if attempt % 2 else PROVISIONING[0], f"guess-{attempt}"),
                    ),
                )
            )
    assert all(response.status_code in (401, 403, 404, 429) for _, response in answers)
    assert_unharmed(office, answers)  # every victim's phone fetched its line, every user logged in again


def test_the_attacker_cannot_spend_a_victims_phone_app_budget(office, client):
    answers = []
    for target in office.victims:
        if not getattr(target.phone, "has_login_app", True):
            continue
        tokens, stolen_from = _stolen_tokens(client, target)
        answers += stolen_from
        for attempt in range(130):
            token = sorted(tokens)[attempt % len(tokens)]
            answers.append(("hammer", _attacker_get(client, f"/phone/{token}/login/external", NEUTRAL_AGENT)))
    assert_no_leak(office, answers)
    assert_not_locked_out(office)  # each user at their own phone: not answered "too many requests"


@pytest.mark.parametrize("brand", ["yealink", "aastra"])
def test_pin_spraying_through_the_users_own_phone_from_elsewhere_leaves_them_their_desk(office, client, brand):
    """The user went home (their phone is a guest again); its guest keys open the login app for anyone.
    Sprayed from elsewhere through the user's own phone, the guesses are bounded and the user still
    logs in at their desk the next morning."""
    target = victim(office, brand)
    phone = target.phone
    phone.apply_reload(phone.choose(phone.press("Logout"), "Logout"))
    phone.boot()
    tokens, answers = _stolen_tokens(client, target)
    checked = 0
    for guess in range(12):
        for token in sorted(tokens)[:1]:
            form = _attacker_get(client, f"/phone/{token}/login/external", NEUTRAL_AGENT)
            for url in _submit_urls(form.data):
                answer = _attacker_get(client, _fill(url, target.number, f"{4400 + guess}"), NEUTRAL_AGENT)
                answers.append(("spray", answer))
                checked += b"Wrong password" in answer.data
    assert checked <= 5, f"{checked} guesses at {target.number}'s PIN checked through its own phone"
    assert_no_leak(office, answers)
    answer = phone.submit(phone.press("External"), extension=target.number, password=target.pin)
    assert "Welcome" in phone.text(answer), f"the user is locked out of their own desk: {phone.text(answer)}"
    phone.apply_reload(answer)
    phone.boot()
    assert phone.line()["secret"] == target.secret

"""Digest answers cannot be replayed: qop=auth is required, each nonce's count must go up, and a
nonce is good only from the address and on the host it was issued to (hotdesk/web/http_auth.py).
A phone that counts up on one nonce across its boot's files gets every one of them."""

from __future__ import annotations

import hashlib

from werkzeug.datastructures import WWWAuthenticate

from tests.brands import EMULATORS
from tests.conftest import PROVISIONING, running_app
from tests.test_published_answers import line_file

UA = "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:01"
FILES = ("y000000000066.cfg", "001565aabb01.cfg")
PHONE_ADDRESS = "10.1.2.3"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def nonce_of(response) -> str:
    assert response.status_code == 401
    digest = next(h for h in response.headers.getlist("WWW-Authenticate") if h.startswith("Digest"))
    return WWWAuthenticate.from_header(digest).parameters["nonce"]


def is_stale(response) -> bool:
    digest = next(h for h in response.headers.getlist("WWW-Authenticate") if h.startswith("Digest"))
    return "stale=TRUE" in digest


def digest(uri: str, nonce: str, nc: int, credentials=PROVISIONING, qop: bool = True) -> str:
    user, password = credentials
    ha1, ha2 = md5(f"{user}:hotdesk:{password}"), md5(f"GET:{uri}")
    if not qop:  # RFC 2069: no count, no client nonce
        return (
            f'Digest username="{user}", realm="hotdesk", nonce="{nonce}", uri="{uri}", '
            f'response="{md5(f"{ha1}:{nonce}:{ha2}")}"'
        )
    answer = md5(f"{ha1}:{nonce}:{nc:08x}:c0ffee:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="hotdesk", nonce="{nonce}", uri="{uri}", qop=auth, nc={nc:08x}, '
        f'cnonce="c0ffee", response="{answer}", algorithm=MD5'
    )


def get(client, name: str, authorization: str | None = None, address: str = PHONE_ADDRESS):
    headers = {"User-Agent": UA} | ({"Authorization": authorization} if authorization else {})
    return client.get(f"/provision/{name}", headers=headers, environ_base={"REMOTE_ADDR": address})


def test_a_phone_counting_up_on_one_nonce_gets_every_file(client):
    nonce = nonce_of(get(client, FILES[0]))
    for nc, name in enumerate(FILES * 2, start=1):
        assert get(client, name, digest(f"/provision/{name}", nonce, nc)).status_code == 200


def test_an_answer_without_qop_is_refused(client):
    nonce = nonce_of(get(client, FILES[0]))
    assert get(client, FILES[0], digest(f"/provision/{FILES[0]}", nonce, 0, qop=False)).status_code == 401


def test_a_replayed_answer_is_refused_as_stale(client):
    nonce = nonce_of(get(client, FILES[1]))
    answer = digest(f"/provision/{FILES[1]}", nonce, 1)
    assert get(client, FILES[1], answer).status_code == 200
    replayed = get(client, FILES[1], answer)
    assert replayed.status_code == 401 and is_stale(replayed)  # the phone itself would simply answer anew
    assert get(client, FILES[1], digest(f"/provision/{FILES[1]}", nonce, 3)).status_code == 200
    assert get(client, FILES[1], digest(f"/provision/{FILES[1]}", nonce, 2)).status_code == 401  # went down


def test_a_nonce_is_good_only_from_the_address_it_was_issued_to(client):
    nonce = nonce_of(get(client, FILES[0]))
    elsewhere = get(client, FILES[0], digest(f"/provision/{FILES[0]}", nonce, 1), address="10.9.9.9")
    assert elsewhere.status_code == 401 and not is_stale(elsewhere)


def test_workers_of_one_host_share_the_counts(app, database_url, notifier, tmp_path):
    """A second app on the same instance directory is another gunicorn worker of the same host."""
    other_worker = next(running_app(database_url, notifier, tmp_path))
    nonce = nonce_of(get(app.test_client(), FILES[0]))
    answer = digest(f"/provision/{FILES[0]}", nonce, 1)
    assert get(app.test_client(), FILES[0], answer).status_code == 200
    assert get(other_worker.test_client(), FILES[0], answer).status_code == 401
    assert get(other_worker.test_client(), FILES[0], digest(f"/provision/{FILES[0]}", nonce, 2)).status_code == 200


def test_another_hosts_nonce_is_stale_and_its_fresh_one_works(app, database_url, notifier, tmp_path):
    other_host = next(running_app(database_url, notifier, tmp_path / "other-host"))
    nonce = nonce_of(get(app.test_client(), FILES[0]))
    refused = get(other_host.test_client(), FILES[0], digest(f"/provision/{FILES[0]}", nonce, 1))
    assert refused.status_code == 401 and is_stale(refused)
    fresh = nonce_of(refused)
    assert get(other_host.test_client(), FILES[0], digest(f"/provision/{FILES[0]}", fresh, 1)).status_code == 200


def test_a_replayed_answer_does_not_open_the_published_copy(publishing_app, extensions):
    client = publishing_app.test_client()
    phone = EMULATORS["snom"](client, "000413a1b2c3")
    phone.boot()
    name = line_file(phone)
    uri = f"/provision/{name}"
    assert phone.fetch(name).status_code == 200  # rendered and published for its own credentials
    headers = {"User-Agent": phone.user_agent}
    nonce = nonce_of(client.get(uri, headers=headers, environ_base={"REMOTE_ADDR": PHONE_ADDRESS}))
    answer = digest(uri, nonce, 1, credentials=phone.credentials)
    first = client.get(uri, headers=headers | {"Authorization": answer}, environ_base={"REMOTE_ADDR": PHONE_ADDRESS})
    assert first.status_code == 200
    again = client.get(uri, headers=headers | {"Authorization": answer}, environ_base={"REMOTE_ADDR": PHONE_ADDRESS})
    assert again.status_code == 401
